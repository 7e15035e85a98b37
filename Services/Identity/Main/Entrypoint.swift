import IdentityService
import ServiceKit

@main
struct Entrypoint {
    static func main() async throws {
        try await ShopProcess.run("identity") { settings, logger in
            try await buildApplication(try IdentityConfig(settings: settings), logger: logger)
        }
    }
}
