import Contracts
import EventBus
import Foundation
import Logging
import PostgresNIO
import ServiceKit

/// Storage of the orders' contacts (from `OrderCompleted`/`OrderCancelled`) and of the e-mails sent.
package protocol NotificationRepository: Sendable {
    func order(_ orderId: UUID) async throws -> OrderEmail.Order?
    /// Claims the order's e-mail for the event (`NotificationRules.claim`: a first claim inserts the row,
    /// an existing row is decided under its row lock) and stores the claim with what is about to be sent.
    /// `contact` (from `OrderCompleted`/`OrderCancelled`) is kept in the same statement or transaction as
    /// whom the order's later e-mails go to (the first one is kept).
    func claim(
        orderId: UUID, event: OrderEmail.Event, userName: String, to: String, subject: String, channel: String, lease: Duration,
        remembering contact: OrderEmail.Order?
    ) async throws -> NotificationRules.Claim
    /// Records, just before the point of no return, that the claimed mail is about to leave; false when
    /// the claim is no longer this sender's (its lease passed and another sender took it over).
    func handOver(_ claim: NotificationRecord) async throws -> Bool
    /// Records the outcome of a claimed send: `sent` always (it is final); `pending` (known not sent) and
    /// `failed` only if the row still holds that claim.
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
        let mail = MailFields(userName: userName, to: to, subject: subject, channel: channel)
        // The usual case, a first claim: one statement that stores the contact too, and whose commit does not
        // wait for the disk. A crash that loses it loses no mail: nothing leaves before the hand-off, whose
        // commit waits (and so flushes this one). The hand-off then finds no claim, and the event comes back.
        let first = NotificationRules.claim(existing: nil, orderId: orderId, event: event, now: Date(), lease: lease, newID: UUID.random())
        guard case .send(let record) = first else { return first }
        let items = try contact.map { String(decoding: try JSONOutput.encoder.encode($0.items), as: UTF8.self) }
        var inserted = false
        for try await _ in try await client.execute(NewClaim(record: record, mail: mail, contact: contact, items: items), logger: logger) { inserted = true }
        if inserted { return first }
        // The row exists (a redelivery, a retry): decided under its row lock.
        return try await client.withTransaction(logger: logger) { connection in
            var existing: NotificationRecord?
            for try await (id, status, claimedUntil, handedOverAt, resends) in try await connection.execute(LockedClaim(orderId: orderId, event: event), logger: logger) {
                guard let status = NotificationRecord.Status(rawValue: status) else { throw UnreadableValue(column: "notifications.status", value: status) }
                existing = NotificationRecord(
                    id: id, orderId: orderId, event: event, status: status, claimedUntil: claimedUntil, handedOverAt: handedOverAt, resends: resends
                )
            }
            let claim = NotificationRules.claim(existing: existing, orderId: orderId, event: event, now: Date(), lease: lease, newID: UUID.random())
            switch claim {
            case .send(let record), .done(let record?):
                _ = try await connection.execute(StoreClaim(record: record, mail: mail), logger: logger)
            case .done(nil), .busy:
                break
            }
            return claim
        }
    }

    package func handOver(_ claim: NotificationRecord) async throws -> Bool {
        // Its own commit, on the disk before this returns (the pool answers a write outside a transaction
        // only after the server's `ReadyForQuery`, see `DatabaseConnection`): a sender that dies after it
        // leaves a claim that says "maybe sent".
        var updated = false
        for try await _ in try await client.execute(HandOver(claim: claim), logger: logger) { updated = true }
        return updated
    }

    package func record(_ claim: NotificationRecord, status: NotificationRecord.Status, error: String?) async throws {
        // Committed and flushed before this returns: the event's message is deleted after it.
        _ = try await client.execute(RecordOutcome(claim: claim, status: status, error: error), logger: logger)
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

/// What a claim stores of the e-mail it is about to send.
struct MailFields {
    var userName: String
    var to: String
    var subject: String
    var channel: String

    /// Its four bindings, in this order.
    func append(to bindings: inout PostgresBindings) {
        bindings.append(userName)
        bindings.append(to)
        bindings.append(subject)
        bindings.append(channel)
    }
}

/// A first claim, with the order's contact when the event carries it, in one statement committed
/// asynchronously; no row when the e-mail already has one (prepared once per connection).
struct NewClaim: PostgresPreparedStatement {
    static let name = "notification_new_claim_v1"
    static let sql = """
        WITH contact AS (
            INSERT INTO order_contacts (order_id, user_name, first_name, email, items, total_price)
            SELECT $2, $4, $10, $11, $12, $13::numeric WHERE $11::text IS NOT NULL
            ON CONFLICT (order_id) DO NOTHING
        )
        INSERT INTO notifications (id, order_id, event, user_name, recipient, subject, channel, status, claimed_until, resends)
        SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, 0
        WHERE set_config('synchronous_commit', 'off', true) IS NOT NULL
        ON CONFLICT (order_id, event) DO NOTHING
        RETURNING id
        """
    static let bindingDataTypes: [PostgresDataType] = [.uuid, .uuid, .text, .text, .text, .text, .text, .text, .timestamptz, .text, .text, .text, .text]
    typealias Row = UUID
    let record: NotificationRecord
    let mail: MailFields
    let contact: OrderEmail.Order?
    let items: String?

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 13)
        bindings.append(record.id)
        bindings.append(record.orderId)
        bindings.append(record.event.rawValue)
        mail.append(to: &bindings)
        bindings.append(record.status.rawValue)
        bindings.append(record.claimedUntil)
        bindings.append(contact?.firstName)
        bindings.append(contact?.email)
        bindings.append(items)
        bindings.append(contact?.totalPrice.description)
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> UUID { try row.decode(UUID.self) }
}

/// The e-mail's row, locked until the transaction ends (prepared once per connection).
struct LockedClaim: PostgresPreparedStatement {
    static let name = "notification_locked_claim_v1"
    static let sql = "SELECT id, status, claimed_until, handed_over_at, resends FROM notifications WHERE order_id = $1 AND event = $2 FOR UPDATE"
    static let bindingDataTypes: [PostgresDataType] = [.uuid, .text]
    typealias Row = (UUID, String, Date?, Date?, Int)
    let orderId: UUID
    let event: OrderEmail.Event

    func makeBindings() throws -> PostgresBindings { try PostgresBindings(binding: orderId, event.rawValue) }
    func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(Row.self) }
}

/// A claim decided on an existing row (prepared once per connection).
struct StoreClaim: PostgresPreparedStatement {
    static let name = "notification_store_claim_v1"
    static let sql = """
        UPDATE notifications SET status = $2, claimed_until = $3, handed_over_at = $4, resends = $5, user_name = $6, recipient = $7,
            subject = $8, channel = $9
        WHERE id = $1
        """
    static let bindingDataTypes: [PostgresDataType] = [.uuid, .text, .timestamptz, .timestamptz, .int8, .text, .text, .text, .text]
    typealias Row = ()
    let record: NotificationRecord
    let mail: MailFields

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 9)
        bindings.append(record.id)
        bindings.append(record.status.rawValue)
        bindings.append(record.claimedUntil)
        bindings.append(record.handedOverAt)
        bindings.append(record.resends)
        mail.append(to: &bindings)
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws {}
}

/// The hand-off, if the row still holds this claim (prepared once per connection).
struct HandOver: PostgresPreparedStatement {
    static let name = "notification_hand_off_v1"
    static let sql = "UPDATE notifications SET handed_over_at = now() WHERE id = $1 AND status = 'sending' AND claimed_until = $2 RETURNING id"
    static let bindingDataTypes: [PostgresDataType] = [.uuid, .timestamptz]
    typealias Row = UUID
    let claim: NotificationRecord

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 2)
        bindings.append(claim.id)
        bindings.append(claim.claimedUntil)
        return bindings
    }
    func decodeRow(_ row: PostgresRow) throws -> UUID { try row.decode(UUID.self) }
}

/// A send's outcome (prepared once per connection). `sent` is final whoever holds the row now: a
/// sender that outlived its lease and another one that took the claim over must not leave the row
/// claimed (its message may be gone) nor send it again (its hand-off then finds no claim). `pending`
/// and `failed` apply only while the row still holds this claim, and forget the hand-off (known not sent).
struct RecordOutcome: PostgresPreparedStatement {
    static let name = "notification_record_outcome_v2"
    static let sql = """
        UPDATE notifications SET status = $3, claimed_until = NULL, last_error = $4,
            handed_over_at = CASE WHEN $3 = 'sent' THEN handed_over_at END,
            sent_at = CASE WHEN $3 = 'sent' THEN now() ELSE sent_at END
        WHERE id = $1 AND (($3 = 'sent' AND status <> 'sent') OR (status = 'sending' AND claimed_until = $2))
        """
    static let bindingDataTypes: [PostgresDataType] = [.uuid, .timestamptz, .text, .text]
    typealias Row = ()
    let claim: NotificationRecord
    let status: NotificationRecord.Status
    let error: String?

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 4)
        bindings.append(claim.id)
        bindings.append(claim.claimedUntil)
        bindings.append(status.rawValue)
        bindings.append(error)
        return bindings
    }
    func decodeRow(_ row: PostgresRow) throws {}
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
