import Auth
import EventBus
import ServiceKit

/// Everything `product-service` reads from its environment.
package struct ProductServiceConfig: Sendable {
    package var host: String
    package var port: Int
    package var database: DatabaseSettings
    /// Load the demo catalog at start when the catalog is empty (`make run` turns this on).
    package var seedDemoCatalog: Bool
    package var bus: BusSettings
    /// The user pool whose tokens identify callers.
    package var tokens: TokenVerifier.Configuration

    package init(settings: Settings = Settings()) throws {
        host = settings.string("HOST", default: "127.0.0.1")
        port = try settings.int("PORT", default: 8081)
        database = try DatabaseSettings(settings: settings, default: "postgres://swn:swn@localhost:5432/product")
        seedDemoCatalog = try settings.bool("SEED_DEMO_CATALOG", default: false)
        bus = try BusSettings(settings: settings)
        tokens = try TokenVerifier.Configuration(settings: settings)
    }
}
