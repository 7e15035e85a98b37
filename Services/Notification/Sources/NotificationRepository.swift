import Contracts
import EventBus
import Foundation
import Logging
import PostgresNIO
import ServiceKit

/// Storage of the orders' contacts (from `OrderCompleted`/`OrderCancelled`) and of the e-mails sent.
package protocol NotificationRepository: Sendable {
    func order(_ orderId: UUID) async throws -> OrderEmail.Order?
    /// Claims the order's e-mail for the event (`NotificationRules.claim` under the row's lock) and
    /// stores the claim with what is about to be sent. `contact` (from `OrderCompleted`/`OrderCancelled`)
    /// is kept in the same transaction as whom the order's later e-mails go to (the first one is kept).
    func claim(
        orderId: UUID, event: OrderEmail.Event, userName: String, to: String, subject: String, channel: String, lease: Duration,
        remembering contact: OrderEmail.Order?
    ) async throws -> NotificationRules.Claim
    /// Records, just before the point of no return, that the claimed mail is about to leave; false when
    /// the claim is no longer this sender's (its lease passed and another sender took it over).
    func handOver(_ claim: NotificationRecord) async throws -> Bool
    /// Records the outcome of a claimed send (`sent`, `pending`: known not sent, `failed`), if the row
    /// still holds that claim.
    func record(_ claim: NotificationRecord, status: NotificationRecord.Status, error: String?) async throws
    /// A user's e-mails, newest first, after `cursor`.
    func notifications(of userName: String, before cursor: TimeCursor?, limit: Int) async throws -> [Notification]
}

package struct PostgresNotificationRepository: NotificationRepository {
    let client: DatabasePool
    let logger: Logger

    package init(client: DatabasePool, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    package func order(_ orderId: UUID) async throws -> OrderEmail.Order? {
        let rows = try await client.query(
            "SELECT user_name, first_name, email, items, total_price::text FROM order_contacts WHERE order_id = \(orderId)", logger: logger
        )
        for try await (userName, firstName, email, items, total) in rows.decode((String, String, String, String, String).self) {
            return OrderEmail.Order(
                orderId: orderId, userName: userName, firstName: firstName, email: email,
                items: try JSONValue.decoder.decode([OrderLine].self, from: Data(items.utf8)), totalPrice: try Money.parse(total, column: "order_contacts.total_price")
            )
        }
        return nil
    }

    package func claim(
        orderId: UUID, event: OrderEmail.Event, userName: String, to: String, subject: String, channel: String, lease: Duration,
        remembering contact: OrderEmail.Order?
    ) async throws -> NotificationRules.Claim {
        let items = try contact.map { String(decoding: try JSONOutput.encoder.encode($0.items), as: UTF8.self) }
        return try await client.withTransaction(logger: logger) { connection in
            // One commit for the contact and the claim (they were two).
            if let contact, let items {
                try await connection.query(
                    """
                    INSERT INTO order_contacts (order_id, user_name, first_name, email, items, total_price)
                    VALUES (\(contact.orderId), \(contact.userName), \(contact.firstName), \(contact.email), \(items), \(contact.totalPrice.description)::numeric)
                    ON CONFLICT (order_id) DO NOTHING
                    """,
                    logger: logger
                )
            }
            // The row may not exist yet: the lock serialises two first claims of one order and event.
            try await connection.lock(["notification:\(orderId.uuidString):\(event.rawValue)"], logger: logger)
            var existing: NotificationRecord?
            let rows = try await connection.query(
                """
                SELECT id, status, claimed_until, handed_over_at, resends FROM notifications WHERE order_id = \(orderId) AND event = \(event.rawValue)
                """,
                logger: logger
            )
            for try await (id, status, claimedUntil, handedOverAt, resends) in rows.decode((UUID, String, Date?, Date?, Int).self) {
                guard let status = NotificationRecord.Status(rawValue: status) else { throw UnreadableValue(column: "notifications.status", value: status) }
                existing = NotificationRecord(
                    id: id, orderId: orderId, event: event, status: status, claimedUntil: claimedUntil, handedOverAt: handedOverAt, resends: resends
                )
            }
            let claim = NotificationRules.claim(existing: existing, orderId: orderId, event: event, now: Date(), lease: lease, newID: UUID.random())
            let store: NotificationRecord? = switch claim {
            case .send(let record): record
            case .done(let record): record
            case .busy: nil
            }
            if let record = store {
                // A claim to send commits without waiting for the disk: a crash that loses it (and the contact
                // with it) loses no mail, because nothing leaves before the hand-off, whose commit waits — and
                // flushes this one with it. The hand-off finds no claim then, and the event comes back.
                let synchronousCommit = if case .send = claim { "off" } else { "on" }
                try await connection.query(
                    """
                    INSERT INTO notifications (id, order_id, event, user_name, recipient, subject, channel, status, claimed_until, handed_over_at, resends)
                    SELECT \(record.id), \(orderId), \(event.rawValue), \(userName), \(to), \(subject), \(channel), \(record.status.rawValue),
                           \(record.claimedUntil), \(record.handedOverAt), \(record.resends)
                    WHERE set_config('synchronous_commit', \(synchronousCommit), true) IS NOT NULL
                    ON CONFLICT (order_id, event) DO UPDATE SET status = excluded.status, claimed_until = excluded.claimed_until,
                        handed_over_at = excluded.handed_over_at, resends = excluded.resends, channel = excluded.channel, recipient = excluded.recipient, subject = excluded.subject
                    """,
                    logger: logger
                )
            }
            return claim
        }
    }

    package func handOver(_ claim: NotificationRecord) async throws -> Bool {
        // Its own commit, waited for: a sender that dies after it leaves a claim that says "maybe sent".
        let rows = try await client.query(
            """
            UPDATE notifications SET handed_over_at = now()
            WHERE id = \(claim.id) AND status = 'sending' AND claimed_until = \(claim.claimedUntil) RETURNING id
            """,
            logger: logger
        )
        var updated = false
        for try await _ in rows { updated = true }
        return updated
    }

    package func record(_ claim: NotificationRecord, status: NotificationRecord.Status, error: String?) async throws {
        try await client.query(
            """
            UPDATE notifications SET status = \(status.rawValue), claimed_until = NULL, last_error = \(error),
                handed_over_at = CASE WHEN \(status.rawValue) = 'sent' THEN handed_over_at END,
                sent_at = CASE WHEN \(status.rawValue) = 'sent' THEN now() ELSE sent_at END
            WHERE id = \(claim.id) AND status = 'sending' AND claimed_until = \(claim.claimedUntil)
            """,
            logger: logger
        )
    }

    package func notifications(of userName: String, before cursor: TimeCursor?, limit: Int) async throws -> [Notification] {
        let rows = try await client.query(
            """
            SELECT id, event, order_id, recipient, subject, sent_at, channel, status, created_at FROM notifications
            WHERE user_name = \(userName)
              AND (\(cursor?.microseconds)::bigint IS NULL
                   OR (created_at, id) < ('epoch'::timestamptz + \(cursor?.microseconds) * interval '1 microsecond', \(cursor?.id)))
            ORDER BY created_at DESC, id DESC LIMIT \(limit)
            """,
            logger: logger
        )
        var list: [Notification] = []
        for try await (id, event, orderId, to, subject, sentAt, channel, status, createdAt) in rows.decode((UUID, String, UUID, String, String, Date?, String, String, Date).self) {
            guard let status = NotificationRecord.Status(rawValue: status) else { throw UnreadableValue(column: "notifications.status", value: status) }
            list.append(Notification(id: id, event: event, orderId: orderId, to: to, subject: subject, sentAt: sentAt, channel: channel, status: status, createdAt: createdAt))
        }
        return list
    }
}

enum NotificationMigrations {
    static let all: [Migration] = [
        Migration("001_notifications", [
            """
            CREATE TABLE order_contacts (
                order_id UUID PRIMARY KEY,
                user_name TEXT NOT NULL,
                first_name TEXT NOT NULL,
                email TEXT NOT NULL,
                items TEXT NOT NULL,
                total_price NUMERIC(14, 2) NOT NULL
            )
            """,
            """
            CREATE TABLE notifications (
                id UUID PRIMARY KEY,
                order_id UUID NOT NULL,
                event TEXT NOT NULL,
                user_name TEXT NOT NULL,
                recipient TEXT NOT NULL,
                subject TEXT NOT NULL,
                channel TEXT NOT NULL,
                status TEXT NOT NULL \(unescaped: OrderLifecycleDocuments.check("status", in: NotificationRecord.Status.allCases.map(\.rawValue))),
                claimed_until TIMESTAMPTZ,
                resends INT NOT NULL DEFAULT 0,
                last_error TEXT,
                created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
                sent_at TIMESTAMPTZ,
                UNIQUE (order_id, event)
            )
            """,
            "CREATE INDEX notifications_user ON notifications (user_name, created_at DESC, id DESC)",
        ]),
        // When a claim's sender reached the point of no return (see `NotificationRules`).
        Migration("003_notification_hand_off", ["ALTER TABLE notifications ADD COLUMN handed_over_at TIMESTAMPTZ"]),
    ]
}
