import Foundation

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

    /// Σ quantity × price.
    package static func total(of items: [BasketItem]) -> Decimal {
        items.reduce(Decimal(0)) { $0 + Decimal($1.quantity) * $1.price }
    }
}

package struct BasketItem: Codable, Sendable, Equatable {
    package var productId: UUID
    package var productName: String
    package var quantity: Int
    package var color: String
    package var price: Decimal
}
