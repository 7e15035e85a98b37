import HTTPTypes

/// One HTTP operation of the public API: which service serves it and who may call it. Each service
/// declares its routes in `Services.swift`, the only declaration: the gateway's policy is built from
/// them, and tests fail when a service's router, `deploy/openapi.yaml` or the README's route table
/// differs.
package struct Route: Sendable, Hashable, CustomStringConvertible {
    package enum Access: String, Sendable, Hashable, CaseIterable {
        /// No token needed.
        case anyone
        /// Any signed-in user; a `userName` in the body must be the caller's (the service checks it).
        case signedIn
        /// The user named by the `{userName}` path parameter, or an admin.
        case owner
        /// Members of the `admin` group.
        case admin
    }

    /// A route as its service declares it.
    package struct Declaration: Sendable, Hashable {
        package let method: HTTPRequest.Method
        package let path: String
        package let access: Access
        /// The largest body it takes when more than the 1 MiB every route takes (uploads).
        package let maximumBody: Int?

        package init(_ method: HTTPRequest.Method, _ path: String, _ access: Access, maximumBody: Int? = nil) {
            self.method = method
            self.path = path
            self.access = access
            self.maximumBody = maximumBody
        }
    }

    package let method: HTTPRequest.Method
    /// An OpenAPI path template: `/basket/{userName}`.
    package let path: String
    package let service: ShopService
    package let access: Access
    package let maximumBody: Int?

    package init(_ method: HTTPRequest.Method, _ path: String, _ service: ShopService, _ access: Access, maximumBody: Int? = nil) {
        self.method = method
        self.path = path
        self.service = service
        self.access = access
        self.maximumBody = maximumBody
    }

    /// Whether `path` (a request's, without its query) is this route's template filled in.
    package func matches(method: HTTPRequest.Method, path: some StringProtocol) -> Bool {
        let given = path.dropFirst().split(separator: "/", omittingEmptySubsequences: false)
        return method == self.method && given.count == segments.count
            && zip(segments, given).allSatisfy { template, value in template.hasPrefix("{") ? !value.isEmpty : template == value }
    }

    /// The path's segments, `{name}` for a parameter.
    package var segments: [Substring] { path.dropFirst().split(separator: "/", omittingEmptySubsequences: false) }

    package var description: String { "\(method.rawValue) \(path)" }
}

package enum ShopRoutes {
    /// Every route of every service, in the order of `ShopService.all`.
    package static let all: [Route] = ShopService.all.flatMap { service in
        service.routes.map { Route($0.method, $0.path, service, $0.access, maximumBody: $0.maximumBody) }
    }

    /// The largest body a request to `path` may have: its route's, else 1 MiB.
    package static func maximumBody(method: HTTPRequest.Method, path: some StringProtocol) -> Int {
        all.first { $0.maximumBody != nil && $0.matches(method: method, path: path) }?.maximumBody ?? defaultMaximumBody
    }

    package static let defaultMaximumBody = 1 << 20

    /// The services the gateway forwards to.
    package static var upstreams: [ShopService] {
        var seen: [ShopService] = []
        for route in all where route.service != .gateway && !seen.contains(route.service) { seen.append(route.service) }
        return seen
    }

    /// The README's route table (between `<!-- routes -->` markers), rendered from `all`.
    package static var markdownTable: String {
        let access: [Route.Access: String] = [
            .anyone: "anyone", .signedIn: "any signed-in user (a `userName` in the body must be the caller's, unless `admin`)",
            .owner: "that user, or group `admin`", .admin: "group `admin`",
        ]
        var lines = ["| method | path | service | who may call it |", "|---|---|---|---|"]
        for route in all {
            lines.append("| `\(route.method.rawValue)` | `\(route.path)` | \(route.service.executable) | \(access[route.access]!) |")
        }
        return lines.joined(separator: "\n")
    }
}
