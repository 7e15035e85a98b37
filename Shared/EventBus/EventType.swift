import Foundation

/// One kind of event or message on the bus: its `source`, its `detail-type` and the Swift type of
/// its detail. Producers build their outbox entries from it and consumers read envelopes with it,
/// so the strings exist once (the shop's are declared in `Shared/Contracts`).
package struct EventType<Detail: Codable & Sendable>: Sendable {
    package let source: String
    package let detailType: String

    package init(source: String, detailType: String) {
        self.source = source
        self.detailType = detailType
    }

    /// The name, as rules and patterns use it (with the detail's Swift type, for documentation).
    package var name: EventName { EventName(source: source, detailType: detailType, detail: String(describing: Detail.self)) }

    /// An entry for `PutEvents` (or the outbox) carrying `detail`.
    package func entry(_ detail: Detail, time: Date? = nil) throws -> PublishEntry {
        PublishEntry(source: source, detailType: detailType, detail: try JSONValue(encoding: detail), time: time)
    }

    /// The detail when `envelope` is of this type, nil when it is of another. A detail of this
    /// type that does not decode is an `UnprocessableMessage` (it would fail the same way forever).
    package func detail(of envelope: EventEnvelope) throws -> Detail? {
        guard envelope.source == source, envelope.detailType == detailType else { return nil }
        do {
            return try envelope.detail.decode(as: Detail.self)
        } catch {
            throw UnprocessableMessage("malformed \(detailType) event: \(error)")
        }
    }
}

/// An event type's `source` and `detail-type`, which are its identity; and, when it comes from an
/// `EventType`, the Swift type of its detail (for the README's events table).
package struct EventName: Sendable, Hashable, CustomStringConvertible {
    package let source: String
    package let detailType: String
    /// The detail's Swift type; not part of the name (two names with the same source and detail-type
    /// are equal).
    package let detail: String?

    package init(source: String, detailType: String, detail: String? = nil) {
        self.source = source
        self.detailType = detailType
        self.detail = detail
    }

    package static func == (lhs: EventName, rhs: EventName) -> Bool {
        lhs.source == rhs.source && lhs.detailType == rhs.detailType
    }

    package func hash(into hasher: inout Hasher) {
        hasher.combine(source)
        hasher.combine(detailType)
    }

    package var description: String { "\(source)/\(detailType)" }
}

/// A message no retry can mend: not an event envelope, an event no handler of this queue knows,
/// or a detail that does not decode or breaks the rules. The consumer moves it to the dead-letter
/// queue at once, with this reason.
package struct UnprocessableMessage: PermanentMessageFailure, Equatable {
    package let reason: String

    package init(_ reason: String) {
        self.reason = reason
    }

    package var description: String { "unprocessable event: \(reason)" }
}

extension EventEnvelope {
    /// The envelope of a queue message; a body that is not one can never be handled.
    package init(message: QueueMessage) throws {
        do {
            self = try EventEnvelope(json: message.body)
        } catch {
            throw UnprocessableMessage("not an EventBridge event: \(error)")
        }
    }
}
