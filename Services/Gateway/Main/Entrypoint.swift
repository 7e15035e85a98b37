import GatewayService
import Hummingbird
import Logging
import ServiceKit

@main
struct Entrypoint {
    static func main() async throws {
        let settings = Settings()
        LoggingSetup.bootstrap(settings: settings)
        ShopMetrics.bootstrap()
        let logger = Logger(label: "gateway")
        let app = try await buildApplication(try GatewayConfig(settings: settings), logger: logger)
        try await app.runService()
    }
}
