import EventBus
import Foundation
import Logging
import PostgresNIO
import ServiceKit

/// Payments in Postgres; each command runs in a transaction holding the order's row.
package struct PostgresPaymentRepository: PaymentRepository {
    let client: DatabasePool
    let logger: Logger

    package init(client: DatabasePool, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    package func withPayment<T: Sendable>(orderId: UUID, _ body: @Sendable (any PaymentStore) async throws -> T) async throws -> T {
        try await client.withOutboxTransaction(logger: logger) { connection in
            // Serialises commands of one order even before its row exists.
            try await connection.lock(["payment:" + orderId.uuidString], logger: logger)
            return try await body(PostgresPaymentStore(orderId: orderId, connection: connection, logger: logger))
        }
    }

    package func payment(orderId: UUID) async throws -> Payment? {
        try await client.withConnection { connection in
            guard let record = try await PostgresPaymentStore(orderId: orderId, connection: connection, logger: logger).record(), record.isVisible else { return nil }
            let rows = try await connection.query(
                "SELECT status, at, reason FROM payment_history WHERE order_id = \(orderId) ORDER BY id", logger: logger
            )
            var history: [Payment.Change] = []
            for try await (status, at, reason) in rows.decode((String, Date, String?).self) {
                guard let status = Payment.Status(rawValue: status) else { throw UnreadableValue(column: "payment_history.status", value: status) }
                history.append(Payment.Change(status: status, at: at, reason: reason))
            }
            let status: Payment.Status = switch record.state {
            case .refunded: .refunded
            case .declined: .declined
            default: .approved
            }
            return Payment(orderId: orderId, amount: record.amount, status: status, history: history)
        }
    }

    /// Claims slow payments whose answer is due: `decide_at` moves `lease` ahead in the statement that
    /// picks them (`SKIP LOCKED`), so another replica's scan passes them by (the answer itself does not
    /// look at the time); one that dies with a claim leaves it to the next scan after the lease.
    package func claimDue(limit: Int, lease: Duration) async throws -> [UUID] {
        let rows = try await client.query(
            """
            UPDATE payments SET decide_at = now() + make_interval(secs => \(lease.timeInterval))
            WHERE order_id IN (
                SELECT order_id FROM payments WHERE state = 'pending' AND decide_at <= now()
                ORDER BY decide_at LIMIT \(limit) FOR UPDATE SKIP LOCKED
            )
            RETURNING order_id
            """,
            logger: logger
        )
        var ids: [UUID] = []
        for try await id in rows.decode(UUID.self) { ids.append(id) }
        return ids
    }
}

struct PostgresPaymentStore: PaymentStore {
    let orderId: UUID
    let connection: DatabaseConnection
    let logger: Logger

    func record() async throws -> PaymentRecord? {
        for try await (userName, amount, last4, state, reason, decideAt, refundRequested) in try await connection.execute(PaymentRow(orderId: orderId), logger: logger) {
            guard let state = PaymentRecord.State(rawValue: state) else { throw UnreadableValue(column: "payments.state", value: state) }
            return PaymentRecord(
                orderId: orderId, userName: userName, amount: try Money.parse(amount, column: "payments.amount"), cardLast4: last4,
                state: state, reason: reason, decideAt: decideAt, refundRequested: refundRequested
            )
        }
        return nil
    }

    /// One statement: the record, its history and the replies in the outbox.
    func save(_ decision: PaymentRules.Decision, replies: [PublishEntry]) async throws {
        guard decision.record != nil || !decision.history.isEmpty || !replies.isEmpty else { return }
        _ = try await connection.execute(SavePayment(orderId: orderId, decision: decision, replies: replies), logger: logger)
    }
}

/// `save` as one prepared statement. Each part is empty when its parameters are (no record: a NULL
/// state; no history, no replies: empty arrays), so one text serves every case and is planned once per
/// connection. A missing reason travels as '' (arrays of optionals are not bound). The foreign key
/// from the history to the record is checked at the end of the statement, when the record's row exists.
struct SavePayment: PostgresPreparedStatement {
    static let name = "payment_save_v1"
    static let sql = """
        WITH payment AS (
            INSERT INTO payments (order_id, user_name, amount, card_last4, state, reason, decide_at, refund_requested)
            SELECT $1, $2::text, $3::numeric, $4::text, $5::text, $6::text, $7::timestamptz, $8::boolean WHERE $5::text IS NOT NULL
            ON CONFLICT (order_id) DO UPDATE SET state = excluded.state, reason = excluded.reason, decide_at = excluded.decide_at,
                refund_requested = excluded.refund_requested, updated_at = now()
        ), history AS (
            INSERT INTO payment_history (order_id, status, reason)
            SELECT $1, h.status, nullif(h.reason, '')
            FROM unnest($9::text[], $10::text[]) WITH ORDINALITY AS h(status, reason, n)
            ORDER BY h.n
        ), \(Outbox.insertSQL(as: "events", firstParameter: 11))
        SELECT 1
        """
    static let bindingDataTypes: [PostgresDataType] = [.uuid, .text, .text, .text, .text, .text, .timestamptz, .bool, .textArray, .textArray] + Outbox.bindingDataTypes
    let orderId: UUID
    /// Its record and history (its replies come as `replies`, already entries).
    let decision: PaymentRules.Decision
    let replies: [PublishEntry]

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 10 + Outbox.bindingDataTypes.count)
        let record = decision.record
        bindings.append(orderId)
        bindings.append(record?.userName)
        bindings.append(record?.amount.description)
        bindings.append(record?.cardLast4)
        bindings.append(record?.state.rawValue)
        bindings.append(record?.reason)
        bindings.append(record?.decideAt)
        bindings.append(record?.refundRequested)
        bindings.append(decision.history.map(\.status.rawValue))
        bindings.append(decision.history.map { $0.reason ?? "" })
        try Outbox.appendBindings(replies, to: &bindings)
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws {}
}

enum PaymentMigrations {
    static let all: [Migration] = [
        Migration("001_payments", [
            """
            CREATE TABLE payments (
                order_id UUID PRIMARY KEY,
                user_name TEXT NOT NULL,
                amount NUMERIC(14, 2) NOT NULL,
                card_last4 TEXT NOT NULL,
                state TEXT NOT NULL,
                reason TEXT,
                decide_at TIMESTAMPTZ,
                refund_requested BOOLEAN NOT NULL DEFAULT false,
                created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
                updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
            )
            """,
            "CREATE INDEX payments_due ON payments (decide_at) WHERE state = 'pending'",
            """
            CREATE TABLE payment_history (
                id BIGSERIAL PRIMARY KEY,
                order_id UUID NOT NULL REFERENCES payments (order_id),
                status TEXT NOT NULL,
                reason TEXT,
                at TIMESTAMPTZ NOT NULL DEFAULT now()
            )
            """,
            "CREATE INDEX payment_history_order ON payment_history (order_id)",
        ]),
    ] + Outbox.migrations
}

/// An order's payment record (prepared once per connection).
struct PaymentRow: PostgresPreparedStatement {
    static let name = "payment_row_v1"
    static let sql = "SELECT user_name, amount::text, card_last4, state, reason, decide_at, refund_requested FROM payments WHERE order_id = $1"
    static let bindingDataTypes: [PostgresDataType] = [.uuid]
    typealias Row = (String, String, String, String, String?, Date?, Bool)
    let orderId: UUID

    func makeBindings() throws -> PostgresBindings { try PostgresBindings(binding: orderId) }
    func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(Row.self) }
}
