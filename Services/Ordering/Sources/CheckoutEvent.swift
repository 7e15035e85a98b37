import EventBus
import Foundation
import ServiceKit

/// The `CheckoutBasket` detail as the ordering service reads it.
package struct CheckoutEvent: Codable, Sendable {
    package static let source = "com.swn.basket.checkoutbasket"
    package static let detailType = "CheckoutBasket"

    package var checkoutId: UUID
    package var userName: String
    package var firstName: String
    package var lastName: String
    package var email: String
    package var address: String
    package var paymentMethod: String
    package var cardInfo: String
    package var items: [OrderItem]
    package var totalPrice: Decimal
    package var checkoutDate: Date
}

/// Why an event cannot become an order; such a message ends in the dead-letter queue.
package struct UnprocessableEvent: PermanentMessageFailure {
    package var reason: String
    package var description: String { "unprocessable event: \(reason)" }
}

extension CheckoutEvent {
    /// Rejects events no order should be made from.
    package func validate() throws {
        guard !userName.isEmpty else { throw UnprocessableEvent(reason: "userName is empty") }
        guard !items.isEmpty else { throw UnprocessableEvent(reason: "no items") }
        guard items.allSatisfy({ $0.quantity > 0 && $0.price >= 0 }) else {
            throw UnprocessableEvent(reason: "an item has a non-positive quantity or a negative price")
        }
        for (field, value) in [("userName", userName), ("firstName", firstName), ("lastName", lastName), ("email", email),
                               ("address", address), ("paymentMethod", paymentMethod), ("cardInfo", cardInfo)]
        where value.unicodeScalars.contains(where: TextRules.isForbidden) {
            throw UnprocessableEvent(reason: "\(field) holds control characters")
        }
        let total = items.reduce(Decimal(0)) { $0 + Decimal($1.quantity) * $1.price }
        guard total <= Money.maximum else { throw UnprocessableEvent(reason: "totalPrice \(total) exceeds \(Money.maximum)") }
        guard total == totalPrice else {
            throw UnprocessableEvent(reason: "totalPrice \(totalPrice) is not the sum of the items (\(total))")
        }
        // The basket sends masked cards; an unmasked number would be stored, so refuse it.
        guard cardInfo.filter(\.isNumber).count <= 4 else {
            throw UnprocessableEvent(reason: "cardInfo is not masked")
        }
    }
}
