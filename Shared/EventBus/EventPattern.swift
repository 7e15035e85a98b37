import Foundation

/// An EventBridge event pattern. Supported: exact values (strings, numbers, booleans, null) in lists,
/// nested objects, and the `prefix`, `anything-but` and `exists` filters.
package struct EventPattern: Sendable, Equatable, Codable {
    package let pattern: JSONValue

    package init(_ pattern: JSONValue) {
        self.pattern = pattern
    }

    package init(json: String) throws {
        self.pattern = try JSONDecoder().decode(JSONValue.self, from: Data(json.utf8))
    }

    package init(from decoder: any Decoder) throws {
        self.pattern = try JSONValue(from: decoder)
    }

    package func encode(to encoder: any Encoder) throws {
        try pattern.encode(to: encoder)
    }

    package func matches(_ event: JSONValue) -> Bool {
        Self.matches(pattern: pattern, value: event)
    }

    private static func matches(pattern: JSONValue, value: JSONValue?) -> Bool {
        switch pattern {
        case .object(let fields):
            // Every field of the pattern must match (AND).
            return fields.allSatisfy { key, fieldPattern in matches(pattern: fieldPattern, value: value?[key]) }
        case .array(let alternatives):
            // Any alternative matching any of the event's values (OR).
            return alternatives.contains { alternative in matchesLeaf(alternative, value) }
        default:
            return false
        }
    }

    private static func matchesLeaf(_ filter: JSONValue, _ value: JSONValue?) -> Bool {
        if case .object(let operators) = filter, operators.count == 1, let (name, argument) = operators.first {
            switch name {
            case "exists":
                let present = value != nil
                return argument == .bool(present)
            case "prefix":
                guard case .string(let prefix) = argument else { return false }
                return candidates(value).contains { if case .string(let s) = $0 { return s.hasPrefix(prefix) }; return false }
            case "anything-but":
                guard let value else { return false }
                let excluded: [JSONValue] = if case .array(let list) = argument { list } else { [argument] }
                return candidates(value).allSatisfy { !excluded.contains($0) }
            default:
                return false
            }
        }
        return candidates(value).contains(filter)
    }

    /// An array in the event matches when any of its elements does.
    private static func candidates(_ value: JSONValue?) -> [JSONValue] {
        switch value {
        case .none: return []
        case .array(let elements): return elements
        case .some(let single): return [single]
        }
    }
}
