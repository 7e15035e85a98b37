import ServiceKit
import ShippingService

@main
struct Entrypoint {
    static func main() async throws {
        try await ShopProcess.run("shipping-service") { settings, logger in
            try await buildApplication(try ShippingServiceConfig(settings: settings), logger: logger)
        }
    }
}
