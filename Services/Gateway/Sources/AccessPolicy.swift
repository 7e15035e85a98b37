import Auth
import HTTPTypes

/// Which service a request goes to.
package enum Upstream: String, Sendable, CaseIterable {
    case product, basket, ordering
}

/// The contract's authorization rules, as a pure function of method, path and caller.
package enum AccessPolicy {
    package enum Decision: Equatable, Sendable {
        /// Forward; when `bodyUserMustBeCaller`, the JSON body's `userName` must be the caller's.
        case forward(Upstream, bodyUserMustBeCaller: Bool)
        case unauthenticated
        case forbidden(String)
        case notFound
        case methodNotAllowed
    }

    package static func decide(method: HTTPRequest.Method, path: String, identity: Identity?) -> Decision {
        let segments = path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        switch (segments.first, segments.count) {
        case ("product", 1), ("product", 2):
            switch method {
            case .get, .head: return .forward(.product, bodyUserMustBeCaller: false)
            case .post where segments.count == 1, .put where segments.count == 2, .delete where segments.count == 2:
                return admin(identity, .product)
            default: return .methodNotAllowed
            }
        case ("basket", 1):
            switch method {
            case .get: return admin(identity, .basket)
            case .post: return caller(identity, .basket)
            default: return .methodNotAllowed
            }
        case ("basket", 2) where segments[1] == "checkout":
            return method == .post ? caller(identity, .basket) : .methodNotAllowed
        case ("basket", 2):
            guard method == .get || method == .delete else { return .methodNotAllowed }
            return owner(identity, segments[1], .basket)
        case ("order", 1):
            return method == .get ? admin(identity, .ordering) : .methodNotAllowed
        case ("order", 2):
            return method == .get ? owner(identity, segments[1], .ordering) : .methodNotAllowed
        default:
            return .notFound
        }
    }

    static func admin(_ identity: Identity?, _ upstream: Upstream) -> Decision {
        guard let identity else { return .unauthenticated }
        return identity.isAdmin ? .forward(upstream, bodyUserMustBeCaller: false) : .forbidden("this needs the admin group")
    }

    static func owner(_ identity: Identity?, _ userName: String, _ upstream: Upstream) -> Decision {
        guard let identity else { return .unauthenticated }
        if identity.isAdmin || identity.userName == userName.removingPercentEncoding { return .forward(upstream, bodyUserMustBeCaller: false) }
        return .forbidden("\(identity.userName) may not reach the data of another user")
    }

    static func caller(_ identity: Identity?, _ upstream: Upstream) -> Decision {
        guard let identity else { return .unauthenticated }
        return .forward(upstream, bodyUserMustBeCaller: !identity.isAdmin)
    }
}
