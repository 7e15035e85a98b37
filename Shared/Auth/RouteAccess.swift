import Contracts
import Hummingbird
import ServiceKit

/// Why a caller may not call a route, as the route's declared access (`Route.Access`) decides it:
/// the one decision the gateway (`AccessPolicy`) and every service (`RouteAccessMiddleware`) make.
package enum AccessRefusal: Error, Equatable, Sendable {
    /// The path's `{userName}` is not a user name.
    case badRequest(String, field: String)
    /// No token where one is needed: 401.
    case unauthenticated
    /// A caller this route is not for: 403.
    case forbidden(String, field: String?)
}

extension Route.Access {
    /// nil when `identity` (nil: no token) may call a route of this access; `pathUserName` is the
    /// route's `{userName}` segment as sent (still percent-encoded; owner routes only).
    package func refusal(identity: Identity?, pathUserName raw: Substring?) -> AccessRefusal? {
        switch self {
        case .anyone:
            return nil
        case .signedIn:
            // A body's `userName` is the service's to check: the gateway does not read bodies.
            return identity == nil ? .unauthenticated : nil
        case .admin:
            guard let identity else { return .unauthenticated }
            return identity.isAdmin ? nil : .forbidden("this needs the admin group", field: nil)
        case .owner:
            guard let raw, let userName = PathUserName.decode(raw) else {
                return .badRequest(
                    "userName must be a percent-encoded user name of 1 to \(UserNameRules.maximumLength) characters without whitespace or control characters",
                    field: "userName"
                )
            }
            guard let identity else { return .unauthenticated }
            return identity.mayActFor(userName) ? nil : .forbidden("\(identity.userName) may not reach the data of another user", field: "userName")
        }
    }
}

extension AccessRefusal {
    package var problem: Problem {
        switch self {
        case .badRequest(let detail, let field): Problem.badRequest(detail, field: field)
        case .unauthenticated: Problem.unauthorized("this needs a Bearer token")
        case .forbidden(let detail, let field): Problem.forbidden(detail, field: field)
        }
    }
}

/// Each route of a service answers only to the callers its declaration allows (`Services.swift`):
/// the service enforces the same table as the gateway, from the token it verified itself
/// (`TokenMiddleware`, which runs first), so a request that bypasses the gateway gets no more. It
/// runs once the router has matched the route (it is a group's middleware: `routes(of:under:)`),
/// on the template the router matched, so no spelling of a path can reach a route unchecked. A
/// route the service serves but does not declare answers 404 (a test keeps the two equal).
package struct RouteAccessMiddleware: RouterMiddleware {
    package typealias Context = AppRequestContext
    let routes: [Route.Declaration]

    package init(service: ShopService) {
        self.routes = service.routes
    }

    package func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let method = request.method == .head ? .get : request.method
        guard let template = context.endpointPath, let route = routes.first(where: { $0.method == method && $0.path == template }) else {
            context.logger.error("a route without a declaration in Services.swift", metadata: ["method": "\(request.method)", "route": "\(context.endpointPath ?? "")"])
            throw Problem.notFound("no such route")
        }
        if let refusal = route.access.refusal(identity: context.identity, pathUserName: context.parameters.get("userName").map { $0[...] }) {
            throw refusal.problem
        }
        return try await next(request, context)
    }
}

extension Router where Context == AppRequestContext {
    /// The group of `service`'s routes under `path`: reads carry no body (`serviceGroup`), and every
    /// route answers only to the callers its declared access allows (`RouteAccessMiddleware`).
    package func routes(of service: ShopService, under path: RouterPath) -> RouterGroup<Context> {
        serviceGroup(path).add(middleware: RouteAccessMiddleware(service: service))
    }
}
