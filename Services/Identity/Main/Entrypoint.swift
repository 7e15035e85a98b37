import Hummingbird
import IdentityService
import Logging
import ServiceKit

@main
struct Entrypoint {
    static func main() async throws {
        let settings = Settings()
        LoggingSetup.bootstrap(settings: settings)
        ShopMetrics.bootstrap()
        let logger = Logger(label: "identity")
        let app = try await buildApplication(try IdentityConfig(settings: settings), logger: logger)
        try await app.runService()
    }
}
