import Contracts
import EventBus
import Foundation
import ServiceKit

/// What ordering accepts of a `CheckoutBasket` event before making an order of it. A violation is
/// an `UnprocessableMessage`: the message goes to the dead-letter queue at once.
package enum CheckoutValidation {
    package static func validate(_ checkout: CheckoutBasket) throws {
        guard !checkout.userName.isEmpty else { throw UnprocessableMessage("userName is empty") }
        guard !checkout.items.isEmpty else { throw UnprocessableMessage("no items") }
        guard checkout.items.allSatisfy({ $0.quantity > 0 && $0.price >= 0 }) else {
            throw UnprocessableMessage("an item has a non-positive quantity or a negative price")
        }
        for (field, value) in [("userName", checkout.userName), ("firstName", checkout.firstName), ("lastName", checkout.lastName),
                               ("email", checkout.email), ("address", checkout.address), ("paymentMethod", checkout.paymentMethod),
                               ("cardInfo", checkout.cardInfo)]
        where value.unicodeScalars.contains(where: TextRules.isForbidden) {
            throw UnprocessableMessage("\(field) holds control characters")
        }
        let total = checkout.items.reduce(Decimal(0)) { $0 + Decimal($1.quantity) * $1.price }
        guard total <= Money.maximum else { throw UnprocessableMessage("totalPrice \(total) exceeds \(Money.maximum)") }
        guard total == checkout.totalPrice else {
            throw UnprocessableMessage("totalPrice \(checkout.totalPrice) is not the sum of the items (\(total))")
        }
        // The basket sends masked cards; an unmasked number would be stored, so refuse it.
        guard checkout.cardInfo.filter(\.isNumber).count <= 4 else {
            throw UnprocessableMessage("cardInfo is not masked")
        }
    }
}
