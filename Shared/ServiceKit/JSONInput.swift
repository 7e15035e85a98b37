import Foundation
import Hummingbird
import NIOCore

/// Decodes request bodies, turning decoding failures into 400 problems that name the offending field.
package enum JSONInput {
    package static func decode<T: Decodable>(_ type: T.Type, from request: Request, context: some RequestContext) async throws -> T {
        let buffer = try await body(of: request, upTo: context.maxUploadSize)
        guard buffer.readableBytes > 0 else { throw Problem.badRequest("request body is empty; expected JSON") }
        do {
            let decoder = JSONDecoder()
            decoder.dateDecodingStrategy = Timestamp.decodingStrategy
            return try decoder.decode(T.self, from: buffer)
        } catch let error as DecodingError {
            throw problem(for: error)
        }
    }

    /// The whole body, up to `limit` bytes: a 413 beyond it (at once when `Content-Length` says so),
    /// a 408 when it does not arrive within the server's body timeout.
    package static func body(of request: Request, upTo limit: Int) async throws -> ByteBuffer {
        let tooLarge = Problem(.contentTooLarge, detail: "the request body must be at most \(limit) bytes")
        if let declared = request.headers[.contentLength].flatMap(Int.init), declared > limit { throw tooLarge }
        let body = request.body
        do {
            return try await withTimeout(ServerTimeouts.current.body) { try await body.collect(upTo: limit) }
        } catch is TimeoutError {
            throw Problem(.requestTimeout, detail: "the request body did not arrive within \(ServerTimeouts.current.body)")
        } catch is NIOTooManyBytesError {
            throw tooLarge
        }
    }

    package static func problem(for error: DecodingError) -> Problem {
        switch error {
        case .keyNotFound(let key, let context):
            let field = path(context.codingPath + [key])
            return .badRequest("\(field) is required", field: field)
        case .typeMismatch(let type, let context):
            let field = path(context.codingPath)
            return .badRequest("\(field.isEmpty ? "body" : field) must be \(describe(type))", field: field.isEmpty ? nil : field)
        case .valueNotFound(let type, let context):
            let field = path(context.codingPath)
            return .badRequest("\(field) must be \(describe(type)), not null", field: field)
        case .dataCorrupted(let context):
            let field = path(context.codingPath)
            if field.isEmpty { return .badRequest("request body is not valid JSON") }
            return .badRequest("\(field) is invalid: \(context.debugDescription)", field: field)
        @unknown default:
            return .badRequest("request body could not be decoded")
        }
    }

    /// `items[0].quantity` from a coding path.
    package static func path(_ keys: [any CodingKey]) -> String {
        var result = ""
        for key in keys {
            if let index = key.intValue {
                result += "[\(index)]"
            } else {
                result += result.isEmpty ? key.stringValue : ".\(key.stringValue)"
            }
        }
        return result
    }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: return "a string"
        case is Int.Type, is Int64.Type, is Int32.Type: return "an integer"
        case is Decimal.Type, is Double.Type: return "a number"
        case is Bool.Type: return "a boolean"
        case is [Any].Type: return "an array"
        default:
            let name = String(describing: type)
            if name.hasPrefix("Array") { return "an array" }
            if name.hasPrefix("Dictionary") { return "an object" }
            return "a valid \(name)"
        }
    }
}
