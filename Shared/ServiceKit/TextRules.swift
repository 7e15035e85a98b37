/// What stored text may hold: no control characters (C0, DEL, C1), no format characters
/// (zero-width, bidi overrides), no line or paragraph separators. Postgres refuses NUL in text,
/// and the others make names and addresses that look like something else.
package enum TextRules {
    package static func isForbidden(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .control, .format, .lineSeparator, .paragraphSeparator, .surrogate, .unassigned, .privateUse: true
        default: false
        }
    }

    /// One word: 1…`maximumLength` code points, no whitespace, control or format characters
    /// (user names, group names).
    package static func isWord(_ value: String, maximumLength: Int) -> Bool {
        let scalars = value.unicodeScalars
        return !scalars.isEmpty && scalars.count <= maximumLength
            && !scalars.contains(where: { $0.properties.isWhitespace || isForbidden($0) })
    }

    /// A 422 naming `field` when `value` is longer than `maximumLength` Unicode scalars (code
    /// points, as JSON Schema and the database count; not grapheme clusters, which combining marks
    /// make unbounded) or holds a forbidden character.
    package static func check(_ value: String, field: String, maximumLength: Int) throws {
        guard value.unicodeScalars.count <= maximumLength else {
            throw Problem.unprocessable("\(field) must be at most \(maximumLength) characters", field: field)
        }
        try check(value, field: field)
    }

    /// A 422 naming `field` when `value` holds a forbidden character.
    package static func check(_ value: String, field: String) throws {
        if let bad = value.unicodeScalars.first(where: isForbidden) {
            let code = "U+" + String(bad.value, radix: 16, uppercase: true).leftPadded(to: 4)
            throw Problem.unprocessable("\(field) must not contain control or format characters (found \(code))", field: field)
        }
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}

/// User names as every service accepts them: 1–128 Unicode scalars, no whitespace, control or
/// format characters. Never trimmed or normalised, so the name stored is the token's name.
package enum UserNameRules {
    package static let maximumLength = 128

    package static func isValid(_ name: String) -> Bool {
        TextRules.isWord(name, maximumLength: maximumLength)
    }
}
