import Auth
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import ServiceKit

/// Authenticates, authorizes and forwards every request that is not the gateway's own
/// (`/health`, `/ready`, `/openapi.yaml`).
package struct GatewayMiddleware: RouterMiddleware {
    package typealias Context = AppRequestContext
    let verifier: TokenVerifier
    let proxy: ReverseProxy
    static let ownPaths: Set<String> = ["/health", "/ready", "/openapi.yaml"]

    package func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if Self.ownPaths.contains(request.uri.path) { return try await next(request, context) }
        let requestID = Self.requestID(request)
        var logger = context.logger
        logger[metadataKey: "requestID"] = "\(requestID)"
        let start = ContinuousClock.now
        var identity: Identity?
        var response: Response
        do {
            identity = try await TokenMiddleware.authenticate(request, verifier: verifier, logger: logger)
            response = try await route(request, identity: identity, requestID: requestID, logger: logger)
        } catch {
            response = ProblemMiddleware<Context>.problem(for: error).makeResponse()
        }
        response.headers[.requestID] = requestID
        let elapsed = ContinuousClock.now - start
        logger.info("access", metadata: [
            "method": "\(request.method.rawValue)", "path": "\(request.uri.path)", "status": "\(response.status.code)",
            "user": "\(identity?.userName ?? "-")", "durationMs": "\(elapsed.components.attoseconds / 1_000_000_000_000_000 + elapsed.components.seconds * 1000)",
        ])
        return response
    }

    func route(_ request: Request, identity: Identity?, requestID: String, logger: Logger) async throws -> Response {
        // The request target goes upstream byte for byte; one with a fragment would lose it on the way
        // (and the service would answer another path than the one authorized here).
        let target = request.uri.description
        guard !target.contains("#") else { throw Problem.badRequest("the request target must not contain '#'") }
        switch AccessPolicy.decide(method: request.method, path: request.uri.path, identity: identity) {
        case .unauthenticated:
            throw Problem.unauthorized("this needs a Bearer token")
        case .forbidden(let reason):
            throw Problem.forbidden(reason)
        case .badRequest(let reason):
            throw Problem.badRequest(reason)
        case .notFound:
            throw Problem.notFound("no route for \(request.uri.path)")
        case .methodNotAllowed(let allowed):
            var problem = Problem(.methodNotAllowed, detail: "\(request.method.rawValue) is not allowed on \(request.uri.path)")
            problem.headers[.allow] = allowed.map(\.rawValue).joined(separator: ", ")
            throw problem
        case .forward(let upstream):
            return try await proxy.forward(request, target: target, to: upstream, requestID: requestID, logger: logger)
        }
    }

    /// The client's `X-Request-Id` when it is short and plain, else a new one.
    static func requestID(_ request: Request) -> String {
        if let given = request.headers[.requestID], (1...128).contains(given.count),
           given.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.:".contains($0)) }) {
            return given
        }
        return UUID().uuidString.lowercased()
    }
}

extension HTTPField.Name {
    static let requestID = Self("X-Request-Id")!
}
