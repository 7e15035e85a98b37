import Foundation

/// The detail of `ProductCreated`, `ProductPriceChanged` and `ProductDeleted` (source `com.swn.product`).
/// `version` is the product row's version: consumers keep the newest and ignore late, older events.
package struct CatalogEvent: Codable, Sendable, Equatable {
    package static let source = "com.swn.product"

    package enum Kind: String, Sendable {
        case created = "ProductCreated"
        case priceChanged = "ProductPriceChanged"
        case deleted = "ProductDeleted"
    }

    package var productId: UUID
    package var name: String
    package var category: String
    package var price: Decimal
    /// The price before the change (`ProductPriceChanged` only).
    package var oldPrice: Decimal?
    package var version: Int
}
