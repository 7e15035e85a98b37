import Hummingbird
import Logging
import OrderingService
import ServiceKit

@main
struct Entrypoint {
    static func main() async throws {
        let settings = Settings()
        LoggingSetup.bootstrap(settings: settings)
        ShopMetrics.bootstrap()
        let logger = Logger(label: "ordering-service")
        let app = try await buildApplication(try OrderingServiceConfig(settings: settings), logger: logger)
        try await app.runService()
    }
}
