import Foundation

/// A query string read as an HTML form sends it (`application/x-www-form-urlencoded`): `+` is a
/// space, `%2B` a plus; the first value of a name counts. Hummingbird's `queryParameters` decodes
/// `%XX` but leaves `+` as it is, so `?q=samsung+galaxy` from a form or a hand-typed URL would
/// search for `samsung+galaxy` and `?category=Smart+Phone` find nothing.
package struct FormQuery: Sendable {
    private var values: [String: String] = [:]

    package init(_ query: String?) {
        guard let query else { return }
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = Self.decode(parts[0])
            guard values[name] == nil else { continue }
            values[name] = parts.count > 1 ? Self.decode(parts[1]) : ""
        }
    }

    package subscript(name: String) -> String? { values[name] }

    /// `+` as a space, then `%XX`; text that is not valid percent-encoding is taken as it is.
    static func decode(_ raw: Substring) -> String {
        let spaced = raw.replacingOccurrences(of: "+", with: " ")
        return spaced.removingPercentEncoding ?? spaced
    }
}
