import AsyncHTTPClient
import Foundation
import Auth
import Hummingbird
import Logging
import ServiceKit

/// Builds `gateway`; `main` and the tests both call this.
package func buildApplication(_ config: GatewayConfig, logger: Logger) async throws -> some ApplicationProtocol {
    let http = HTTPClientService()
    let verifier = TokenVerifier(configuration: config.tokens, httpClient: http.client, logger: logger)
    let upstreams: [Upstream: String] = [
        .product: config.productServiceURL, .basket: config.basketServiceURL, .ordering: config.orderingServiceURL,
    ].mapValues { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
    let proxy = ReverseProxy(httpClient: http.client, upstreams: upstreams, timeout: config.upstreamTimeout)

    let router = Router(context: AppRequestContext.self)
    router.add(middleware: ProblemMiddleware())
    router.add(middleware: GatewayMiddleware(verifier: verifier, proxy: proxy))
    router.addHealthRoutes(Upstream.allCases.map { upstream in
        ReadinessCheck(upstream.rawValue) {
            let response = try await http.client.execute(HTTPClientRequest(url: upstreams[upstream]! + "/health"), timeout: .seconds(2))
            guard response.status == .ok else { throw Problem(.badGateway, detail: "\(upstream.rawValue) is not healthy") }
        }
    })

    router.get("/openapi.yaml") { _, _ -> Response in
        guard let data = FileManager.default.contents(atPath: config.openAPIFile) else {
            throw Problem.notFound("no OpenAPI description at \(config.openAPIFile)")
        }
        return Response(
            status: .ok,
            headers: [.contentType: "application/yaml", .contentLength: String(data.count)],
            body: .init(byteBuffer: ByteBuffer(bytes: data))
        )
    }

    var app = Application(
        router: router,
        configuration: .init(address: .hostname(config.host, port: config.port), serverName: "gateway"),
        logger: logger
    )
    app.addServices(http)
    return app
}
