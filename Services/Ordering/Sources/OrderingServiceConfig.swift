import Auth
import Contracts
import EventBus
import ServiceKit

/// Everything `ordering-service` reads from its environment.
package struct OrderingServiceConfig: Sendable {
    package var host: String
    package var port: Int
    package var database: DatabaseSettings
    package var bus: BusSettings
    /// The user pool whose tokens identify callers.
    package var tokens: TokenVerifier.Configuration
    package var checkoutQueue: String
    /// First retry delay of a failing message; doubles with each receive.
    package var retryBaseDelay: Duration
    package var retryMaximumDelay: Duration
    /// How long a saga step (the stock reservation) may take before the order is cancelled (`StepTimeout`).
    package var stepTimeout: Duration
    /// The same for the payment step.
    package var paymentTimeout: Duration
    /// How often overdue steps are looked for.
    package var timeoutScanInterval: Duration
    /// How long after delivery a customer may return an order.
    package var returnWindow: Duration

    package init(settings: Settings = Settings()) throws {
        host = settings.string("HOST", default: "127.0.0.1")
        port = try settings.int("PORT", default: ShopService.ordering.port)
        database = try DatabaseSettings(settings: settings, default: "postgres://swn:swn@localhost:5432/ordering")
        bus = try BusSettings(settings: settings)
        tokens = try TokenVerifier.Configuration(settings: settings)
        checkoutQueue = settings.string("CHECKOUT_QUEUE", default: ShopQueues.orderingCheckout)
        retryBaseDelay = try settings.milliseconds("RETRY_BASE_DELAY_MS", default: 1000)
        retryMaximumDelay = try settings.milliseconds("RETRY_MAX_DELAY_MS", default: 60_000)
        stepTimeout = try settings.milliseconds("ORDER_STEP_TIMEOUT_MS", default: 10_000)
        paymentTimeout = try settings.milliseconds("ORDER_PAYMENT_TIMEOUT_MS", default: Int(stepTimeout.timeInterval * 1000))
        timeoutScanInterval = try settings.milliseconds("ORDER_TIMEOUT_SCAN_MS", default: 250)
        returnWindow = try settings.milliseconds("RETURN_WINDOW_MS", default: 30 * 86_400_000)
    }
}
