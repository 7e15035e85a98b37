import Contracts
import Foundation
import Synchronization

/// Orders in memory: for tests of the HTTP API and the handlers without a database. Creation is
/// idempotent per checkout, as with Postgres.
package final class InMemoryOrderRepository: OrderRepository {
    private let orders = Mutex<[UUID: Order]>([:])

    package init() {}

    package func createOrder(from checkout: CheckoutBasket) async throws -> Bool {
        orders.withLock { orders in
            guard orders[checkout.checkoutId] == nil else { return false }
            orders[checkout.checkoutId] = Order(
                orderId: UUID(), checkoutId: checkout.checkoutId, userName: checkout.userName, firstName: checkout.firstName,
                lastName: checkout.lastName, email: checkout.email, address: checkout.address, paymentMethod: checkout.paymentMethod,
                cardInfo: checkout.cardInfo, items: checkout.items, totalPrice: checkout.totalPrice, orderDate: checkout.checkoutDate,
                status: .pending, statusHistory: [StatusChange(status: .pending, at: Date())]
            )
            return true
        }
    }

    package func orders(of userName: String, on day: DateInterval?, limit: Int) async throws -> [Order] {
        Array(newestFirst().filter { order in order.userName == userName && (day.map { $0.contains(order: order) } ?? true) }.prefix(limit))
    }

    package func allOrders(before cursor: OrderCursor?, limit: Int) async throws -> [Order] {
        Array(newestFirst().filter { order in
            guard let cursor else { return true }
            let position = OrderCursor(orderDate: order.orderDate, orderId: order.orderId)
            return (position.orderDateMicroseconds, order.orderId.uuidString) < (cursor.orderDateMicroseconds, cursor.orderId.uuidString)
        }.prefix(limit))
    }

    private func newestFirst() -> [Order] {
        orders.withLock { Array($0.values) }.sorted {
            ($0.orderDate, $0.orderId.uuidString) > ($1.orderDate, $1.orderId.uuidString)
        }
    }
}

extension DateInterval {
    fileprivate func contains(order: Order) -> Bool { order.orderDate >= start && order.orderDate < end }
}
