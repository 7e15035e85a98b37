import AsyncHTTPClient
import Auth
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
    let upstreams: [Upstream: String]
    let timeout: Duration

    /// Headers that belong to one connection, not to the message (RFC 9110 §7.6.1), plus those the
    /// gateway sets itself.
    static let dropped: Set<String> = [
        "connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization", "te", "trailer",
        "transfer-encoding", "upgrade", "host", "content-length", "authorization", "x-request-id",
    ]

    package func forward(
        _ request: Request, to upstream: Upstream, identity: Identity?, requestID: String, body: ByteBuffer?, logger: Logger
    ) async throws -> Response {
        var outgoing = HTTPClientRequest(url: upstreams[upstream]! + (request.uri.path.isEmpty ? "/" : request.uri.description))
        outgoing.method = HTTPMethod(rawValue: request.method.rawValue)
        for field in request.headers {
            let name = field.name.canonicalName
            if Self.dropped.contains(name) || name.hasPrefix(Identity.Header.reservedPrefix) { continue }
            outgoing.headers.add(name: field.name.rawName, value: field.value)
        }
        outgoing.headers.add(name: "X-Request-Id", value: requestID)
        if let identity {
            outgoing.headers.add(name: Identity.Header.user, value: identity.userName)
            outgoing.headers.add(name: Identity.Header.groups, value: identity.groups.joined(separator: ","))
        }
        if let body {
            outgoing.body = .bytes(body)
        } else if let length = request.headers[.contentLength].flatMap(Int.init), length > 0 {
            outgoing.body = .stream(request.body, length: .known(Int64(length)))
        } else if request.headers[.transferEncoding] != nil {
            outgoing.body = .stream(request.body, length: .unknown)
        }

        let response: HTTPClientResponse
        do {
            response = try await httpClient.execute(outgoing, timeout: TimeAmount(timeout))
        } catch let error as HTTPClientError where [.deadlineExceeded, .readTimeout, .connectTimeout].contains(error) {
            logger.error("upstream timed out", metadata: ["upstream": "\(upstream.rawValue)", "error": "\(error)"])
            throw Problem(.gatewayTimeout, detail: "the \(upstream.rawValue) service did not answer in time")
        } catch {
            logger.error("upstream failed", metadata: ["upstream": "\(upstream.rawValue)", "error": "\(error)"])
            throw Problem(.badGateway, detail: "the \(upstream.rawValue) service is unavailable")
        }
        var headers = HTTPFields()
        for header in response.headers where !Self.dropped.contains(header.name.lowercased()) || header.name.lowercased() == "content-length" {
            if let name = HTTPField.Name(header.name) { headers.append(HTTPField(name: name, value: header.value)) }
        }
        return Response(
            status: HTTPResponse.Status(code: Int(response.status.code)),
            headers: headers,
            body: ResponseBody(asyncSequence: response.body)
        )
    }
}
