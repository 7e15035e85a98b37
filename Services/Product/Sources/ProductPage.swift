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

    /// A search's cursor (`SearchCursor`: `r`, the rank, then this form) names the same position
    /// here, its rank left aside: every cursor of the form is a position in either order.
    package init?(cursor text: Substring) {
        let text = SearchCursor.rankPrefix(of: text) == nil ? text : text.dropFirst(9)
        guard text.utf8.count >= 32, let id = CursorPart.decodeUUID(text.prefix(32)),
              let name = CursorPart.decodeText(text.dropFirst(32))
        else { return nil }
        self.init(name: name, id: id)
    }

    package var cursor: String { CursorPart.encode(uuid: id) + CursorPart.encode(text: name) }
    package static var pattern: String { "^(?:(?:r[0-9A-Fa-f]{8})?\(CursorPart.uuidPattern)\(CursorPart.textPattern))?$" }
    /// A search's rank, the id and a name of 200 scalars of up to 4 bytes each.
    package static var maximumLength: Int { 9 + 32 + 1067 }
}

/// One page of `GET /product`.
package typealias ProductPage = Page<Product>
