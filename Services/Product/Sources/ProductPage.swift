import Foundation
import ServiceKit

/// Where a page of `GET /product` (ordered by name, then id) starts: after the product with this
/// name and id. As a cursor: the id's 32 hex digits, then the name in base64url.
package struct ProductCursor: PageCursor, Equatable {
    package var name: String
    package var id: UUID

    package init(name: String, id: UUID) {
        self.name = name
        self.id = id
    }

    package init?(cursor text: Substring) {
        guard text.utf8.count >= 32, let id = CursorPart.decodeUUID(text.prefix(32)),
              let name = CursorPart.decodeText(text.dropFirst(32))
        else { return nil }
        self.init(name: name, id: id)
    }

    package var cursor: String { CursorPart.encode(uuid: id) + CursorPart.encode(text: name) }
    package static var pattern: String { "^(?:\(CursorPart.uuidPattern)\(CursorPart.textPattern))?$" }
    /// The id and a name of 200 scalars of up to 4 bytes each.
    package static var maximumLength: Int { 32 + 1067 }
}

/// One page of `GET /product`.
package typealias ProductPage = Page<Product>
