import Hummingbird
import Logging
import PaymentService
import ServiceKit

@main
struct Entrypoint {
    static func main() async throws {
        let settings = Settings()
        LoggingSetup.bootstrap(settings: settings)
        ShopMetrics.bootstrap()
        let logger = Logger(label: "payment-service")
        let app = try await buildApplication(try PaymentServiceConfig(settings: settings), logger: logger)
        try await app.runService()
    }
}
