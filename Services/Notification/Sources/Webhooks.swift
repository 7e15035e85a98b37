import Contracts
import EventBus
import Foundation
import ServiceKit

/// An endpoint an admin subscribed to order events (`POST /webhook`). Its secret is not part of it:
/// it is shown once, in the answer to the `POST`.
package struct Webhook: Codable, Sendable, Equatable {
    package var id: UUID
    package var url: String
    package var events: [String]
    @NullWhenAbsent package var description: String?
    package var createdAt: Date

    package init(id: UUID, url: String, events: [String], description: String?, createdAt: Date) {
        self.id = id
        self.url = url
        self.events = events
        self.description = description
        self.createdAt = createdAt
    }
}

/// The answer to `POST /webhook`: the endpoint and, this once, its signing secret.
package struct CreatedWebhook: Encodable, Sendable {
    package var webhook: Webhook
    package var secret: String

    package func encode(to encoder: any Encoder) throws {
        try webhook.encode(to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(secret, forKey: .secret)
    }

    enum CodingKeys: String, CodingKey { case secret }
}

/// The body of `POST /webhook`.
package struct WebhookInput: Decodable, Sendable {
    package var url: String
    package var events: [String]
    package var description: String?

    static let maximumURLLength = 2048
    static let maximumDescriptionLength = 500

    /// The input with its rules checked (every failure a 4xx naming the field); the address itself is
    /// checked by the caller against `WebhookAddressPolicy` after resolving the host.
    package func validated(policy: WebhookAddressPolicy) throws -> WebhookInput {
        var valid = self
        valid.url = url.trimmingCharacters(in: .whitespaces)
        guard !valid.url.isEmpty, valid.url.utf8.count <= Self.maximumURLLength else {
            throw Problem.unprocessable("url must be an http(s) URL of at most \(Self.maximumURLLength) bytes", field: "url")
        }
        do {
            _ = try policy.check(url: valid.url)
        } catch {
            throw Problem.unprocessable("url: \(error)", field: "url")
        }
        guard !events.isEmpty else { throw Problem.badRequest("events must name at least one of \(Self.eventNames)", field: "events") }
        for (index, event) in events.enumerated() where OrderEmail.Event(rawValue: event) == nil {
            throw Problem.badRequest("events[\(index)] must be one of \(Self.eventNames), not '\(event.prefix(64))'", field: "events[\(index)]")
        }
        valid.events = OrderEmail.Event.allCases.map(\.rawValue).filter(events.contains)
        if let text = description {
            let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
            try TextRules.check(trimmed, field: "description", maximumLength: Self.maximumDescriptionLength)
            valid.description = trimmed.isEmpty ? nil : trimmed
        }
        return valid
    }

    static var eventNames: String { OrderEmail.Event.allCases.map(\.rawValue).joined(separator: ", ") }
}

/// One event for one endpoint: `id` is the `webhook-id` every attempt carries, so receivers can
/// deduplicate.
package struct WebhookDelivery: Codable, Sendable, Equatable {
    /// `pending` (to be tried, or being tried), `delivered` (a 2xx answer), `dead` (no 2xx within the
    /// retry window: dead-lettered, kept here for the admin to see).
    package enum Status: String, Codable, Sendable, CaseIterable { case pending, delivered, dead }

    package struct Attempt: Codable, Sendable, Equatable {
        package var attempt: Int
        package var at: Date
        /// The receiver's HTTP status; null when there was no answer (refused address, timeout, connection error).
        @NullWhenAbsent package var statusCode: Int?
        @NullWhenAbsent package var error: String?
        package var durationMs: Int
    }

    package var id: String
    package var webhookId: UUID
    package var event: String
    package var orderId: UUID
    package var status: Status
    /// Attempts started so far.
    package var attempts: Int
    @NullWhenAbsent package var nextAttemptAt: Date?
    package var createdAt: Date
    @NullWhenAbsent package var deliveredAt: Date?
    @NullWhenAbsent package var lastStatusCode: Int?
    @NullWhenAbsent package var lastError: String?
    /// The attempts, oldest first (the latest 20).
    package var history: [Attempt]

    /// The `webhook-id` of a delivery row.
    package static func messageID(_ id: UUID) -> String { "msg_" + id.uuidString.lowercased().replacingOccurrences(of: "-", with: "") }

    /// The row's id back from a `webhook-id`.
    package static func rowID(_ messageID: String) -> UUID? {
        let hex = Array(messageID.dropFirst(4))
        guard messageID.hasPrefix("msg_"), hex.count == 32 else { return nil }
        let groups = [0..<8, 8..<12, 12..<16, 16..<20, 20..<32].map { String(hex[$0]) }
        return UUID(uuidString: groups.joined(separator: "-"))
    }
}

/// The body every endpoint receives: the Standard Webhooks payload shape.
package enum WebhookPayload {
    package static func body(of envelope: EventEnvelope) throws -> String {
        let payload: JSONValue = .object([
            "type": .string(envelope.detailType),
            "timestamp": .string(Timestamp.format(envelope.time)),
            "data": envelope.detail,
        ])
        return String(decoding: try JSONValue.encoder.encode(payload), as: UTF8.self)
    }
}

/// When a failed delivery is tried again: exponential backoff from `firstDelay`, doubling up to
/// `maximumDelay`, with ±20 % jitter, for `retryFor` after the delivery was created; the last
/// attempt is made when that window closes, and a delivery still failing then is dead.
package struct WebhookRetryPolicy: Sendable, Equatable {
    package var firstDelay: Duration
    package var maximumDelay: Duration
    package var retryFor: Duration

    package init(firstDelay: Duration = .seconds(5), maximumDelay: Duration = .seconds(3600), retryFor: Duration = .seconds(24 * 3600)) {
        self.firstDelay = firstDelay
        self.maximumDelay = maximumDelay
        self.retryFor = retryFor
    }

    /// After failed attempt number `attempts` (1 for the first): when to try again, or nil when the
    /// delivery is dead. `jitter` is in 0...1.
    package func nextAttempt(after attempts: Int, createdAt: Date, now: Date, jitter: Double) -> Date? {
        let closes = createdAt + retryFor.timeInterval
        guard now < closes else { return nil }
        let exponent = min(max(attempts - 1, 0), 30)
        let base = min(firstDelay.timeInterval * pow(2, Double(exponent)), maximumDelay.timeInterval)
        let delay = base * (0.8 + 0.4 * min(max(jitter, 0), 1))
        return min(now + delay, closes)
    }
}
