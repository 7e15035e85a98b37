import Foundation
import Hummingbird

/// An RFC 9457 problem detail, thrown by handlers and rendered as `application/problem+json`.
package struct Problem: HTTPResponseError, Sendable {
    package var status: HTTPResponse.Status
    package var detail: String?
    /// The request field at fault, when there is one (`items[0].quantity`).
    package var field: String?
    package var headers: HTTPFields = [:]

    package init(_ status: HTTPResponse.Status, detail: String? = nil, field: String? = nil) {
        self.status = status
        self.detail = detail
        self.field = field
    }

    /// The JSON body: `type`, `title`, `status`, `detail` and, for bad input, `field`.
    package struct Body: Codable, Sendable {
        package var type: String
        package var title: String
        package var status: Int
        package var detail: String?
        package var field: String?
    }

    package var body: Body {
        Body(type: "about:blank", title: status.reasonPhrase, status: status.code, detail: detail, field: field)
    }

    package func response(from request: Request, context: some RequestContext) throws -> Response {
        makeResponse()
    }

    package func makeResponse() -> Response {
        let data = (try? JSONOutput.encoder.encode(body)) ?? Data()
        var headers = self.headers
        headers[.contentType] = "application/problem+json"
        headers[.contentLength] = String(data.count)
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    package static func badRequest(_ detail: String, field: String? = nil) -> Problem {
        Problem(.badRequest, detail: detail, field: field)
    }

    /// 401 with `WWW-Authenticate: Bearer`.
    package static func unauthorized(_ detail: String) -> Problem {
        var problem = Problem(.unauthorized, detail: detail)
        problem.headers[.wwwAuthenticate] = "Bearer"
        return problem
    }

    package static func forbidden(_ detail: String, field: String? = nil) -> Problem {
        Problem(.forbidden, detail: detail, field: field)
    }

    package static func notFound(_ detail: String) -> Problem {
        Problem(.notFound, detail: detail)
    }

    package static func unprocessable(_ detail: String, field: String? = nil) -> Problem {
        Problem(.unprocessableContent, detail: detail, field: field)
    }

    package static func conflict(_ detail: String, field: String? = nil) -> Problem {
        Problem(.conflict, detail: detail, field: field)
    }

    package static func unavailable(_ detail: String) -> Problem {
        Problem(.serviceUnavailable, detail: detail)
    }
}
