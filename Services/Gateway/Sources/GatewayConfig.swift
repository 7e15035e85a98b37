import Auth
import ServiceKit

/// Everything `gateway` reads from its environment.
package struct GatewayConfig: Sendable {
    package var host: String
    package var port: Int
    package var productServiceURL: String
    package var basketServiceURL: String
    package var orderingServiceURL: String
    package var upstreamTimeout: Duration
    package var tokens: TokenVerifier.Configuration
    /// The OpenAPI description served at `/openapi.yaml`.
    package var openAPIFile: String

    package init(settings: Settings = Settings()) throws {
        host = settings.string("HOST", default: "127.0.0.1")
        port = try settings.int("PORT", default: 8080)
        productServiceURL = settings.string("PRODUCT_SERVICE_URL", default: "http://localhost:8081")
        basketServiceURL = settings.string("BASKET_SERVICE_URL", default: "http://localhost:8082")
        orderingServiceURL = settings.string("ORDERING_SERVICE_URL", default: "http://localhost:8083")
        upstreamTimeout = try settings.milliseconds("UPSTREAM_TIMEOUT_MS", default: 10_000)
        tokens = try TokenVerifier.Configuration(settings: settings)
        openAPIFile = settings.string("OPENAPI_FILE", default: "deploy/openapi.yaml")
    }
}
