import Foundation

/// The `CheckoutBasket` event's detail, and the body of the 202 answer to a checkout.
package struct CheckoutBasket: Codable, Sendable, Equatable {
    package static let source = "com.swn.basket.checkoutbasket"
    package static let detailType = "CheckoutBasket"

    package var checkoutId: UUID
    package var userName: String
    package var firstName: String
    package var lastName: String
    package var email: String
    package var address: String
    package var paymentMethod: String
    /// Masked: the last four digits only.
    package var cardInfo: String
    package var items: [BasketItem]
    package var totalPrice: Decimal
    package var checkoutDate: Date
}
