import Contracts
import Foundation

/// Storage of orders.
package protocol OrderRepository: Sendable {
    /// Creates the order for a checkout unless one exists; true when it was created now.
    func createOrder(from checkout: CheckoutBasket) async throws -> Bool
    /// A user's orders, newest first, optionally only those of one UTC day.
    func orders(of userName: String, on day: DateInterval?, limit: Int) async throws -> [Order]
    /// All orders, newest first, before `cursor` (an order date).
    func allOrders(before cursor: OrderCursor?, limit: Int) async throws -> [Order]
}

/// A page position in the newest-first list of all orders: after the order with this date and id.
/// The date travels in microseconds, Postgres's precision, so no order is skipped or repeated.
package struct OrderCursor: Codable, Sendable, Equatable {
    package var orderDateMicroseconds: Int64
    package var orderId: UUID

    package init(orderDate: Date, orderId: UUID) {
        self.orderDateMicroseconds = Int64((orderDate.timeIntervalSince1970 * 1_000_000).rounded())
        self.orderId = orderId
    }

    package var orderDate: Date { Date(timeIntervalSince1970: Double(orderDateMicroseconds) / 1_000_000) }
}
