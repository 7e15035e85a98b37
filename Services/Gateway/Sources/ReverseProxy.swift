import AsyncHTTPClient
import Contracts
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Metrics
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceKit

/// Forwards a request to a replica of a service and streams the answer back. A replica that cannot be
/// reached is ejected (`Upstreams`), and the request goes once to another replica when that is safe:
/// it never reached the first one (the connection failed), or it may be repeated (GET, HEAD, or one
/// with an `Idempotency-Key`). A timeout is never retried: the replica may still be working on it.
package struct ReverseProxy: Sendable {
    let httpClient: HTTPClient
    let upstreams: Upstreams
    let timeout: Duration

    /// Headers that belong to one connection, not to the message (RFC 9110 §7.6.1), plus those the
    /// gateway sets itself. `Authorization` goes through: each service verifies the token again.
    static let dropped: Set<String> = [
        "connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization", "te", "trailer",
        "transfer-encoding", "upgrade", "host", "content-length", "x-request-id",
    ]
    /// With tracing on, the client's trace context is replaced by the gateway's span (AsyncHTTPClient
    /// adds it); with tracing off it goes upstream as it came.
    static let traceHeaders: Set<String> = ["traceparent", "tracestate"]
    let tracing = ShopTracing.isEnabled

    /// Forwards `request` with exactly the request target the gateway authorized, and the body unread.
    package func forward(_ request: Request, target: String, body: ByteBuffer?, to upstream: ShopService, requestID: String, logger: Logger) async throws -> Response {
        var headers = HTTPHeaders()
        for field in request.headers where !Self.dropped.contains(field.name.canonicalName)
            && !(tracing && Self.traceHeaders.contains(field.name.canonicalName)) {
            headers.add(name: field.name.rawName, value: field.value)
        }
        headers.add(name: "X-Request-Id", value: requestID)
        let repeatable = request.method == .get || request.method == .head || request.headers[.idempotencyKey] != nil
        let replicas = upstreams[upstream]

        var response: HTTPClientResponse?
        var failed: String?
        while response == nil {
            guard let base = replicas.pick(avoiding: failed) else {
                throw Problem(.badGateway, detail: "the \(upstream.name) service has no replica")
            }
            var outgoing = HTTPClientRequest(url: base + target)
            outgoing.method = HTTPMethod(rawValue: request.method.rawValue)
            outgoing.headers = headers
            if let body { outgoing.body = .bytes(body) }
            do {
                response = try await httpClient.execute(outgoing, timeout: TimeAmount(timeout))
            } catch let error as HTTPClientError where [.deadlineExceeded, .readTimeout].contains(error) {
                logger.error("upstream timed out", metadata: ["upstream": "\(upstream.name)", "replica": "\(base)", "error": "\(error)"])
                throw Problem(.gatewayTimeout, detail: "the \(upstream.name) service did not answer in time")
            } catch {
                let neverSent = Self.neverSent(error)
                if replicas.eject(base) {
                    Counter(label: "gateway_upstream_ejections", dimensions: [("upstream", upstream.name)]).increment()
                    logger.warning("upstream replica ejected", metadata: ["upstream": "\(upstream.name)", "replica": "\(base)", "error": "\(error)"])
                }
                guard failed == nil, neverSent || repeatable, replicas.hasAnother(than: base) else {
                    logger.error("upstream failed", metadata: ["upstream": "\(upstream.name)", "replica": "\(base)", "error": "\(error)"])
                    if case .connectTimeout? = error as? HTTPClientError {
                        throw Problem(.gatewayTimeout, detail: "the \(upstream.name) service did not answer in time")
                    }
                    throw Problem(.badGateway, detail: "the \(upstream.name) service is unavailable")
                }
                Counter(label: "gateway_upstream_retries", dimensions: [("upstream", upstream.name)]).increment()
                failed = base
            }
        }
        guard let response else { throw Problem(.badGateway, detail: "the \(upstream.name) service is unavailable") }
        var answerHeaders = HTTPFields()
        var length: Int?
        for header in response.headers {
            let lowercased = header.name.lowercased()
            if lowercased == "content-length" { length = Int(header.value) } else if Self.dropped.contains(lowercased) { continue }
            if let name = HTTPField.Name(header.name) { answerHeaders.append(HTTPField(name: name, value: header.value)) }
        }
        let status = HTTPResponse.Status(code: Int(response.status.code))
        // A small answer of known length (every JSON answer of the shop) is read whole and written in
        // one go; anything else streams through as it comes.
        if let length, length <= Self.bufferedResponseLimit {
            let body: ByteBuffer
            do {
                body = try await response.body.collect(upTo: length)
            } catch {
                logger.error("upstream answer broke off", metadata: ["upstream": "\(upstream.name)", "error": "\(error)"])
                throw Problem(.badGateway, detail: "the \(upstream.name) service is unavailable")
            }
            return Response(status: status, headers: answerHeaders, body: ResponseBody(byteBuffer: body))
        }
        return Response(status: status, headers: answerHeaders, body: ResponseBody(asyncSequence: response.body))
    }

    /// Whether `error` means the request never left the gateway: the connection to the replica could
    /// not be made (refused, unreachable, or not within the connect timeout).
    static func neverSent(_ error: any Error) -> Bool {
        switch error {
        case is NIOConnectionError: true
        case let error as HTTPClientError: error == .connectTimeout
        case let error as ChannelError: if case .connectTimeout = error { true } else { false }
        case let error as IOError: [ECONNREFUSED, EHOSTUNREACH, ENETUNREACH, EHOSTDOWN].contains(error.errnoCode)
        default: false
        }
    }

    /// Answers up to this size are buffered rather than streamed.
    static let bufferedResponseLimit = 256 * 1024
}
