import Hummingbird
import Logging
import BasketService
import ServiceKit

@main
struct Entrypoint {
    static func main() async throws {
        let settings = Settings()
        LoggingSetup.bootstrap(settings: settings)
        ShopMetrics.bootstrap()
        let logger = Logger(label: "basket-service")
        let app = try await buildApplication(try BasketServiceConfig(settings: settings), logger: logger)
        try await app.runService()
    }
}
