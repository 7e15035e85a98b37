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
    /// A user's orders, newest first, optionally only those of one UTC day.
    func orders(of userName: String, on day: DateInterval?, limit: Int) async throws -> [Order]
    /// All orders, newest first, before `cursor` (an order date).
    func allOrders(before cursor: OrderCursor?, limit: Int) async throws -> [Order]
    func order(id: UUID) async throws -> Order?
    /// Runs `body` in one transaction that holds the order's row.
    func withSaga<T: Sendable>(orderId: UUID, _ body: @Sendable (any SagaStore) async throws -> T) async throws -> T
    /// Orders whose saga step's deadline has passed, oldest deadline first.
    func claimOverdue(limit: Int, lease: Duration) async throws -> [UUID]
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
/// The date travels in microseconds, Postgres's precision, so no order is skipped or repeated.
/// As a cursor: the microseconds since 1970 (at most 16 digits: years 1653 to 2286, which Postgres
/// and `Date` both hold), a dot, and the id's 32 hex digits.
package struct OrderCursor: PageCursor, Equatable {
    package var orderDateMicroseconds: Int64
    package var orderId: UUID

    package init(orderDate: Date, orderId: UUID) {
        self.orderDateMicroseconds = Int64((orderDate.timeIntervalSince1970 * 1_000_000).rounded())
        self.orderId = orderId
    }

    package init?(cursor text: Substring) {
        let parts = text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, let digits = parts.first,
              digits.utf8.count <= (digits.hasPrefix("-") ? 17 : 16), digits.utf8.dropFirst(digits.hasPrefix("-") ? 1 : 0).allSatisfy({ (48...57).contains($0) }),
              let microseconds = Int64(digits), let id = CursorPart.decodeUUID(parts[1])
        else { return nil }
        orderDateMicroseconds = microseconds
        orderId = id
    }

    package var cursor: String { "\(orderDateMicroseconds).\(CursorPart.encode(uuid: orderId))" }
    package static var pattern: String { "^(?:-?[0-9]{1,16}\\.\(CursorPart.uuidPattern))?$" }
    package static var maximumLength: Int { 17 + 1 + 32 }

    package var orderDate: Date { Date(timeIntervalSince1970: Double(orderDateMicroseconds) / 1_000_000) }
}

/// Applies saga events to orders: the decision of `OrderSaga`, its outbox entries and deadline, in
/// the order's transaction.
package struct SagaRunner<Repository: OrderRepository>: Sendable {
    package let repository: Repository
    package let eventBusName: String
    /// How long the stock step may take, and the payment step.
    package let stepTimeout: Duration
    package let paymentTimeout: Duration

    package init(repository: Repository, eventBusName: String, stepTimeout: Duration, paymentTimeout: Duration) {
        self.repository = repository
        self.eventBusName = eventBusName
        self.stepTimeout = stepTimeout
        self.paymentTimeout = paymentTimeout
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
        guard let decision = OrderSaga.decide(state, event) else { return .ignored }
        let entries = try OrderSaga.entries(
            decision.commands, for: state, cancellationReason: decision.cancellationReason ?? state.cancellationReason, eventBusName: eventBusName
        )
        let deadline: Date? = switch decision.deadline {
        case .none: nil
        case .step: Date() + stepTimeout.timeInterval
        case .payment: Date() + paymentTimeout.timeInterval
        }
        try await store.apply(decision, entries: entries, deadline: deadline)
        recordStepDuration(state, decision: decision)
        return .applied(decision)
    }

    /// `saga_step_duration_seconds{step, outcome}`: how long a step waited for its answer (its
    /// start is its deadline minus its timeout).
    func recordStepDuration(_ state: SagaState, decision: SagaDecision) {
        guard state.step != .finished, let deadline = state.deadline else { return }
        let timeout = state.step == .charging ? paymentTimeout : stepTimeout
        let elapsed = Date().timeIntervalSince(deadline - timeout.timeInterval)
        let outcome = decision.statuses.last.map { $0.status.rawValue } ?? "none"
        Metrics.Timer(label: "saga_step_duration_seconds", dimensions: [("step", state.step.rawValue), ("outcome", outcome)], preferredDisplayUnit: .seconds)
            .recordNanoseconds(Int64(max(elapsed, 0) * 1e9))
    }
}


