import Foundation
import ServiceKit

/// The body of `POST /basket`. Any `productName` or `price` a client sends is ignored.
package struct BasketInput: Codable, Sendable {
    package struct Item: Codable, Sendable {
        package var productId: UUID
        package var quantity: Int
        package var color: String?

        init(productId: UUID, quantity: Int, color: String?) {
            self.productId = productId
            self.quantity = quantity
            self.color = color
        }

        /// Decodes `quantity` as a number first, so that `1.5` is reported as this field's error
        /// (Foundation's decoder reports it without a coding path).
        package init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            productId = try container.decode(UUID.self, forKey: .productId)
            color = try container.decodeIfPresent(String.self, forKey: .color)
            let number = try container.decode(Decimal.self, forKey: .quantity)
            guard number == number.rounded(0), let whole = Int(exactly: NSDecimalNumber(decimal: number)) else {
                throw DecodingError.typeMismatch(Int.self, .init(
                    codingPath: container.codingPath + [CodingKeys.quantity], debugDescription: "not a whole number"
                ))
            }
            quantity = whole
        }
    }

    package var userName: String
    package var items: [Item]

    static let maximumQuantity = 1000
    static let maximumLines = 100

    /// Checks the rules and merges lines of the same product and color.
    package func validated() throws -> BasketInput {
        var input = self
        input.userName = try UserName.validate(userName)
        guard items.count <= Self.maximumLines else {
            throw Problem.unprocessable("a basket holds at most \(Self.maximumLines) lines", field: "items")
        }
        var merged: [Item] = []
        for (index, item) in items.enumerated() {
            guard (1...Self.maximumQuantity).contains(item.quantity) else {
                throw Problem.unprocessable("quantity must be from 1 to \(Self.maximumQuantity)", field: "items[\(index)].quantity")
            }
            let color = (item.color ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
            try TextRules.check(color, field: "items[\(index)].color", maximumLength: 50)
            if let existing = merged.firstIndex(where: { $0.productId == item.productId && $0.color == color }) {
                merged[existing].quantity += item.quantity
                guard merged[existing].quantity <= Self.maximumQuantity else {
                    throw Problem.unprocessable("quantity must be from 1 to \(Self.maximumQuantity)", field: "items[\(index)].quantity")
                }
            } else {
                merged.append(Item(productId: item.productId, quantity: item.quantity, color: color))
            }
        }
        input.items = merged
        return input
    }
}

package enum UserName {
    /// A user name as every service accepts it (`UserNameRules`), else a 422 naming the field.
    package static func validate(_ name: String, field: String = "userName") throws -> String {
        guard UserNameRules.isValid(name) else {
            throw Problem.unprocessable("\(field) must be 1 to \(UserNameRules.maximumLength) characters without whitespace or control characters", field: field)
        }
        return name
    }
}
