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
    /// Why the order was cancelled; null unless it was.
    @NullWhenAbsent package var cancellationReason: CancellationReason?
    package var statusHistory: [StatusChange]
    /// The parcel, from `Completed` on; null before.
    @NullWhenAbsent package var shipment: OrderShipment? = nil
    /// A customer's cancel of the completed order waits for shipping's answer.
    package var cancelRequested: Bool = false
}

package struct StatusChange: Codable, Sendable, Equatable {
    package var status: OrderStatus
    package var at: Date
    package var reason: String?

    package init(status: OrderStatus, at: Date, reason: String? = nil) {
        self.status = status
        self.at = at
        self.reason = reason
    }
}

extension OrderStatus {
    /// A status read back from the database; an unknown one is a defect, not `Pending`.
    init(stored: String) throws {
        guard let status = OrderStatus(rawValue: stored) else { throw UnreadableValue(column: "status", value: stored) }
        self = status
    }
}
