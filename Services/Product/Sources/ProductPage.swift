import Foundation
import ServiceKit

/// Where a page of `GET /product` (ordered by name, then id) starts: after the product with this
/// name and id. Clients see it only as the opaque `nextCursor` (`PageRequest`).
package struct ProductCursor: Codable, Sendable, Equatable {
    package var name: String
    package var id: UUID

    package init(name: String, id: UUID) {
        self.name = name
        self.id = id
    }
}

/// One page of `GET /product`.
package typealias ProductPage = Page<Product>
