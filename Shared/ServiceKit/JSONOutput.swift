import Foundation
import Hummingbird

/// Encodes response bodies the same way everywhere: ISO 8601 dates, sorted keys.
package enum JSONOutput {
    package static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = Timestamp.encodingStrategy
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }()

    package static func response(_ value: some Encodable, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) throws -> Response {
        response(json: try body(value), status: status, headers: headers)
    }

    /// `value` encoded, for an answer sent more than once (a cached one).
    package static func body(_ value: some Encodable) throws -> ByteBuffer {
        ByteBuffer(bytes: try encoder.encode(value))
    }

    /// An answer whose body is already JSON.
    package static func response(json body: ByteBuffer, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        var headers = headers
        headers[.contentType] = "application/json; charset=utf-8"
        headers[.contentLength] = String(body.readableBytes)
        return Response(status: status, headers: headers, body: .init(byteBuffer: body))
    }
}
