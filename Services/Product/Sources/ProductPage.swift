import Foundation
import ServiceKit

/// One page of `GET /product`, ordered by name then id; `nextCursor` fetches the following page.
package struct ProductPage: Codable, Sendable {
    package var items: [Product]
    package var nextCursor: String?
}

/// Where a page starts: after the product with this name and id. Opaque to clients (base64url JSON).
package struct ProductCursor: Codable, Sendable, Equatable {
    package var name: String
    package var id: UUID

    package init(name: String, id: UUID) {
        self.name = name
        self.id = id
    }

    package init?(encoded: String) {
        guard let data = Data(base64URL: encoded),
              let cursor = try? JSONDecoder().decode(ProductCursor.self, from: data)
        else { return nil }
        self = cursor
    }

    package var encoded: String {
        ((try? JSONEncoder().encode(self)) ?? Data()).base64URLEncoded
    }
}
