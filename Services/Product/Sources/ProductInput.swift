import Foundation
import ServiceKit

/// The body of `POST /product` and `PUT /product/{id}`. Validation names the field at fault.
package struct ProductInput: Codable, Sendable {
    package var name: String
    package var description: String?
    package var imageFile: String?
    package var price: Decimal
    package var category: String

    package init(name: String, description: String? = nil, imageFile: String? = nil, price: Decimal, category: String) {
        self.name = name
        self.description = description
        self.imageFile = imageFile
        self.price = price
        self.category = category
    }

    /// Trims text fields and checks every rule; throws a 422 problem on the first failure.
    package func validated() throws -> ProductInput {
        var input = self
        input.name = name.trimmingCharacters(in: .whitespacesAndNewlines)
        input.category = category.trimmingCharacters(in: .whitespacesAndNewlines)
        input.description = (description ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        input.imageFile = (imageFile ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        guard !input.name.isEmpty else { throw Problem.unprocessable("name must not be empty", field: "name") }
        guard input.name.count <= 200 else { throw Problem.unprocessable("name must be at most 200 characters", field: "name") }
        guard !input.category.isEmpty else { throw Problem.unprocessable("category must not be empty", field: "category") }
        guard input.category.count <= 100 else { throw Problem.unprocessable("category must be at most 100 characters", field: "category") }
        guard (input.description ?? "").count <= 4000 else { throw Problem.unprocessable("description must be at most 4000 characters", field: "description") }
        guard (input.imageFile ?? "").count <= 500 else { throw Problem.unprocessable("imageFile must be at most 500 characters", field: "imageFile") }
        try TextRules.check(input.name, field: "name")
        try TextRules.check(input.category, field: "category")
        try TextRules.check(input.description ?? "", field: "description")
        try TextRules.check(input.imageFile ?? "", field: "imageFile")
        try Money.validate(price, field: "price")
        return input
    }
}
