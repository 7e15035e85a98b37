import Foundation
import Synchronization

/// Reads a service's configuration from environment variables.
///
/// Every service takes its settings from the process environment; tests pass a dictionary instead.
/// Unknown or malformed values fail at start-up with the variable's name, never silently.
package struct Settings: Sendable {
    package let values: [String: String]
    /// Every setting read through this value (and its copies): what the process runs with, printed
    /// at start (`ShopProcess`) and compared with `ShopSettings` by the tests.
    package let reads: SettingsReads

    package init(_ values: [String: String] = ProcessInfo.processInfo.environment) {
        self.values = values
        self.reads = SettingsReads()
    }

    package func string(_ key: String, default defaultValue: String) -> String {
        string(key, default: defaultValue, kind: .text)
    }

    private func string(_ key: String, default defaultValue: String, kind: SettingKind) -> String {
        guard let value = values[key], !value.isEmpty else {
            reads.record(key, kind: kind, default: defaultValue, value: nil)
            return defaultValue
        }
        reads.record(key, kind: kind, default: defaultValue, value: value)
        return value
    }

    package func optionalString(_ key: String) -> String? {
        guard let value = values[key], !value.isEmpty else {
            reads.record(key, kind: .text, default: nil, value: nil)
            return nil
        }
        reads.record(key, kind: .text, default: nil, value: value)
        return value
    }

    /// A comma-separated list, items trimmed, empty items dropped.
    package func list(_ key: String, default defaultValue: String) -> [String] {
        string(key, default: defaultValue, kind: .list).split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    package func int(_ key: String, default defaultValue: Int) throws -> Int {
        try int(key, default: defaultValue, kind: .integer)
    }

    private func int(_ key: String, default defaultValue: Int, kind: SettingKind) throws -> Int {
        let raw = string(key, default: String(defaultValue), kind: kind)
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
        let raw = string(key, default: String(defaultValue), kind: .boolean).lowercased()
        switch raw {
        case "1", "true", "yes", "on": return true
        case "0", "false", "no", "off": return false
        default: throw SettingsError(key: key, value: raw, expected: "true or false")
        }
    }

    /// A duration given in milliseconds.
    package func milliseconds(_ key: String, default defaultValue: Int) throws -> Duration {
        .milliseconds(try int(key, default: defaultValue, kind: .milliseconds))
    }
}

/// What a setting holds, as read.
package enum SettingKind: String, Sendable, CaseIterable {
    case text, integer, boolean, milliseconds, list
}

/// The settings a process read: name, kind, default (nil: none) and the value given (nil: the default).
package final class SettingsReads: Sendable {
    package struct Read: Sendable, Equatable {
        package var kind: SettingKind
        package var defaultValue: String?
        package var value: String?
    }

    private let reads = Mutex<[String: Read]>([:])

    package init() {}

    func record(_ key: String, kind: SettingKind, default defaultValue: String?, value: String?) {
        reads.withLock { reads in
            // A typed read (with its kind and default) is not replaced by a later optional read of the
            // same setting; an optional read first and a typed one after (`DATABASE_MIN_CONNECTIONS`)
            // leaves the typed one.
            if let earlier = reads[key], earlier.defaultValue != nil, defaultValue == nil { return }
            reads[key] = Read(kind: kind, defaultValue: defaultValue, value: value)
        }
    }

    package var all: [String: Read] { reads.withLock { $0 } }
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
