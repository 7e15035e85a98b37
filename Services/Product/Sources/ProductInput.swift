import Foundation
import ServiceKit

/// The body of `POST /product` and `PUT /product/{id}`. Validation names the field at fault.
package struct ProductInput: Codable, Sendable {
    package var name: String
    package var description: String?
    package var imageFile: String?
    package var price: Decimal
    package var category: String
    /// Units available: `POST` defaults it to 0; `PUT` keeps the current stock when it is absent, and
    /// takes it only with `If-Match` (a stock set outright must not undo units sold meanwhile).
    package var stock: Int?
    /// `PUT` only: units to add (or, negative, to take away) from the stock as it is at that moment.
    package var stockDelta: Int?

    package static let maximumStock = 1_000_000_000

    package init(name: String, description: String? = nil, imageFile: String? = nil, price: Decimal, category: String, stock: Int? = nil) {
        self.name = name
        self.description = description
        self.imageFile = imageFile
        self.price = price
        self.category = category
        self.stock = stock
    }

    /// Trims text fields and checks every rule; throws a 422 problem on the first failure.
    package func validated() throws -> ProductInput {
        var input = self
        input.name = name.trimmingCharacters(in: .whitespacesAndNewlines)
        input.category = category.trimmingCharacters(in: .whitespacesAndNewlines)
        input.description = (description ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        input.imageFile = (imageFile ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        guard !input.name.isEmpty else { throw Problem.unprocessable("name must not be empty", field: "name") }
        guard !input.category.isEmpty else { throw Problem.unprocessable("category must not be empty", field: "category") }
        try TextRules.check(input.name, field: "name", maximumLength: 200)
        try TextRules.check(input.category, field: "category", maximumLength: 100)
        try TextRules.check(input.description ?? "", field: "description", maximumLength: 4000)
        try TextRules.check(input.imageFile ?? "", field: "imageFile", maximumLength: 500)
        try Money.validate(price, field: "price")
        if let stock, !(0...Self.maximumStock).contains(stock) {
            throw Problem.unprocessable("stock must be a whole number from 0 to \(Self.maximumStock)", field: "stock")
        }
        if let stockDelta {
            guard stock == nil else { throw Problem.badRequest("give stock or stockDelta, not both", field: "stockDelta") }
            guard (-Self.maximumStock...Self.maximumStock).contains(stockDelta) else {
                throw Problem.unprocessable("stockDelta must be a whole number from -\(Self.maximumStock) to \(Self.maximumStock)", field: "stockDelta")
            }
        }
        return input
    }
}
