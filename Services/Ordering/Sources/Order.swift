import Contracts
import Foundation
import ServiceKit

/// An order made from one checkout. `checkoutId` is unique: a redelivered event makes no second order.
package struct Order: Codable, Sendable, Equatable {
    package var orderId: UUID
    package var checkoutId: UUID
    package var userName: String
    package var firstName: String
    package var lastName: String
    package var email: String
    package var address: String
    package var paymentMethod: String
    /// Masked: the last four digits only.
    package var cardInfo: String
    package var items: [OrderLine]
    package var totalPrice: Decimal
    /// When the customer checked out (not when the event was consumed).
    package var orderDate: Date
    package var status: OrderStatus
    package var statusHistory: [StatusChange]
}

/// An order's life; payment and stock steps will move it on from `Pending`.
package enum OrderStatus: String, Codable, Sendable {
    case pending = "Pending"
    case paid = "Paid"
    case shipped = "Shipped"
    case cancelled = "Cancelled"
}

package struct StatusChange: Codable, Sendable, Equatable {
    package var status: OrderStatus
    package var at: Date
}

extension OrderStatus {
    /// A status read back from the database; an unknown one is a defect, not `Pending`.
    init(stored: String) throws {
        guard let status = OrderStatus(rawValue: stored) else { throw UnreadableValue(column: "status", value: stored) }
        self = status
    }
}
