import EventBus

/// The order saga on AWS Step Functions (`SAGA_ENGINE=stepfunctions`): what travels between the state
/// machine and the services, declared once. The state machine itself is rendered from the saga's
/// own rules (`OrderSagaMachine` in ordering-service, `bus asl --write`).
extension ShopEvents {
    /// The state machine reports that a step's `TimeoutSeconds` passed (ordering decides as on its
    /// own deadline).
    package static let sagaStepTimedOut = EventType<OrderReference>(source: orderingSource, detailType: "SagaStepTimedOut")
}

package enum ShopStateMachine {
    /// The participant steps the state machine waits on, each with the reply that lets it go on and
    /// the refusal (both answer the task token; the state machine chooses by the detail-type).
    package static let waits: [(command: EventName, success: EventName, refusal: EventName)] = [
        (ShopEvents.reserveStock.name, ShopEvents.stockReserved.name, ShopEvents.stockReservationFailed.name),
        (ShopEvents.chargePayment.name, ShopEvents.paymentApproved.name, ShopEvents.paymentDeclined.name),
    ]

    /// Compensations and the stock's commit: answered "done" once handled.
    package static let doneCommands = [ShopEvents.releaseStock.name, ShopEvents.refundPayment.name, ShopEvents.commitStock.name]

    /// What the state machine reports to ordering (the replies it received, and its timeouts).
    package static let reports = waits.flatMap { [$0.success, $0.refusal] } + [ShopEvents.sagaStepTimedOut.name]

    /// Ordering's refusal of a report when the order moved on without the state machine (its customer
    /// cancelled it meanwhile): the execution ends there (`Catch`), and ordering compensates over the bus.
    package static let movedOn = "OrderMovedOn"

    /// Outbox entries that start and stop an order's execution (they never reach the bus).
    package static let start = "StartOrderSaga"
    package static let stop = "StopOrderSaga"

    package static let callbacks = StateMachineCallbacks(
        replies: Set(waits.flatMap { [$0.success.detailType, $0.refusal.detailType] }),
        doneWhenHandled: Set((doneCommands + reports).map(\.detailType)),
        start: start, stop: stop
    )
}
