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
    /// Who runs the checkout's saga steps: ordering (`local`) or the Step Functions state machine.
    package var sagaEngine: SagaEngine

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
        let engine = settings.string("SAGA_ENGINE", default: SagaEngine.local.rawValue)
        guard let sagaEngine = SagaEngine(rawValue: engine) else {
            throw SettingsError(key: "SAGA_ENGINE", value: engine, expected: SagaEngine.allCases.map(\.rawValue).joined(separator: " or "))
        }
        self.sagaEngine = sagaEngine
        bus.stateMachineArn = settings.optionalString("SAGA_STATE_MACHINE_ARN")
        if sagaEngine == .stepFunctions {
            guard bus.mode == .aws else { throw SettingsError(key: "SAGA_ENGINE", value: engine, expected: "local unless BUS_MODE=aws") }
            guard bus.stateMachineArn != nil else { throw SettingsError(key: "SAGA_STATE_MACHINE_ARN", value: "", expected: "the state machine's ARN with SAGA_ENGINE=stepfunctions") }
        }
    }
}
