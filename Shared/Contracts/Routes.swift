import HTTPTypes

/// One HTTP operation of the public API: which service serves it and who may call it. The table
/// below is the only declaration: the gateway's policy is built from it, and tests fail when a
/// service's router, `deploy/openapi.yaml` or the README's route table differs from it.
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

    package let method: HTTPRequest.Method
    /// An OpenAPI path template: `/basket/{userName}`.
    package let path: String
    package let service: ShopService
    package let access: Access

    package init(_ method: HTTPRequest.Method, _ path: String, _ service: ShopService, _ access: Access) {
        self.method = method
        self.path = path
        self.service = service
        self.access = access
    }

    /// The path's segments, `{name}` for a parameter.
    package var segments: [Substring] { path.dropFirst().split(separator: "/", omittingEmptySubsequences: false) }

    package var description: String { "\(method.rawValue) \(path)" }
}

package enum ShopRoutes {
    package static let all: [Route] = [
        Route(.get, "/product", .product, .anyone),
        Route(.post, "/product", .product, .admin),
        Route(.get, "/product/{id}", .product, .anyone),
        Route(.put, "/product/{id}", .product, .admin),
        Route(.delete, "/product/{id}", .product, .admin),

        Route(.get, "/basket", .basket, .admin),
        Route(.post, "/basket", .basket, .signedIn),
        Route(.post, "/basket/checkout", .basket, .signedIn),
        Route(.get, "/basket/{userName}", .basket, .owner),
        Route(.delete, "/basket/{userName}", .basket, .owner),

        Route(.get, "/order", .ordering, .admin),
        Route(.get, "/order/{userName}", .ordering, .owner),

        // The gateway's own.
        Route(.get, "/health", .gateway, .anyone),
        Route(.get, "/ready", .gateway, .anyone),
        Route(.get, "/openapi.yaml", .gateway, .anyone),
    ]

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
