import BasketService
import ServiceKit

@main
struct Entrypoint {
    static func main() async throws {
        try await ShopProcess.run("basket-service") { settings, logger in
            try await buildApplication(try BasketServiceConfig(settings: settings), logger: logger)
        }
    }
}
