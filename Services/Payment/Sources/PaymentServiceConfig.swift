import Contracts
import Auth
import EventBus
import ServiceKit

/// Everything `payment-service` reads from its environment.
package struct PaymentServiceConfig: Sendable {
    package var host: String
    package var port: Int
    package var database: DatabaseSettings
    package var bus: BusSettings
    /// The user pool whose tokens identify callers.
    package var tokens: TokenVerifier.Configuration
    /// How long the slow test card (`0077`) takes to be approved.
    package var slowDelay: Duration
    /// How often due slow payments are looked for.
    package var scanInterval: Duration

    package init(settings: Settings = Settings()) throws {
        host = settings.string("HOST", default: "127.0.0.1")
        port = try settings.int("PORT", default: ShopService.payment.port)
        database = try DatabaseSettings(settings: settings, default: "postgres://swn:swn@localhost:5432/payment")
        bus = try BusSettings(settings: settings)
        tokens = try TokenVerifier.Configuration(settings: settings)
        slowDelay = try settings.milliseconds("PAYMENT_SLOW_DELAY_MS", default: 30_000)
        scanInterval = try settings.milliseconds("PAYMENT_SCAN_MS", default: 250)
    }
}
