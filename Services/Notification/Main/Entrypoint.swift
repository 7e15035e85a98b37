import NotificationService
import ServiceKit

@main
struct Entrypoint {
    static func main() async throws {
        try await ShopProcess.run("notification-service") { settings, logger in
            try await buildApplication(try NotificationServiceConfig(settings: settings), logger: logger)
        }
    }
}
