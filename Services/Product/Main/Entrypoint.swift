import Hummingbird
import Logging
import ProductService
import ServiceKit

@main
struct Entrypoint {
    static func main() async throws {
        let settings = Settings()
        LoggingSetup.bootstrap(settings: settings)
        ShopMetrics.bootstrap()
        let logger = Logger(label: "product-service")
        let app = try await buildApplication(try ProductServiceConfig(settings: settings), logger: logger)
        try await app.runService()
    }
}
