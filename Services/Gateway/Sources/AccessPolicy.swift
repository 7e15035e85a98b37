import Auth
import Contracts
import HTTPTypes
import ServiceKit

/// The contract's authorization rules, as a pure function of method, raw path and caller, built
/// from the one route table (`ShopRoutes`).
///
/// The gateway refuses early what the services would refuse; it is not the only check. Each
/// service decides again from the token it receives and the path and body it parses itself
/// (the gateway forwards both unchanged), so the two can never act on different readings.
package struct AccessPolicy: Sendable {
    package enum Decision: Equatable, Sendable {
        /// The gateway's own route (`/health`, `/ready`, `/openapi.yaml`).
        case own
        case forward(ShopService)
        case unauthenticated
        case forbidden(String)
        case badRequest(String, field: String? = nil)
        case notFound
        case methodNotAllowed(allowed: [HTTPRequest.Method])
    }

    /// Routes grouped by path template, the most specific template first (a literal segment
    /// outranks a parameter at the same place: `/basket/checkout` before `/basket/{userName}`).
    let templates: [(segments: [Substring], routes: [Route])]
    /// The gateway's own path templates, answered without authentication.
    package let ownPaths: Set<String>

    package init(routes: [Route] = ShopRoutes.all) {
        var byPath: [String: [Route]] = [:]
        var order: [String] = []
        for route in routes {
            if byPath[route.path] == nil { order.append(route.path) }
            byPath[route.path, default: []].append(route)
        }
        templates = order.map { (segments: byPath[$0]![0].segments, routes: byPath[$0]!) }
            .sorted { Self.moreSpecific($0.segments, than: $1.segments) }
        let own = routes.filter { $0.service == .gateway }
        ownPaths = Set(own.map(\.path))
        ownFirstSegments = Set(own.map { String($0.segments[0]) })
    }

    let ownFirstSegments: Set<String>

    /// For a path of the gateway's own routes: `.own`, or why not (405); nil for every other path.
    package func ownDecision(method: HTTPRequest.Method, path: String) -> Decision? {
        let first = path.dropFirst().prefix { $0 != "/" }
        guard ownFirstSegments.contains(String(first)) else { return nil }
        let resolved = resolve(method: method, path: path, identity: nil)
        guard let template = resolved.template, ownPaths.contains(template) else { return nil }
        return resolved.decision
    }

    static func isParameter(_ segment: Substring) -> Bool { segment.hasPrefix("{") && segment.hasSuffix("}") }

    static func moreSpecific(_ a: [Substring], than b: [Substring]) -> Bool {
        for (x, y) in zip(a, b) where isParameter(x) != isParameter(y) { return !isParameter(x) }
        return false
    }

    /// `path` is the raw, still percent-encoded path of the request target.
    package func decide(method requested: HTTPRequest.Method, path: String, identity: Identity?) -> Decision {
        resolve(method: requested, path: path, identity: identity).decision
    }

    /// The decision and the route template the path matched (nil when none), from one match.
    package func resolve(method requested: HTTPRequest.Method, path: String, identity: Identity?) -> (decision: Decision, template: String?) {
        // HEAD is GET without the body, wherever GET is allowed.
        let method = requested == .head ? .get : requested
        guard path.hasPrefix("/") else { return (.badRequest("the request target must be an absolute path"), nil) }
        var segments = path.dropFirst().split(separator: "/", omittingEmptySubsequences: false)
        if segments.count > 1, segments.last == "" { segments.removeLast() }
        // Paths that a server might normalise differently (`//x`, `/./x`, `/a/../x`) are refused.
        if segments != [""], segments.contains(where: { $0.isEmpty || $0 == "." || $0 == ".." }) {
            return (.badRequest("the path has empty, '.' or '..' segments"), nil)
        }
        guard let template = templates.first(where: { Self.matches($0.segments, segments) }) else { return (.notFound, nil) }
        return (authorize(method: method, template: template, segments: segments, identity: identity), template.routes[0].path)
    }

    func authorize(method: HTTPRequest.Method, template: (segments: [Substring], routes: [Route]), segments: [Substring], identity: Identity?) -> Decision {
        guard let route = template.routes.first(where: { $0.method == method }) else {
            return .methodNotAllowed(allowed: template.routes.map(\.method))
        }
        if route.service == .gateway { return .own }
        let userName = template.segments.firstIndex(of: "{userName}").map { segments[$0] }
        switch route.access.refusal(identity: identity, pathUserName: userName) {
        case nil: return .forward(route.service)
        case .badRequest(let detail, let field): return .badRequest(detail, field: field)
        case .unauthenticated: return .unauthenticated
        case .forbidden(let detail, _): return .forbidden(detail)
        }
    }

    static func matches(_ template: [Substring], _ segments: [Substring]) -> Bool {
        template.count == segments.count && zip(template, segments).allSatisfy { isParameter($0) || $0 == $1 }
    }
}
