import Foundation
import ServiceKit

/// A catalog entry. `version` rises with every change so that consumers of catalog events can
/// ignore a late, older update.
package struct Product: Codable, Sendable, Equatable {
    package var id: UUID
    package var name: String
    package var description: String
    package var imageFile: String
    package var price: Decimal
    package var category: String
    /// Units available to order (reservations of open orders already taken off).
    package var stock: Int
    package var version: Int
    package var createdAt: Date
    package var updatedAt: Date
    /// Where its picture is (`/product/{id}/image?v=<its tag>`, new with every upload); null without one.
    @NullWhenAbsent package var imageUrl: String? = nil
}
