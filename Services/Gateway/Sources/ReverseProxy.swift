import AsyncHTTPClient
import Contracts
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import ServiceKit

/// Forwards a request to a service and streams the answer back.
package struct ReverseProxy: Sendable {
    let httpClient: HTTPClient
    let upstreams: [ShopService: String]
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
        var outgoing = HTTPClientRequest(url: upstreams[upstream]! + target)
        outgoing.method = HTTPMethod(rawValue: request.method.rawValue)
        for field in request.headers where !Self.dropped.contains(field.name.canonicalName)
            && !(tracing && Self.traceHeaders.contains(field.name.canonicalName)) {
            outgoing.headers.add(name: field.name.rawName, value: field.value)
        }
        outgoing.headers.add(name: "X-Request-Id", value: requestID)
        if let body { outgoing.body = .bytes(body) }

        let response: HTTPClientResponse
        do {
            response = try await httpClient.execute(outgoing, timeout: TimeAmount(timeout))
        } catch let error as HTTPClientError where [.deadlineExceeded, .readTimeout, .connectTimeout].contains(error) {
            logger.error("upstream timed out", metadata: ["upstream": "\(upstream.name)", "error": "\(error)"])
            throw Problem(.gatewayTimeout, detail: "the \(upstream.name) service did not answer in time")
        } catch {
            logger.error("upstream failed", metadata: ["upstream": "\(upstream.name)", "error": "\(error)"])
            throw Problem(.badGateway, detail: "the \(upstream.name) service is unavailable")
        }
        var headers = HTTPFields()
        var length: Int?
        for header in response.headers {
            let lowercased = header.name.lowercased()
            if lowercased == "content-length" { length = Int(header.value) } else if Self.dropped.contains(lowercased) { continue }
            if let name = HTTPField.Name(header.name) { headers.append(HTTPField(name: name, value: header.value)) }
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
            return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: body))
        }
        return Response(status: status, headers: headers, body: ResponseBody(asyncSequence: response.body))
    }

    /// Answers up to this size are buffered rather than streamed.
    static let bufferedResponseLimit = 256 * 1024
}
