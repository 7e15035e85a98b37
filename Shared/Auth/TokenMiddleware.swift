import AsyncHTTPClient
import Hummingbird
import Logging
import ServiceKit

/// Verifies the request's Bearer token and puts the caller in `context.identity`.
///
/// Every service runs this itself: the services never trust a header, path or body for who the
/// caller is, so a request that reaches a service without the gateway gets exactly what its token
/// allows (an anonymous caller without one). A token that is present but invalid is a 401.
package struct TokenMiddleware: RouterMiddleware {
    package typealias Context = AppRequestContext
    let verifier: TokenVerifier

    package init(verifier: TokenVerifier) {
        self.verifier = verifier
    }

    package func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        context.identity = try await Self.authenticate(request, verifier: verifier, logger: context.logger)
        return try await next(request, context)
    }

    /// The caller of `request`: nil without an `Authorization` header, 401 for anything but a valid
    /// Bearer token, 503 when the pool's keys cannot be fetched.
    package static func authenticate(_ request: Request, verifier: TokenVerifier, logger: Logger) async throws -> Identity? {
        guard let header = request.headers[.authorization] else { return nil }
        guard header.count > 7, header.prefix(7).lowercased() == "bearer " else {
            throw Problem.unauthorized("Authorization must be a Bearer token")
        }
        let token = header.dropFirst(7).trimmingCharacters(in: .whitespaces)
        do {
            return try await verifier.verify(token)
        } catch let rejected as TokenRejected {
            logger.info("token rejected", metadata: ["reason": "\(rejected.reason)"])
            throw Problem.unauthorized("the token is not valid")
        } catch is KeysUnavailable {
            throw Problem(.serviceUnavailable, detail: "the identity provider's keys are unavailable")
        }
    }
}

extension Router where Context == AppRequestContext {
    /// Puts the token check in front of every route of a service.
    package func addTokenMiddleware(_ configuration: TokenVerifier.Configuration, httpClient: HTTPClient, logger: Logger) {
        add(middleware: TokenMiddleware(verifier: TokenVerifier(configuration: configuration, httpClient: httpClient, logger: logger)))
    }
}
