import OrderingService
import ServiceKit

@main
struct Entrypoint {
    static func main() async throws {
        try await ShopProcess.run("ordering-service") { settings, logger in
            try await buildApplication(try OrderingServiceConfig(settings: settings), logger: logger)
        }
    }
}
