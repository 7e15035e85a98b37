import Auth
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import ServiceKit

/// Authenticates, authorizes and forwards every request that is not the gateway's own
/// (`/health`, `/ready`).
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
            identity = try await authenticate(request, logger: logger)
            response = try await route(request, identity: identity, requestID: requestID, context: context, logger: logger)
        } catch {
            response = ProblemMiddleware<Context>.problem(for: error).makeResponse()
            if response.status == .unauthorized { response.headers[.wwwAuthenticate] = "Bearer" }
        }
        response.headers[HTTPField.Name("X-Request-Id")!] = requestID
        let elapsed = ContinuousClock.now - start
        logger.info("access", metadata: [
            "method": "\(request.method.rawValue)", "path": "\(request.uri.path)", "status": "\(response.status.code)",
            "user": "\(identity?.userName ?? "-")", "durationMs": "\(elapsed.components.attoseconds / 1_000_000_000_000_000 + elapsed.components.seconds * 1000)",
        ])
        return response
    }

    func authenticate(_ request: Request, logger: Logger) async throws -> Identity? {
        guard let header = request.headers[.authorization] else { return nil }
        guard header.lowercased().hasPrefix("bearer ") else { throw Problem(.unauthorized, detail: "Authorization must be a Bearer token") }
        let token = String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces)
        do {
            return try await verifier.verify(token)
        } catch let rejected as TokenRejected {
            logger.info("token rejected", metadata: ["reason": "\(rejected.reason)"])
            throw Problem(.unauthorized, detail: "the token is not valid")
        } catch is KeysUnavailable {
            throw Problem(.serviceUnavailable, detail: "the identity provider's keys are unavailable")
        }
    }

    func route(_ request: Request, identity: Identity?, requestID: String, context: Context, logger: Logger) async throws -> Response {
        switch AccessPolicy.decide(method: request.method, path: request.uri.path, identity: identity) {
        case .unauthenticated:
            throw Problem(.unauthorized, detail: "this needs a Bearer token")
        case .forbidden(let reason):
            throw Problem(.forbidden, detail: reason)
        case .notFound:
            throw Problem(.notFound, detail: "no route for \(request.uri.path)")
        case .methodNotAllowed:
            throw Problem(.methodNotAllowed, detail: "\(request.method.rawValue) is not allowed on \(request.uri.path)")
        case .forward(let upstream, let bodyUserMustBeCaller):
            var body: ByteBuffer?
            if bodyUserMustBeCaller, let identity {
                // The body is read (bounded) to check whose basket it is; other bodies are streamed.
                let buffer = try await request.body.collect(upTo: context.maxUploadSize)
                if let object = try? JSONSerialization.jsonObject(with: Data(buffer: buffer)) as? [String: Any],
                   let userName = object["userName"] as? String, userName != identity.userName {
                    throw Problem(.forbidden, detail: "\(identity.userName) may not act for \(userName)", field: "userName")
                }
                body = buffer
            }
            return try await proxy.forward(request, to: upstream, identity: identity, requestID: requestID, body: body, logger: logger)
        }
    }

    /// The client's `X-Request-Id` when it is short and plain, else a new one.
    static func requestID(_ request: Request) -> String {
        if let given = request.headers[HTTPField.Name("X-Request-Id")!], (1...128).contains(given.count),
           given.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.:".contains($0)) }) {
            return given
        }
        return UUID().uuidString.lowercased()
    }
}
