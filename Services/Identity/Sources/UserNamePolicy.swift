import Foundation

/// The user names this pool accepts, and the key that makes them unique regardless of case.
///
/// Stricter than Cognito's `[\p{L}\p{M}\p{S}\p{N}\p{P}]+`: a user name travels in URL paths
/// (`/basket/{userName}`) and is compared byte for byte by every service, so it holds letters,
/// marks, digits and `_ . - @ +` only, in the form Unicode normalisation would not change (so that
/// `\u{212A}helga`, KELVIN SIGN, is refused rather than stored beside `Khelga`).
package enum UserNamePolicy {
    package static let maximumLength = 128
    static let punctuation: Set<Unicode.Scalar> = ["_", ".", "-", "@", "+"]
    static let reserved: Set<String> = ["checkout"]

    /// Why `name` is refused, or nil.
    package static func violation(_ name: String) -> String? {
        guard !name.isEmpty else { return "Username must not be empty" }
        guard name.unicodeScalars.count <= maximumLength else { return "Username must be at most \(maximumLength) characters" }
        for scalar in name.unicodeScalars {
            switch scalar.properties.generalCategory {
            case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter,
                 .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber, .letterNumber, .otherNumber:
                continue
            default:
                if punctuation.contains(scalar) { continue }
                return "Username may hold letters, digits and _ . - @ + only (found U+\(String(scalar.value, radix: 16, uppercase: true)))"
            }
        }
        guard name.precomposedStringWithCompatibilityMapping.utf8.elementsEqual(name.utf8) else {
            return "Username must be in Unicode normalization form NFKC"
        }
        // `/basket/checkout` is a route of its own, so a user of that name could not reach their basket.
        guard !reserved.contains(key(name)) else { return "Username \(name) is reserved" }
        return nil
    }

    /// The case-insensitive identity of a name: two names with the same key cannot both exist.
    package static func key(_ name: String) -> String {
        name.precomposedStringWithCompatibilityMapping.lowercased().precomposedStringWithCompatibilityMapping
    }
}

/// Cognito's lockout: from `threshold` failed sign-ins in a row the user is locked out for a time
/// that doubles with each further failure (1 s, 2 s, 4 s … at most 15 minutes).
package enum SignInLockout {
    package static let threshold = 5
    package static let firstLock: Duration = .seconds(1)
    package static let longestLock: Duration = .seconds(15 * 60)

    /// How long a user is locked out after `failures` failed sign-ins in a row, this one included;
    /// nil: not locked out.
    package static func lock(afterFailures failures: Int) -> Duration? {
        guard failures >= threshold else { return nil }
        let doublings = min(failures - threshold, 20)
        return min(firstLock * (1 << doublings), longestLock)
    }
}
