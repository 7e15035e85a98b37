import PaymentService
import ServiceKit

@main
struct Entrypoint {
    static func main() async throws {
        try await ShopProcess.run("payment-service") { settings, logger in
            try await buildApplication(try PaymentServiceConfig(settings: settings), logger: logger)
        }
    }
}
