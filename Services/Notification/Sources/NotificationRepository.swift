import Contracts
import EventBus
import Foundation
import Logging
import PostgresNIO
import ServiceKit

/// Storage of the orders' contacts (from `OrderCompleted`/`OrderCancelled`) and of the e-mails sent.
package protocol NotificationRepository: Sendable {
    /// Keeps whom an order's e-mails go to (the newest event wins nothing: the first one is kept).
    func remember(_ order: OrderEmail.Order) async throws
    func order(_ orderId: UUID) async throws -> OrderEmail.Order?
    /// Claims the order's e-mail for the event (`NotificationRules.claim` under the row's lock) and
    /// stores the claim with what is about to be sent.
    func claim(orderId: UUID, event: OrderEmail.Event, userName: String, to: String, subject: String, channel: String, lease: Duration) async throws -> NotificationRules.Claim
    /// Records the outcome of a claimed send.
    func record(_ id: UUID, status: NotificationRecord.Status, error: String?) async throws
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

    package func remember(_ order: OrderEmail.Order) async throws {
        let items = String(decoding: try JSONOutput.encoder.encode(order.items), as: UTF8.self)
        try await client.query(
            """
            INSERT INTO order_contacts (order_id, user_name, first_name, email, items, total_price)
            VALUES (\(order.orderId), \(order.userName), \(order.firstName), \(order.email), \(items), \(order.totalPrice.description)::numeric)
            ON CONFLICT (order_id) DO NOTHING
            """,
            logger: logger
        )
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

    package func claim(orderId: UUID, event: OrderEmail.Event, userName: String, to: String, subject: String, channel: String, lease: Duration) async throws -> NotificationRules.Claim {
        try await client.withTransaction(logger: logger) { connection in
            // The row may not exist yet: the lock serialises two first claims of one order and event.
            try await connection.lock(["notification:\(orderId.uuidString):\(event.rawValue)"], logger: logger)
            var existing: NotificationRecord?
            let rows = try await connection.query(
                "SELECT id, status, claimed_until, resends FROM notifications WHERE order_id = \(orderId) AND event = \(event.rawValue)", logger: logger
            )
            for try await (id, status, claimedUntil, resends) in rows.decode((UUID, String, Date?, Int).self) {
                guard let status = NotificationRecord.Status(rawValue: status) else { throw UnreadableValue(column: "notifications.status", value: status) }
                existing = NotificationRecord(id: id, orderId: orderId, event: event, status: status, claimedUntil: claimedUntil, resends: resends)
            }
            let claim = NotificationRules.claim(existing: existing, orderId: orderId, event: event, now: Date(), lease: lease, newID: UUID.random())
            let store: NotificationRecord? = switch claim {
            case .send(let record): record
            case .done(let record): record
            case .busy: nil
            }
            if let record = store {
                try await connection.query(
                    """
                    INSERT INTO notifications (id, order_id, event, user_name, recipient, subject, channel, status, claimed_until, resends)
                    VALUES (\(record.id), \(orderId), \(event.rawValue), \(userName), \(to), \(subject), \(channel), \(record.status.rawValue),
                            \(record.claimedUntil), \(record.resends))
                    ON CONFLICT (order_id, event) DO UPDATE SET status = excluded.status, claimed_until = excluded.claimed_until,
                        resends = excluded.resends, channel = excluded.channel, recipient = excluded.recipient, subject = excluded.subject
                    """,
                    logger: logger
                )
            }
            return claim
        }
    }

    package func record(_ id: UUID, status: NotificationRecord.Status, error: String?) async throws {
        try await client.query(
            """
            UPDATE notifications SET status = \(status.rawValue), claimed_until = NULL, last_error = \(error),
                sent_at = CASE WHEN \(status.rawValue) = 'sent' THEN now() ELSE sent_at END
            WHERE id = \(id)
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
    ]
}
