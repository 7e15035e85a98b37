import Foundation
import Hummingbird
import HummingbirdTesting
import ServiceKit
import Testing
import TestSupport

@testable import ProductService

/// Pictures are recognised by their bytes (signature and header), never by the client's word, and
/// served with an ETag, a 304, caching and no sniffing.
@Suite struct ProductImageTests {
    static func chunk(_ type: String, _ payload: [UInt8]) -> [UInt8] {
        let length = UInt32(payload.count)
        return [UInt8(length >> 24), UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF)] + Array(type.utf8) + payload + [0, 0, 0, 0]
    }

    /// A PNG's structure (signature, IHDR, IDAT, IEND) of `width`×`height`, padded to `size` bytes.
    static func png(width: Int = 4, height: Int = 3, idat: Int = 16) -> Data {
        func be32(_ value: Int) -> [UInt8] { [UInt8(value >> 24 & 0xFF), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)] }
        let header = be32(width) + be32(height) + [8, 2, 0, 0, 0]
        return Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + chunk("IHDR", header) + chunk("IDAT", [UInt8](repeating: 0, count: idat)) + chunk("IEND", []))
    }

    static let jpeg = Data([0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10] + Array("JFIF".utf8) + [0, 1, 1, 0, 0, 1, 0, 1, 0, 0]
        + [0xFF, 0xC0, 0x00, 0x11, 0x08, 0x00, 0x20, 0x00, 0x40, 0x03, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1] + [0xFF, 0xD9])
    static let webp = Data(Array("RIFF".utf8) + [22, 0, 0, 0] + Array("WEBPVP8X".utf8) + [10, 0, 0, 0, 0, 0, 0, 0, 99, 0, 0, 49, 0, 0])

    @Test func theFormatComesFromTheBytes() throws {
        let png = try ProductImage(data: Self.png(width: 640, height: 480))
        #expect(png.format == .png && png.width == 640 && png.height == 480)
        let jpeg = try ProductImage(data: Self.jpeg)
        #expect(jpeg.format == .jpeg && jpeg.width == 64 && jpeg.height == 32)
        let webp = try ProductImage(data: Self.webp)
        #expect(webp.format == .webp && webp.width == 100 && webp.height == 50)
        #expect(throws: ProductImage.Refusal.unsupported) { try ProductImage(data: Data("GIF89a............".utf8)) }
        #expect(throws: ProductImage.Refusal.unsupported) { try ProductImage(data: Data("<svg xmlns='http://www.w3.org/2000/svg'/>".utf8)) }
        #expect(throws: ProductImage.Refusal.empty) { try ProductImage(data: Data()) }
        // Starts like a PNG or a JPEG, but is not one.
        #expect(throws: ProductImage.Refusal.self) { try ProductImage(data: Self.png().prefix(30)) }
        #expect(throws: ProductImage.Refusal.self) { try ProductImage(data: Self.png(width: 0)) }
        #expect(throws: ProductImage.Refusal.self) { try ProductImage(data: Data([0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0xFF, 1, 2])) }
        #expect(throws: ProductImage.Refusal.self) { try ProductImage(data: Self.png(width: 100_000, height: 2)) }
    }

    /// The demo catalog's pictures are drawn by the project and are real PNGs (Python's zlib and the
    /// chunks' CRCs agree), and the seeded catalog has them.
    @Test func theDemoCatalogHasPictures() async throws {
        let picture = DemoPictures.picture(0)
        let image = try ProductImage(data: picture)
        #expect(image.format == .png && image.width == 256)
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("demo-\(UUID()).png")
        try picture.write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let check = try await runTool("python3", ["-c", """
            import struct, sys, zlib
            data = open(sys.argv[1], 'rb').read()
            pos, idat = 8, b''
            while pos < len(data):
                length, kind = struct.unpack('>I4s', data[pos:pos + 8])
                body = data[pos + 8:pos + 8 + length]
                assert struct.unpack('>I', data[pos + 8 + length:pos + 12 + length])[0] == zlib.crc32(kind + body), kind
                if kind == b'IDAT': idat += body
                pos += 12 + length
            raw = zlib.decompress(idat)
            print(len(raw), len(set(raw[1:769])))
            """, file.path])
        let parts = check.split(separator: " ").compactMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        #expect(parts.first == 256 * (256 * 3 + 1), "every row decompressed: \(check)")
        try await ProductAPITests.withApp(seed: true) { client in
            let page = try ProductAPITests.decode(Page<Product>.self, try await client.execute(uri: "/product", method: .get))
            #expect(page.items.count == DemoCatalog.products.count && page.items.allSatisfy { $0.imageUrl != nil })
            let first = try #require(page.items.first?.imageUrl)
            let served = try await client.execute(uri: first, method: .get)
            #expect(served.status == .ok && served.headers[.contentType] == "image/png")
        }
    }

    @Test func uploadedPicturesAreServedWithTheirTagAndDeletedWithTheirProduct() async throws {
        try await ProductAPITests.withApp { client in
            let created = try await client.execute(uri: "/product", method: .post, body: ByteBuffer(string: #"{"name":"Lamp","price":10,"category":"Home"}"#))
            let product = try ProductAPITests.decode(Product.self, created)
            #expect(product.imageUrl == nil)
            #expect(try await client.execute(uri: "/product/\(product.id)/image", method: .get).status == .notFound)

            // Whatever the client calls it, a PNG is a PNG.
            let picture = Self.png(width: 320, height: 240)
            let stored = try await client.execute(
                uri: "/product/\(product.id)/image", method: .put, headers: [.contentType: "text/plain"], body: ByteBuffer(data: picture)
            )
            #expect(stored.status == .ok)
            let withImage = try ProductAPITests.decode(Product.self, stored)
            let url = try #require(withImage.imageUrl)
            #expect(url.hasPrefix("/product/\(product.id.uuidString.lowercased())/image?v="))
            let listed = try await client.execute(uri: "/product", method: .get)
            #expect(String(buffer: listed.body).contains(url.replacingOccurrences(of: "/", with: "\\/")) || String(buffer: listed.body).contains(url))

            let served = try await client.execute(uri: url, method: .get)
            #expect(served.status == .ok)
            #expect(Data(buffer: served.body) == picture)
            #expect(served.headers[.contentType] == "image/png")
            #expect(served.headers[.init("X-Content-Type-Options")!] == "nosniff")
            #expect(served.headers[.cacheControl]?.contains("max-age") == true)
            let etag = try #require(served.headers[.eTag])
            let again = try await client.execute(uri: "/product/\(product.id)/image", method: .get, headers: [.ifNoneMatch: etag])
            #expect(again.status == .notModified && again.body.readableBytes == 0)

            // A new picture, a new tag and URL.
            let replaced = try await client.execute(uri: "/product/\(product.id)/image", method: .put, body: ByteBuffer(data: Self.jpeg))
            #expect(try ProductAPITests.decode(Product.self, replaced).imageUrl != url)
            let jpeg = try await client.execute(uri: "/product/\(product.id)/image", method: .get, headers: [.ifNoneMatch: etag])
            #expect(jpeg.status == .ok && jpeg.headers[.contentType] == "image/jpeg")

            // Refused: not a picture (415), a broken one (422), too large (413), no such product (404).
            let gif = try await client.execute(uri: "/product/\(product.id)/image", method: .put, headers: [.contentType: "image/png"], body: ByteBuffer(string: "GIF89a0123456789"))
            try ProductAPITests.expectProblem(gif, .unsupportedMediaType)
            let broken = try await client.execute(uri: "/product/\(product.id)/image", method: .put, body: ByteBuffer(data: Self.png().prefix(40)))
            try ProductAPITests.expectProblem(broken, .unprocessableContent)
            let large = try await client.execute(
                uri: "/product/\(product.id)/image", method: .put, body: ByteBuffer(data: Self.png(idat: 2 << 20))
            )
            #expect(large.status == .contentTooLarge)
            #expect(try await client.execute(uri: "/product/\(UUID())/image", method: .put, body: ByteBuffer(data: picture)).status == .notFound)
            let bigButFine = try await client.execute(uri: "/product/\(product.id)/image", method: .put, body: ByteBuffer(data: Self.png(idat: 1_500_000)))
            #expect(bigButFine.status == .ok, "1.5 MiB is within the 2 MiB")

            // Gone with the product.
            #expect(try await client.execute(uri: "/product/\(product.id)", method: .delete).status == .noContent)
            #expect(try await client.execute(uri: "/product/\(product.id)/image", method: .get).status == .notFound)
        }
    }
}
