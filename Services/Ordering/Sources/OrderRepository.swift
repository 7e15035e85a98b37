import Contracts
import EventBus
import Foundation
import ServiceKit
import Metrics

/// Storage of orders and their sagas. It reads and writes; the rules live in `OrderSaga` and
/// `CheckoutValidation`.
package protocol OrderRepository: Sendable {
    /// Creates the order for a checkout unless one exists, and runs `start` on its saga in the same
    /// transaction; true when it was created now.
    func createOrder(from checkout: CheckoutBasket, _ start: @Sendable (any SagaStore) async throws -> Void) async throws -> Bool
    /// A user's orders, newest first, optionally only those of one UTC day, or only the one made from a checkout.
    func orders(of userName: String, on day: DateInterval?, checkoutId: UUID?, limit: Int) async throws -> [Order]
    /// All orders, newest first, before `cursor` (an order date).
    func allOrders(before cursor: OrderCursor?, limit: Int) async throws -> [Order]
    func order(id: UUID) async throws -> Order?
    /// Runs `body` in one transaction that holds the order's row.
    func withSaga<T: Sendable>(orderId: UUID, _ body: @Sendable (any SagaStore) async throws -> T) async throws -> T
    /// Orders whose saga step's deadline has passed, oldest deadline first.
    func claimOverdue(limit: Int, lease: Duration) async throws -> [UUID]
}

extension OrderRepository {
    package func orders(of userName: String, on day: DateInterval?, limit: Int) async throws -> [Order] {
        try await orders(of: userName, on: day, checkoutId: nil, limit: limit)
    }
}

/// One order's saga inside a transaction.
package protocol SagaStore: Sendable {
    /// nil when there is no such order.
    func state() async throws -> SagaState?
    /// Records the decision: its statuses in the history, the new step, deadline and cancellation
    /// reason, and `entries` in the outbox.
    func apply(_ decision: SagaDecision, entries: [PublishEntry], deadline: Date?) async throws
}

/// A page position in the newest-first list of all orders: after the order with this date and id.
package typealias OrderCursor = TimeCursor

extension TimeCursor {
    package init(orderDate: Date, orderId: UUID) { self.init(date: orderDate, id: orderId) }
    package var orderDateMicroseconds: Int64 { microseconds }
    package var orderId: UUID { id }
}

/// Applies saga events to orders: the decision of `OrderSaga`, its outbox entries and deadline, in
/// the order's transaction.
package struct SagaRunner<Repository: OrderRepository>: Sendable {
    package let repository: Repository
    /// How long the stock step may take, and the payment step.
    package let stepTimeout: Duration
    package let paymentTimeout: Duration
    /// How long after delivery a return is accepted (`RETURN_WINDOW_MS`).
    package let returnWindow: Duration
    /// Who sends the checkout's commands and keeps its deadlines (`SAGA_ENGINE`).
    package let engine: SagaEngine

    package init(
        repository: Repository, stepTimeout: Duration, paymentTimeout: Duration, returnWindow: Duration = .seconds(30 * 86_400), engine: SagaEngine = .local
    ) {
        self.repository = repository
        self.stepTimeout = stepTimeout
        self.paymentTimeout = paymentTimeout
        self.returnWindow = returnWindow
        self.engine = engine
    }

    package enum Outcome: Sendable, Equatable {
        case applied(SagaDecision)
        case ignored
        case unknownOrder
    }

    package func handle(_ event: SagaEvent, orderId: UUID) async throws -> Outcome {
        try await repository.withSaga(orderId: orderId) { store in try await apply(event, on: store) }
    }

    package func apply(_ event: SagaEvent, on store: any SagaStore) async throws -> Outcome {
        guard let state = try await store.state() else { return .unknownOrder }
        guard var decision = OrderSaga.decide(state, event) else {
            if engine == .stepFunctions, let report = TaskCallback.current, OrderSagaMachine.movedOn(state, event) {
                report.refuse(error: ShopStateMachine.movedOn, cause: "the order is \(state.status.rawValue)")
            }
            return .ignored
        }
        var entries: [PublishEntry] = []
        let timeout: Duration? = switch decision.deadline {
        case .none: nil
        case .step: stepTimeout
        case .payment: paymentTimeout
        }
        var deadline = timeout.map { Date() + $0.timeInterval }
        if engine == .stepFunctions {
            let plan = try OrderSagaMachine.plan(state, event, decision, report: TaskCallback.current, timeouts: (stepTimeout, paymentTimeout))
            decision.commands = plan.commands
            entries = plan.entries
            // The state machine times the steps; ordering's deadline is a backstop after it.
            if let timeout { deadline = deadline.map { $0 + OrderSagaMachine.backstopGrace(after: timeout).timeInterval } }
        }
        entries = try OrderSaga.entries(
            decision.commands, for: state, cancellationReason: decision.cancellationReason ?? state.cancellationReason
        ) + entries
        try await store.apply(decision, entries: entries, deadline: deadline)
        recordStepDuration(state, decision: decision)
        return .applied(decision)
    }

    /// `saga_step_duration_seconds{step, outcome}`: how long a step waited for its answer (its
    /// start is its deadline minus its timeout).
    func recordStepDuration(_ state: SagaState, decision: SagaDecision) {
        guard state.step == .reservingStock || state.step == .charging, let deadline = state.deadline else { return }
        var timeout = state.step == .charging ? paymentTimeout : stepTimeout
        if engine == .stepFunctions { timeout += OrderSagaMachine.backstopGrace(after: timeout) }
        let elapsed = Date().timeIntervalSince(deadline - timeout.timeInterval)
        let outcome = decision.statuses.last.map { $0.status.rawValue } ?? "none"
        Metrics.Timer(label: "saga_step_duration_seconds", dimensions: [("step", state.step.rawValue), ("outcome", outcome)], preferredDisplayUnit: .seconds)
            .recordNanoseconds(Int64(max(elapsed, 0) * 1e9))
    }
}


