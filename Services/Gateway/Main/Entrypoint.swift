import GatewayService
import ServiceKit

@main
struct Entrypoint {
    static func main() async throws {
        try await ShopProcess.run("gateway") { settings, logger in
            try await buildApplication(try GatewayConfig(settings: settings), logger: logger)
        }
    }
}
