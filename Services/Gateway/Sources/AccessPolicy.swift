import HTTPTypes
import ServiceKit

/// Which service a request goes to.
package enum Upstream: String, Sendable, CaseIterable {
    case product, basket, ordering
}

/// The contract's authorization rules, as a pure function of method, raw path and caller.
///
/// The gateway refuses early what the services would refuse; it is not the only check. Each
/// service decides again from the token it receives and the path and body it parses itself
/// (the gateway forwards both unchanged), so the two can never act on different readings.
package enum AccessPolicy {
    package enum Decision: Equatable, Sendable {
        case forward(Upstream)
        case unauthenticated
        case forbidden(String)
        case badRequest(String, field: String? = nil)
        case notFound
        case methodNotAllowed(allowed: [HTTPRequest.Method])
    }

    /// `path` is the raw, still percent-encoded path of the request target.
    package static func decide(method requested: HTTPRequest.Method, path: String, identity: Identity?) -> Decision {
        // HEAD is GET without the body, wherever GET is allowed.
        let method = requested == .head ? .get : requested
        guard path.hasPrefix("/") else { return .badRequest("the request target must be an absolute path") }
        var segments = path.dropFirst().split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        if segments.count > 1, segments.last == "" { segments.removeLast() }
        // Paths that a server might normalise differently (`//x`, `/./x`, `/a/../x`) are refused.
        if segments.contains(where: { $0.isEmpty || $0 == "." || $0 == ".." }) {
            return segments == [""] ? .notFound : .badRequest("the path has empty, '.' or '..' segments")
        }
        switch (segments[0], segments.count) {
        case ("product", 1):
            switch method {
            case .get: return .forward(.product)
            case .post: return admin(identity, .product)
            default: return .methodNotAllowed(allowed: [.get, .post])
            }
        case ("product", 2):
            switch method {
            case .get: return .forward(.product)
            case .put, .delete: return admin(identity, .product)
            default: return .methodNotAllowed(allowed: [.get, .put, .delete])
            }
        case ("basket", 1):
            switch method {
            case .get: return admin(identity, .basket)
            case .post: return caller(identity, .basket)
            default: return .methodNotAllowed(allowed: [.get, .post])
            }
        case ("basket", 2) where segments[1] == "checkout":
            return method == .post ? caller(identity, .basket) : .methodNotAllowed(allowed: [.post])
        case ("basket", 2):
            guard [.get, .delete].contains(method) else { return .methodNotAllowed(allowed: [.get, .delete]) }
            return owner(identity, segments[1], .basket)
        case ("order", 1):
            return method == .get ? admin(identity, .ordering) : .methodNotAllowed(allowed: [.get])
        case ("order", 2):
            return method == .get ? owner(identity, segments[1], .ordering) : .methodNotAllowed(allowed: [.get])
        default:
            return .notFound
        }
    }

    static func admin(_ identity: Identity?, _ upstream: Upstream) -> Decision {
        guard let identity else { return .unauthenticated }
        return identity.isAdmin ? .forward(upstream) : .forbidden("this needs the admin group")
    }

    static func owner(_ identity: Identity?, _ rawUserName: String, _ upstream: Upstream) -> Decision {
        guard let userName = PathUserName.decode(rawUserName) else {
            return .badRequest("userName must be a percent-encoded user name of 1 to \(UserNameRules.maximumLength) characters without whitespace or control characters", field: "userName")
        }
        guard let identity else { return .unauthenticated }
        return identity.mayActFor(userName) ? .forward(upstream) : .forbidden("\(identity.userName) may not reach the data of another user")
    }

    /// The service checks the body's `userName` against the token itself; the gateway does not read bodies.
    static func caller(_ identity: Identity?, _ upstream: Upstream) -> Decision {
        identity == nil ? .unauthenticated : .forward(upstream)
    }
}
