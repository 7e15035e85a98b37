import EventBus
import Foundation

/// Every event and message on the shop's bus, declared once: source, detail-type and the detail's
/// Swift type. Producers publish with these values and consumers read with them.
package enum ShopEvents {
    // MARK: basket → ordering

    package static let checkoutBasket = EventType<CheckoutBasket>(source: "com.swn.basket.checkoutbasket", detailType: "CheckoutBasket")

    // MARK: product → basket (catalog changes)

    package static let productCreated = EventType<ProductChange>(source: productSource, detailType: "ProductCreated")
    package static let productPriceChanged = EventType<ProductChange>(source: productSource, detailType: "ProductPriceChanged")
    package static let productDeleted = EventType<ProductChange>(source: productSource, detailType: "ProductDeleted")
    package static let catalogChanges = [productCreated, productPriceChanged, productDeleted]

    static let productSource = "com.swn.product"

    /// Every declared event, for documentation and the consistency tests.
    package static let all: [EventName] = [checkoutBasket.name] + catalogChanges.map(\.name) + saga + fulfilment
}

/// The `CheckoutBasket` detail, and the body of the 202 answer to a checkout.
package struct CheckoutBasket: Codable, Sendable, Equatable {
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
    package var checkoutDate: Date

    package init(
        checkoutId: UUID, userName: String, firstName: String, lastName: String, email: String, address: String,
        paymentMethod: String, cardInfo: String, items: [OrderLine], totalPrice: Decimal, checkoutDate: Date
    ) {
        self.checkoutId = checkoutId
        self.userName = userName
        self.firstName = firstName
        self.lastName = lastName
        self.email = email
        self.address = address
        self.paymentMethod = paymentMethod
        self.cardInfo = cardInfo
        self.items = items
        self.totalPrice = totalPrice
        self.checkoutDate = checkoutDate
    }
}

/// One line of a checkout and of the order made from it; prices as the catalog had them.
package struct OrderLine: Codable, Sendable, Equatable {
    package var productId: UUID
    package var productName: String
    package var quantity: Int
    package var color: String
    package var price: Decimal

    package init(productId: UUID, productName: String, quantity: Int, color: String, price: Decimal) {
        self.productId = productId
        self.productName = productName
        self.quantity = quantity
        self.color = color
        self.price = price
    }
}

/// The detail of `ProductCreated`, `ProductPriceChanged` and `ProductDeleted`. `version` is the
/// product's version: consumers keep the newest and ignore a late, older event.
package struct ProductChange: Codable, Sendable, Equatable {
    package var productId: UUID
    package var name: String
    package var category: String
    package var price: Decimal
    /// The price before the change (`ProductPriceChanged` only).
    package var oldPrice: Decimal?
    package var version: Int

    package init(productId: UUID, name: String, category: String, price: Decimal, oldPrice: Decimal? = nil, version: Int) {
        self.productId = productId
        self.name = name
        self.category = category
        self.price = price
        self.oldPrice = oldPrice
        self.version = version
    }
}
