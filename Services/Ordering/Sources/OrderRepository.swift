import Foundation

/// Storage of orders.
package protocol OrderRepository: Sendable {
    /// Creates the order for a checkout unless one exists; true when it was created now.
    func createOrder(from checkout: CheckoutEvent) async throws -> Bool
    /// A user's orders, newest first, optionally only those of one UTC day.
    func orders(of userName: String, on day: DateInterval?, limit: Int) async throws -> [Order]
    /// All orders, newest first, before `cursor` (an order date).
    func allOrders(before cursor: OrderCursor?, limit: Int) async throws -> [Order]
}

/// A page position in the newest-first list of all orders.
package struct OrderCursor: Sendable, Equatable {
    package var orderDate: Date
    package var orderId: UUID

    package init(orderDate: Date, orderId: UUID) {
        self.orderDate = orderDate
        self.orderId = orderId
    }
}
