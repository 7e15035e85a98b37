import Foundation
import ServiceKit

/// A user's basket. Names and prices come from the catalog, never from the client.
package struct Basket: Codable, Sendable, Equatable {
    package var userName: String
    package var items: [BasketItem]
    package var totalPrice: Decimal

    package init(userName: String, items: [BasketItem]) {
        self.userName = userName
        self.items = items
        self.totalPrice = Basket.total(of: items)
    }

    /// Σ quantity × price over the items still available.
    package static func total(of items: [BasketItem]) -> Decimal {
        items.filter(\.available).reduce(Decimal(0)) { $0 + Decimal($1.quantity) * $1.price }
    }

    /// Every line total and the basket's total must fit the money range (`NUMERIC(12,2)`, what
    /// orders store): a 422 naming the line, or `totalPrice`, before anything is stored or published.
    package static func checkAmounts(of items: [BasketItem]) throws {
        for (index, item) in items.enumerated() where Decimal(item.quantity) * item.price > Money.maximum {
            throw Problem.unprocessable(
                "quantity × price of this line exceeds the largest amount, \(Money.maximum); lower the quantity",
                field: "items[\(index)].quantity"
            )
        }
        guard total(of: items) <= Money.maximum else {
            throw Problem.unprocessable("the basket's total exceeds the largest amount, \(Money.maximum); remove items", field: "totalPrice")
        }
    }
}

package struct BasketItem: Codable, Sendable, Equatable {
    package var productId: UUID
    package var productName: String
    package var quantity: Int
    package var color: String
    package var price: Decimal
    /// The price when the user last looked, when it has changed since (catalog events move prices).
    package var previousPrice: Decimal?
    /// False once the product was deleted from the catalog; such an item blocks checkout.
    package var available: Bool = true

    package init(productId: UUID, productName: String, quantity: Int, color: String, price: Decimal, previousPrice: Decimal? = nil, available: Bool = true) {
        self.productId = productId
        self.productName = productName
        self.quantity = quantity
        self.color = color
        self.price = price
        self.previousPrice = previousPrice
        self.available = available
    }
}
