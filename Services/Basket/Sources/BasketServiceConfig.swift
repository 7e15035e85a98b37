import Contracts
import Auth
import EventBus
import ServiceKit

/// Everything `basket-service` reads from its environment.
package struct BasketServiceConfig: Sendable {
    package var host: String
    package var port: Int
    package var database: DatabaseSettings
    package var bus: BusSettings
    /// The user pool whose tokens identify callers.
    package var tokens: TokenVerifier.Configuration
    /// product-service: one base URL or a comma-separated list of replicas (`Replicas`).
    package var productServiceURL: String
    package var catalogTimeout: Duration
    /// The key of the card's HMAC in a checkout's idempotency fingerprint (`CHECKOUT_FINGERPRINT_KEY`,
    /// a secret: every replica the same; the default is for local use only).
    package var fingerprintKey: String

    package static let localFingerprintKey = "swn-local-checkout-fingerprint-key"

    package init(settings: Settings = Settings()) throws {
        host = settings.string("HOST", default: "127.0.0.1")
        port = try settings.int("PORT", default: ShopService.basket.port)
        database = try DatabaseSettings(settings: settings, default: "postgres://swn:swn@localhost:5432/basket")
        bus = try BusSettings(settings: settings)
        tokens = try TokenVerifier.Configuration(settings: settings)
        productServiceURL = settings.string(ShopService.product.urlSetting, default: ShopService.product.defaultURL)
        catalogTimeout = try settings.milliseconds("CATALOG_TIMEOUT_MS", default: 2000)
        fingerprintKey = settings.string("CHECKOUT_FINGERPRINT_KEY", default: Self.localFingerprintKey)
    }
}
