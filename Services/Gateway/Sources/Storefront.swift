import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import ServiceKit

/// The storefront: plain HTML, CSS and JavaScript modules from one flat folder (`STOREFRONT_DIR`),
/// read once at start. `GET /` is its `index.html`, `GET /storefront/{file}` each file; and
/// `/storefront/config.json` tells the browser where the user pool is (the same code talks to
/// `identity` locally and to Cognito on AWS).
package struct Storefront: Sendable {
    /// What the browser needs to sign users in.
    package struct Configuration: Codable, Sendable, Equatable {
        /// Where the Cognito JSON protocol is spoken: `identity` locally, `https://cognito-idp.<region>.amazonaws.com/` on AWS.
        package var identityEndpoint: String
        package var userPoolId: String
        package var clientId: String
        package var region: String
    }

    struct File: Sendable {
        let contentType: String
        let body: ByteBuffer
        let etag: String
    }

    let files: [String: File]
    let directory: String
    let securityHeaders: HTTPFields

    package init(directory: String, configuration: Configuration, logger: Logger) {
        self.directory = directory
        var files: [String: File] = [:]
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        for name in names where Self.isServable(name) {
            guard let type = Self.contentTypes[(name as NSString).pathExtension.lowercased()],
                  let data = FileManager.default.contents(atPath: directory + "/" + name) else { continue }
            files[name] = File(data, contentType: type)
        }
        if files["index.html"] == nil {
            logger.warning("no storefront at \(directory) (STOREFRONT_DIR): / answers 404")
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let config = try! encoder.encode(configuration)
        files["config.json"] = File(config, contentType: "application/json")
        self.files = files
        // The pages load only their own scripts and styles and talk only to the gateway and the user pool.
        let identityOrigin = URL(string: configuration.identityEndpoint).flatMap { url in
            url.scheme.map { scheme in "\(scheme)://\(url.host ?? "")" + (url.port.map { ":\($0)" } ?? "") }
        } ?? ""
        securityHeaders = [
            .contentSecurityPolicy: "default-src 'self'; connect-src 'self' \(identityOrigin); img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
            .xContentTypeOptions: "nosniff",
            .referrerPolicy: "no-referrer",
            .cacheControl: "no-cache",
        ]
    }

    /// A plain file name: letters, digits, `-_.`, not starting with a dot.
    static func isServable(_ name: String) -> Bool {
        !name.isEmpty && name.count <= 100 && !name.hasPrefix(".")
            && name.unicodeScalars.allSatisfy { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "-_.".unicodeScalars.contains($0)) }
    }

    static let contentTypes: [String: String] = [
        "html": "text/html; charset=utf-8", "js": "text/javascript; charset=utf-8", "mjs": "text/javascript; charset=utf-8",
        "css": "text/css; charset=utf-8", "json": "application/json", "svg": "image/svg+xml", "png": "image/png",
        "ico": "image/x-icon", "webp": "image/webp", "txt": "text/plain; charset=utf-8",
    ]

    package func addRoutes(to router: Router<AppRequestContext>) {
        router.get("/") { request, _ in try self.response(for: "index.html", request: request) }
        router.get("/storefront/{file}") { request, context in
            try self.response(for: context.parameters.require("file"), request: request)
        }
    }

    func response(for name: String, request: Request) throws -> Response {
        guard let file = files[name] else {
            throw Problem.notFound(name == "index.html" ? "the storefront is not installed (STOREFRONT_DIR=\(directory))" : "no storefront file \(name.prefix(100))")
        }
        var headers = securityHeaders
        headers[.eTag] = file.etag
        if let match = request.headers[.ifNoneMatch], match == file.etag {
            return Response(status: .notModified, headers: headers)
        }
        headers[.contentType] = file.contentType
        headers[.contentLength] = String(file.body.readableBytes)
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: file.body))
    }
}

extension Storefront.File {
    init(_ data: Data, contentType: String) {
        // FNV-1a of the content: the same on every gateway replica.
        let digest = data.reduce(UInt64(0xcbf2_9ce4_8422_2325)) { ($0 ^ UInt64($1)) &* 0x100_0000_01b3 }
        self.init(contentType: contentType, body: ByteBuffer(bytes: data), etag: "\"\(String(digest, radix: 16))\"")
    }
}

extension HTTPField.Name {
    static let contentSecurityPolicy = Self("Content-Security-Policy")!
    static let xContentTypeOptions = Self("X-Content-Type-Options")!
    static let referrerPolicy = Self("Referrer-Policy")!
}
