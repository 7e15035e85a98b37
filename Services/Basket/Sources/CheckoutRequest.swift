import Foundation
import ServiceKit

/// The body of `POST /basket/checkout`.
package struct CheckoutRequest: Codable, Sendable, Equatable {
    package var userName: String
    package var firstName: String
    package var lastName: String
    package var email: String
    package var address: String
    package var paymentMethod: String
    package var cardInfo: String
    /// The basket total the customer saw and confirmed (optional): a checkout at any other total is
    /// refused with 409 `PriceChanged` and the basket at the current prices.
    package var expectedTotal: Decimal?

    package func validated() throws -> CheckoutRequest {
        var request = self
        if let expectedTotal { try Money.validate(expectedTotal, field: "expectedTotal") }
        request.userName = try UserName.validate(userName)
        for (field, keyPath) in [("firstName", \CheckoutRequest.firstName), ("lastName", \.lastName), ("address", \.address), ("paymentMethod", \.paymentMethod)] {
            let value = self[keyPath: keyPath].trimmingCharacters(in: .whitespacesAndNewlines)
            guard !value.isEmpty else { throw Problem.unprocessable("\(field) must not be empty", field: field) }
            try TextRules.check(value, field: field, maximumLength: 500)
            request[keyPath: keyPath] = value
        }
        request.email = email.trimmingCharacters(in: .whitespacesAndNewlines)
        // Split on code points: a combining mark after `@` or `.` must not hide them.
        let scalars = request.email.unicodeScalars
        let parts = scalars.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[1].contains("."), scalars.count <= 254,
              !scalars.contains(where: { TextRules.isForbidden($0) || $0.properties.isWhitespace })
        else {
            throw Problem.unprocessable("email must be an address like name@example.com", field: "email")
        }
        request.cardInfo = try CardNumber.validate(cardInfo)
        return request
    }
}

/// Card numbers are checked, then only ever kept masked.
package enum CardNumber {
    /// The digits of a 12–19 digit card number written with optional spaces or dashes.
    package static func validate(_ raw: String) throws -> String {
        let digits = raw.filter { $0 != " " && $0 != "-" }
        guard (12...19).contains(digits.count), digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber) else {
            throw Problem.unprocessable("cardInfo must be a card number of 12 to 19 digits", field: "cardInfo")
        }
        return digits
    }

    /// `**** **** **** 4242`: the last four digits only.
    package static func mask(_ digits: String) -> String {
        "**** **** **** " + digits.suffix(4)
    }
}
