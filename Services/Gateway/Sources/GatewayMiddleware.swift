import Auth
import Contracts
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Metrics
import NIOCore
import ServiceKit
import Tracing

/// Authenticates, authorizes and forwards every request that is not the gateway's own
/// (`/health`, `/ready`, `/openapi.yaml`).
package struct GatewayMiddleware: RouterMiddleware {
    package typealias Context = AppRequestContext
    let verifier: TokenVerifier
    let proxy: ReverseProxy
    let throttle: Throttle
    let bodyTimeout: Duration
    let policy: AccessPolicy
    /// Whose `X-Forwarded-For` names the client (`TRUSTED_PROXIES`; the load balancer's addresses).
    var trustedProxies: TrustedProxies = .none

    package func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if let own = policy.ownDecision(method: request.method, path: request.uri.path) {
            // The gateway's own routes (health, readiness, the OpenAPI file, the storefront's files) count
            // against the client's address like any anonymous call.
            try await throttle.admit(nil, address: context.clientAddress(of: request, trusting: trustedProxies))
            if case .own = own {
                try RequestHygiene<Context>.refuseBodyOnReads(request)
                return try await next(request, context)
            }
            throw Self.refusal(own, request: request) ?? Problem.notFound("no route for \(request.uri.path)")
        }
        // The request's server span, continuing the client's `traceparent`; named by the route template
        // once the route is known. The upstream call is its child (AsyncHTTPClient injects the header).
        var parent = ServiceContext.topLevel
        InstrumentationSystem.instrument.extract(request.headers, into: &parent, using: HTTPFieldsExtractor())
        return try await InstrumentationSystem.tracer.withSpan(request.method.rawValue, context: parent, ofKind: .server) { span in
            try await self.handle(request, context: context, span: span)
        }
    }

    func handle(_ request: Request, context: Context, span: any Span) async throws -> Response {
        let requestID = Self.requestID(request)
        var logger = context.logger
        logger[metadataKey: "requestID"] = "\(requestID)"
        let start = ContinuousClock.now
        var identity: Identity?
        var response: Response
        // The route template for the metrics; requests refused before routing (401, 429) count as `unmatched`.
        var template: String?
        let address = context.clientAddress(of: request, trusting: trustedProxies)
        do {
            do {
                identity = try await TokenMiddleware.authenticate(request, verifier: verifier, logger: logger)
            } catch {
                // A refused token counts against the client's address as an anonymous call does, so a
                // junk `Authorization` header is no way around the limit (429 once the bucket is empty).
                try await throttle.admit(nil, address: address)
                throw error
            }
            try await throttle.admit(identity, address: address)
            let resolved = policy.resolve(method: request.method, path: request.uri.path, identity: identity)
            template = resolved.template
            if let template {
                span.operationName = "\(request.method.rawValue) \(template)"
                span.attributes["http.route"] = template
            }
            response = try await route(request, decision: resolved.decision, requestID: requestID, context: context, logger: logger)
        } catch {
            response = ProblemMiddleware<Context>.problem(for: error).makeResponse()
        }
        response.headers[.requestID] = requestID
        let elapsed = ContinuousClock.now - start
        let dimensions = [
            ("http_route", template ?? "unmatched"), ("http_request_method", request.method.rawValue),
            ("http_response_status_code", String(response.status.code)),
        ]
        Counter(label: "gateway_requests", dimensions: dimensions).increment()
        Metrics.Timer(label: "gateway_request_duration_seconds", dimensions: dimensions, preferredDisplayUnit: .seconds)
            .recordNanoseconds(Int64(elapsed.components.seconds) * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000)
        logger.info("access", metadata: [
            "method": "\(request.method.rawValue)", "path": "\(request.uri.path)", "status": "\(response.status.code)",
            "user": "\(identity?.userName ?? "-")", "durationMs": "\(elapsed.components.attoseconds / 1_000_000_000_000_000 + elapsed.components.seconds * 1000)",
        ])
        span.attributes["http.request.method"] = request.method.rawValue
        span.attributes["http.response.status_code"] = Int(response.status.code)
        if response.status.code >= 500 { span.setStatus(SpanStatus(code: .error)) }
        return response
    }

    func route(_ request: Request, decision: AccessPolicy.Decision, requestID: String, context: Context, logger: Logger) async throws -> Response {
        // The request target goes upstream byte for byte; one with a fragment would lose it on the way
        // (and the service would answer another path than the one authorized here).
        let target = request.uri.description
        guard !target.contains("#") else { throw Problem.badRequest("the request target must not contain '#'") }
        if let refusal = Self.refusal(decision, request: request) { throw refusal }
        guard case .forward(let upstream) = decision else { throw Problem.notFound("no route for \(request.uri.path)") }
        try RequestHygiene<Context>.refuseBodyOnReads(request)
        let body = try await readBody(request, context: context)
        return try await proxy.forward(request, target: target, body: body, to: upstream, requestID: requestID, logger: logger)
    }

    /// The problem a decision answers with; nil when the request goes on.
    static func refusal(_ decision: AccessPolicy.Decision, request: Request) -> Problem? {
        switch decision {
        case .unauthenticated:
            return Problem.unauthorized("this needs a Bearer token")
        case .forbidden(let reason):
            return Problem.forbidden(reason)
        case .badRequest(let reason, let field):
            return Problem.badRequest(reason, field: field)
        case .notFound:
            return Problem.notFound("no route for \(request.uri.path)")
        case .methodNotAllowed(let allowed):
            var problem = Problem(.methodNotAllowed, detail: "\(request.method.rawValue) is not allowed on \(request.uri.path)")
            problem.headers[.allow] = (allowed.contains(.get) ? allowed + [.head] : allowed).map(\.rawValue).joined(separator: ", ")
            return problem
        case .own, .forward:
            return nil
        }
    }

    /// The whole body, read before an upstream connection is taken, so that a slow client holds
    /// only its own connection; 408 when it does not arrive within `bodyTimeout`, 413 beyond the limit.
    func readBody(_ request: Request, context: Context) async throws -> ByteBuffer? {
        let declared = request.headers[.contentLength].flatMap(Int.init)
        guard declared.map({ $0 > 0 }) ?? (request.headers[.transferEncoding] != nil) else { return nil }
        // 1 MiB, or what the route table declares for an upload.
        let limit = max(context.maxUploadSize, ShopRoutes.maximumBody(method: request.method, path: request.uri.path))
        if let declared, declared > limit {
            throw Problem(.contentTooLarge, detail: "the request body is larger than \(limit) bytes")
        }
        let body = request.body
        do {
            return try await withTimeout(bodyTimeout) { try await body.collect(upTo: limit) }
        } catch is TimeoutError {
            throw Problem(.requestTimeout, detail: "the request body did not arrive within \(bodyTimeout)")
        }
    }

    /// The client's `X-Request-Id` when it is short and plain, else a new one.
    static func requestID(_ request: Request) -> String {
        if let given = request.headers[.requestID], (1...128).contains(given.count),
           given.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.:".contains($0)) }) {
            return given
        }
        return UUID.random().uuidString.lowercased()
    }
}

extension HTTPField.Name {
    static let requestID = Self("X-Request-Id")!
    static let idempotencyKey = Self("Idempotency-Key")!
}

/// Reads trace headers (`traceparent`) from a request.
struct HTTPFieldsExtractor: Extractor {
    func extract(key: String, from fields: HTTPFields) -> String? {
        HTTPField.Name(key).flatMap { fields[$0] }
    }
}
