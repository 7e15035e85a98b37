import Contracts
import Auth
import EventBus
import ServiceKit

/// Everything `shipping-service` reads from its environment.
package struct ShippingServiceConfig: Sendable {
    package var host: String
    package var port: Int
    package var database: DatabaseSettings
    package var bus: BusSettings
    /// The user pool whose tokens identify callers.
    package var tokens: TokenVerifier.Configuration
    package var delays: ShippingRules.Delays
    /// How often due shipments (dispatch, delivery, a parcel back) are looked for.
    package var scanInterval: Duration

    package init(settings: Settings = Settings()) throws {
        host = settings.string("HOST", default: "127.0.0.1")
        port = try settings.int("PORT", default: ShopService.shipping.port)
        database = try DatabaseSettings(settings: settings, default: "postgres://swn:swn@localhost:5432/shipping")
        bus = try BusSettings(settings: settings)
        tokens = try TokenVerifier.Configuration(settings: settings)
        delays = ShippingRules.Delays(
            dispatch: try settings.milliseconds("SHIPPING_DISPATCH_DELAY_MS", default: 2000),
            delivery: try settings.milliseconds("SHIPPING_DELIVERY_DELAY_MS", default: 5000),
            returnTrip: try settings.milliseconds("SHIPPING_RETURN_DELAY_MS", default: 2000)
        )
        scanInterval = try settings.milliseconds("SHIPPING_SCAN_MS", default: 250)
    }
}
