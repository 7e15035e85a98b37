import Contracts
import EventBus
import Foundation
import ServiceKit

/// One e-mail as `GET /notification/{userName}` lists it.
package struct Notification: Codable, Sendable, Equatable {
    package var id: UUID
    package var event: String
    package var orderId: UUID
    package var to: String
    package var subject: String
    /// When it was sent; null while it is being sent or when it could not be.
    package var sentAt: Date?
    /// `smtp`, `ses`, or `none` (recorded only: no mail server configured).
    package var channel: String
    package var status: NotificationRecord.Status
    package var createdAt: Date

    package func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(event, forKey: .event)
        try container.encode(orderId, forKey: .orderId)
        try container.encode(to, forKey: .to)
        try container.encode(subject, forKey: .subject)
        try container.encode(sentAt, forKey: .sentAt)
        try container.encode(channel, forKey: .channel)
        try container.encode(status, forKey: .status)
        try container.encode(createdAt, forKey: .createdAt)
    }
}

/// What the service keeps of one e-mail: one row per order and event (the unique key that makes a
/// redelivered event send nothing twice).
package struct NotificationRecord: Sendable, Equatable {
    /// `pending`: not sent yet (a send failed for a while: the event comes back); `sending`: claimed by a
    /// sender until `claimedUntil` (its outcome unknown if that passed); `sent`; `unconfirmed`: handed to
    /// the mail server twice without an answer (it was sent at least once, unless both senders died in
    /// the window between the hand-off's commit and writing the message's end — about the commit's
    /// flush), so nothing more is sent; `failed`: refused for good (no address, or the server refused the recipient).
    package enum Status: String, Codable, Sendable, CaseIterable { case pending, sending, sent, unconfirmed, failed }

    package var id: UUID
    package var orderId: UUID
    package var event: OrderEmail.Event
    package var status: Status
    /// The claim's lease; also its token: a sender's later writes (hand-off, outcome) apply only while the
    /// row still holds its claim.
    package var claimedUntil: Date?
    /// When the claim's sender recorded, just before the point of no return (SMTP's final dot, the SES
    /// request), that the mail is about to leave. A lapsed claim without it was surely not sent.
    package var handedOverAt: Date?
    /// How many times a claim found a previous sender's outcome unknown after a hand-off (a crash between
    /// sending and recording) and sent again.
    package var resends: Int

    package init(
        id: UUID, orderId: UUID, event: OrderEmail.Event, status: Status, claimedUntil: Date? = nil, handedOverAt: Date? = nil, resends: Int = 0
    ) {
        self.id = id
        self.orderId = orderId
        self.event = event
        self.status = status
        self.claimedUntil = claimedUntil
        self.handedOverAt = handedOverAt
        self.resends = resends
    }
}

/// Exactly once in effect, apart from storage. Before sending, a sender claims the order's e-mail for
/// the event (a row, unique per order and event) for a lease; just before the point of no return it
/// records the hand-off (durably); after the server's answer it records the outcome. A redelivered event
/// finds the row: `sent` sends nothing. A claim whose lease passed without an outcome:
/// - without a hand-off, its sender died (or lost its database) before the mail could leave: it is
///   claimed again and sent, as often as that happens (the queue's receive limit bounds it);
/// - with a hand-off, the mail may have left: it is sent once more (same `Message-ID`, so mail clients
///   show it once), and after a second hand-off without an outcome never again (`unconfirmed`) — at most
///   one resend per event, whatever crashes.
package enum NotificationRules {
    package enum Claim: Sendable, Equatable {
        /// Send it (the record to store first, claimed).
        case send(NotificationRecord)
        /// Another sender holds it until then: try again after (the message comes back).
        case busy(until: Date)
        /// Nothing to send; store this record (given up) if there is one.
        case done(NotificationRecord?)
    }

    package static func claim(existing: NotificationRecord?, orderId: UUID, event: OrderEmail.Event, now: Date, lease: Duration, newID: UUID) -> Claim {
        let until = now + lease.timeInterval
        guard var record = existing else {
            return .send(NotificationRecord(id: newID, orderId: orderId, event: event, status: .sending, claimedUntil: until))
        }
        switch record.status {
        case .sent, .unconfirmed, .failed:
            return .done(nil)
        case .pending:
            record.status = .sending
            record.claimedUntil = until
            record.handedOverAt = nil
            return .send(record)
        case .sending:
            if let claimed = record.claimedUntil, claimed > now { return .busy(until: claimed) }
            guard record.handedOverAt != nil else {
                // Its sender never got to the point of no return: nothing left, nothing counted.
                record.claimedUntil = until
                return .send(record)
            }
            // Handed over, outcome unknown: it may have been sent. Once more at most.
            guard record.resends == 0 else {
                record.status = .unconfirmed
                record.claimedUntil = nil
                return .done(record)
            }
            record.resends += 1
            record.claimedUntil = until
            record.handedOverAt = nil
            return .send(record)
        }
    }
}
