import Contracts
import Crypto
import Foundation

/// A product picture as uploaded: recognised by its content (the format's signature, then its header
/// parsed for the picture's size), never by what the client says it is.
package struct ProductImage: Sendable, Equatable {
    package enum Format: String, Sendable, CaseIterable {
        case png, jpeg, webp
        package var contentType: String { "image/\(rawValue)" }
    }

    package var format: Format
    package var width: Int
    package var height: Int
    package var data: Data

    /// A strong entity tag of the bytes.
    package var etag: String { Self.etag(of: data) }

    /// `/product/{id}/image?v=<the tag without quotes>`: a new URL for every new picture.
    package static func url(of id: UUID, tag: String) -> String {
        "/product/\(id.uuidString.lowercased())/image?v=" + tag.filter { $0 != "\"" }
    }

    package static func etag(of data: Data) -> String {
        "\"" + SHA256.hash(data: data).prefix(12).map { String(format: "%02x", $0) }.joined() + "\""
    }

    package enum Refusal: Error, Equatable, CustomStringConvertible {
        /// Not PNG, JPEG or WebP at all (415).
        case unsupported
        /// Says it is one of them but its header does not parse (422).
        case broken(String)
        case empty

        package var description: String {
            switch self {
            case .unsupported: "the picture must be PNG, JPEG or WebP (recognised by its content)"
            case .broken(let reason): "the picture is not a valid image: \(reason)"
            case .empty: "the body is empty; expected a PNG, JPEG or WebP picture"
            }
        }
    }

    /// The largest side accepted (a header claiming more is not a product photo).
    static let maximumSide = 10_000

    package init(data: Data) throws(Refusal) {
        guard !data.isEmpty else { throw .empty }
        let bytes = [UInt8](data)
        let size: (Int, Int)
        let format: Format
        if bytes.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) {
            format = .png
            size = try Self.pngSize(bytes)
        } else if bytes.starts(with: [0xFF, 0xD8, 0xFF]) {
            format = .jpeg
            size = try Self.jpegSize(bytes)
        } else if bytes.count >= 12, bytes.starts(with: Array("RIFF".utf8)), Array(bytes[8..<12]) == Array("WEBP".utf8) {
            format = .webp
            size = try Self.webpSize(bytes)
        } else {
            throw .unsupported
        }
        guard (1...Self.maximumSide).contains(size.0), (1...Self.maximumSide).contains(size.1) else {
            throw .broken("a size of \(size.0)×\(size.1) pixels")
        }
        self.format = format
        self.width = size.0
        self.height = size.1
        self.data = data
    }

    static func bigEndian(_ bytes: [UInt8], _ at: Int, _ count: Int) -> Int {
        bytes[at..<at + count].reduce(0) { $0 << 8 | Int($1) }
    }

    static func littleEndian(_ bytes: [UInt8], _ at: Int, _ count: Int) -> Int {
        bytes[at..<at + count].reversed().reduce(0) { $0 << 8 | Int($1) }
    }

    /// The first chunk is IHDR (13 bytes: width, height, bit depth, colour type, ...), and the file ends
    /// with IEND.
    static func pngSize(_ bytes: [UInt8]) throws(Refusal) -> (Int, Int) {
        guard bytes.count >= 8 + 25 + 12 else { throw .broken("too short for a PNG") }
        guard bigEndian(bytes, 8, 4) == 13, Array(bytes[12..<16]) == Array("IHDR".utf8) else { throw .broken("no IHDR chunk first") }
        let depth = Int(bytes[24]), colour = Int(bytes[25])
        guard [1, 2, 4, 8, 16].contains(depth), [0, 2, 3, 4, 6].contains(colour) else { throw .broken("an impossible bit depth or colour type") }
        guard Array(bytes[(bytes.count - 8)..<(bytes.count - 4)]) == Array("IEND".utf8) else { throw .broken("no IEND chunk at the end") }
        return (bigEndian(bytes, 16, 4), bigEndian(bytes, 20, 4))
    }

    /// Segments up to a start-of-frame marker (SOF0–SOF15 but DHT, JPG and DAC), which holds the size.
    static func jpegSize(_ bytes: [UInt8]) throws(Refusal) -> (Int, Int) {
        var index = 2
        while index + 4 <= bytes.count {
            guard bytes[index] == 0xFF else { throw .broken("a segment does not start with 0xFF") }
            let marker = bytes[index + 1]
            if marker == 0xFF { index += 1; continue }
            if marker == 0xD8 || marker == 0x01 || (0xD0...0xD7).contains(marker) { index += 2; continue }
            if marker == 0xD9 || marker == 0xDA { break }
            let length = bigEndian(bytes, index + 2, 2)
            guard length >= 2, index + 2 + length <= bytes.count else { throw .broken("a segment runs past the end") }
            if (0xC0...0xCF).contains(marker), ![0xC4, 0xC8, 0xCC].contains(marker) {
                guard length >= 7 else { throw .broken("a short frame header") }
                return (bigEndian(bytes, index + 7, 2), bigEndian(bytes, index + 5, 2))
            }
            index += 2 + length
        }
        throw .broken("no frame header before the image data")
    }

    /// The first chunk: `VP8 ` (lossy), `VP8L` (lossless) or `VP8X` (extended).
    static func webpSize(_ bytes: [UInt8]) throws(Refusal) -> (Int, Int) {
        guard bytes.count >= 30 else { throw .broken("too short for a WebP") }
        guard littleEndian(bytes, 4, 4) + 8 <= bytes.count else { throw .broken("the RIFF size runs past the end") }
        let chunk = String(decoding: bytes[12..<16], as: UTF8.self)
        switch chunk {
        case "VP8 ":
            guard Array(bytes[23..<26]) == [0x9D, 0x01, 0x2A] else { throw .broken("no VP8 start code") }
            return (littleEndian(bytes, 26, 2) & 0x3FFF, littleEndian(bytes, 28, 2) & 0x3FFF)
        case "VP8L":
            guard bytes[20] == 0x2F else { throw .broken("no VP8L signature") }
            let bits = littleEndian(bytes, 21, 4)
            return ((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1)
        case "VP8X":
            return (littleEndian(bytes, 24, 3) + 1, littleEndian(bytes, 27, 3) + 1)
        default:
            throw .broken("an unknown first chunk '\(chunk)'")
        }
    }
}
