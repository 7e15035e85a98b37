import ProductService
import ServiceKit

@main
struct Entrypoint {
    static func main() async throws {
        try await ShopProcess.run("product-service") { settings, logger in
            try await buildApplication(try ProductServiceConfig(settings: settings), logger: logger)
        }
    }
}
