import Foundation

/// Reads a service's configuration from environment variables.
///
/// Every service takes its settings from the process environment; tests pass a dictionary instead.
/// Unknown or malformed values fail at start-up with the variable's name, never silently.
package struct Settings: Sendable {
    package let values: [String: String]

    package init(_ values: [String: String] = ProcessInfo.processInfo.environment) {
        self.values = values
    }

    package func string(_ key: String, default defaultValue: String) -> String {
        guard let value = values[key], !value.isEmpty else { return defaultValue }
        return value
    }

    package func optionalString(_ key: String) -> String? {
        guard let value = values[key], !value.isEmpty else { return nil }
        return value
    }

    /// A comma-separated list, items trimmed, empty items dropped.
    package func list(_ key: String, default defaultValue: String) -> [String] {
        string(key, default: defaultValue).split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    package func int(_ key: String, default defaultValue: Int) throws -> Int {
        guard let raw = optionalString(key) else { return defaultValue }
        guard let value = Int(raw) else { throw SettingsError(key: key, value: raw, expected: "an integer") }
        return value
    }

    /// An integer within `range`.
    package func int(_ key: String, default defaultValue: Int, in range: ClosedRange<Int>) throws -> Int {
        let value = try int(key, default: defaultValue)
        guard range.contains(value) else { throw SettingsError(key: key, value: String(value), expected: "an integer in \(range.lowerBound)...\(range.upperBound)") }
        return value
    }

    package func bool(_ key: String, default defaultValue: Bool) throws -> Bool {
        guard let raw = optionalString(key)?.lowercased() else { return defaultValue }
        switch raw {
        case "1", "true", "yes", "on": return true
        case "0", "false", "no", "off": return false
        default: throw SettingsError(key: key, value: raw, expected: "true or false")
        }
    }

    /// A duration given in milliseconds.
    package func milliseconds(_ key: String, default defaultValue: Int) throws -> Duration {
        .milliseconds(try int(key, default: defaultValue))
    }
}

package struct SettingsError: Error, CustomStringConvertible {
    package let key: String
    package let value: String
    package let expected: String

    package init(key: String, value: String, expected: String) {
        self.key = key
        self.value = value
        self.expected = expected
    }

    package var description: String { "environment variable \(key)=\(value) is not \(expected)" }
}
