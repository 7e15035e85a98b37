import Contracts
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
    /// How long `GET /product/{id}`, `GET /product` (pages and searches) and `GET /product/facets` may
    /// answer from memory (`PRODUCT_CACHE_TTL_MS`, default 1000; 0 turns the cache off). Changes made by
    /// this process are seen at once; this bounds another replica's.
    package var cacheTimeToLive: Duration
    package var bus: BusSettings
    /// The user pool whose tokens identify callers.
    package var tokens: TokenVerifier.Configuration
    /// Units of one product one customer may hold in unpaid orders (`MAX_RESERVED_PER_CUSTOMER`; 0: no cap).
    package var maxReservedPerCustomer: Int

    package init(settings: Settings = Settings()) throws {
        host = settings.string("HOST", default: "127.0.0.1")
        port = try settings.int("PORT", default: ShopService.product.port)
        database = try DatabaseSettings(settings: settings, default: "postgres://swn:swn@localhost:5432/product")
        seedDemoCatalog = try settings.bool("SEED_DEMO_CATALOG", default: false)
        cacheTimeToLive = try settings.milliseconds("PRODUCT_CACHE_TTL_MS", default: 1000)
        guard cacheTimeToLive >= .zero else {
            throw SettingsError(key: "PRODUCT_CACHE_TTL_MS", value: "\(cacheTimeToLive)", expected: "0 or more milliseconds")
        }
        bus = try BusSettings(settings: settings)
        tokens = try TokenVerifier.Configuration(settings: settings)
        maxReservedPerCustomer = try settings.int("MAX_RESERVED_PER_CUSTOMER", default: 20)
        guard maxReservedPerCustomer >= 0 else {
            throw SettingsError(key: "MAX_RESERVED_PER_CUSTOMER", value: "\(maxReservedPerCustomer)", expected: "0 (no cap) or more units")
        }
    }
}
