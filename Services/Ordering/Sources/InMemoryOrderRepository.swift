import Contracts
import EventBus
import Foundation
import ServiceKit
import Synchronization

/// Orders and their sagas in memory: for tests of the HTTP API, the handlers and the saga without
/// a database. Creation is idempotent per checkout, as with Postgres; `published` holds what the
/// outbox would have sent.
package final class InMemoryOrderRepository: OrderRepository {
    struct Entry {
        var order: Order
        var state: SagaState
    }

    private let entries = Mutex<[UUID: Entry]>([:])
    private let outbox = Mutex<[PublishEntry]>([])
    /// Until when each claimed overdue step is left to its claimer.
    private let claims = Mutex<[UUID: Date]>([:])
    private let transaction = AsyncLock()

    package init() {}

    package var published: [PublishEntry] { outbox.withLock { $0 } }

    package func createOrder(from checkout: CheckoutBasket, _ start: @Sendable (any SagaStore) async throws -> Void) async throws -> Bool {
        try await transaction.run {
            let created = entries.withLock { entries -> UUID? in
                guard !entries.values.contains(where: { $0.order.checkoutId == checkout.checkoutId }) else { return nil }
                let id = UUID()
                let order = Order(
                    orderId: id, checkoutId: checkout.checkoutId, userName: checkout.userName, firstName: checkout.firstName,
                    lastName: checkout.lastName, email: checkout.email, address: checkout.address, paymentMethod: checkout.paymentMethod,
                    cardInfo: checkout.cardInfo, items: checkout.items, totalPrice: checkout.totalPrice, orderDate: checkout.checkoutDate,
                    status: .pending, cancellationReason: nil, statusHistory: []
                )
                entries[id] = Entry(order: order, state: SagaState(
                    orderId: id, checkoutId: checkout.checkoutId, userName: checkout.userName, cardInfo: checkout.cardInfo,
                    items: checkout.items, totalPrice: checkout.totalPrice, status: .pending, step: .reservingStock,
                    firstName: checkout.firstName, email: checkout.email
                ))
                return id
            }
            guard let created else { return false }
            try await start(Store(repository: self, orderId: created))
            return true
        }
    }

    package func orders(of userName: String, on day: DateInterval?, checkoutId: UUID?, limit: Int) async throws -> [Order] {
        Array(newestFirst().filter { order in
            order.userName == userName && (day.map { $0.contains(order: order) } ?? true) && (checkoutId.map { $0 == order.checkoutId } ?? true)
        }.prefix(limit))
    }

    package func allOrders(before cursor: OrderCursor?, limit: Int) async throws -> [Order] {
        Array(newestFirst().filter { order in
            guard let cursor else { return true }
            let position = OrderCursor(orderDate: order.orderDate, orderId: order.orderId)
            return (position.orderDateMicroseconds, order.orderId.uuidString) < (cursor.orderDateMicroseconds, cursor.orderId.uuidString)
        }.prefix(limit))
    }

    package func order(id: UUID) async throws -> Order? { entries.withLock { $0[id]?.order } }

    package func withSaga<T: Sendable>(orderId: UUID, _ body: @Sendable (any SagaStore) async throws -> T) async throws -> T {
        try await transaction.run { try await body(Store(repository: self, orderId: orderId)) }
    }

    package func claimOverdue(limit: Int, lease: Duration) async throws -> [UUID] {
        let now = Date()
        let overdue = entries.withLock { entries in
            entries.values.filter { ($0.state.deadline.map { $0 <= now } ?? false) }
                .sorted { $0.state.deadline! < $1.state.deadline! }.map(\.order.orderId)
        }
        return claims.withLock { claims in
            let claimed = Array(overdue.filter { claims[$0].map { $0 <= now } ?? true }.prefix(limit))
            for id in claimed { claims[id] = now + lease.timeInterval }
            return claimed
        }
    }

    private func newestFirst() -> [Order] {
        entries.withLock { $0.values.map(\.order) }.sorted {
            ($0.orderDate, $0.orderId.uuidString) > ($1.orderDate, $1.orderId.uuidString)
        }
    }

    struct Store: SagaStore {
        let repository: InMemoryOrderRepository
        let orderId: UUID

        func state() async throws -> SagaState? { repository.entries.withLock { $0[orderId]?.state } }

        func apply(_ decision: SagaDecision, entries: [PublishEntry], deadline: Date?) async throws {
            repository.entries.withLock { all in
                guard var entry = all[orderId] else { return }
                for change in decision.statuses {
                    entry.order.statusHistory.append(StatusChange(status: change.status, at: Date(), reason: change.reason))
                    entry.order.status = change.status
                    entry.state.status = change.status
                }
                entry.state.step = decision.step
                entry.order.cancelRequested = decision.step == .stoppingDispatch
                entry.state.deadline = deadline
                if let shipment = decision.shipment {
                    entry.state.shipment = shipment
                    entry.order.shipment = shipment
                }
                if let reason = decision.cancellationReason {
                    entry.state.cancellationReason = reason
                    entry.order.cancellationReason = reason
                }
                all[orderId] = entry
            }
            repository.outbox.withLock { $0 += entries }
        }
    }
}

extension DateInterval {
    fileprivate func contains(order: Order) -> Bool { order.orderDate >= start && order.orderDate < end }
}
