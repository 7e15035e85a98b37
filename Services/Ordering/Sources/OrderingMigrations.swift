import Contracts
import EventBus
import PostgresNIO
import ServiceKit

enum OrderingMigrations {
    static let all: [Migration] = [
        Migration("001_orders", [
            """
            CREATE TABLE orders (
                order_id UUID PRIMARY KEY,
                checkout_id UUID NOT NULL UNIQUE,
                user_name TEXT NOT NULL,
                first_name TEXT NOT NULL,
                last_name TEXT NOT NULL,
                email TEXT NOT NULL,
                address TEXT NOT NULL,
                payment_method TEXT NOT NULL,
                card_info TEXT NOT NULL,
                items TEXT NOT NULL,
                total_price NUMERIC(14, 2) NOT NULL,
                order_date TIMESTAMPTZ NOT NULL,
                status TEXT NOT NULL,
                created_at TIMESTAMPTZ NOT NULL DEFAULT now()
            )
            """,
            "CREATE INDEX orders_user_date ON orders (user_name, order_date DESC, order_id DESC)",
            "CREATE INDEX orders_date ON orders (order_date DESC, order_id DESC)",
            """
            CREATE TABLE order_status_history (
                id BIGSERIAL PRIMARY KEY,
                order_id UUID NOT NULL REFERENCES orders (order_id),
                status TEXT NOT NULL,
                changed_at TIMESTAMPTZ NOT NULL DEFAULT now()
            )
            """,
            "CREATE INDEX order_status_history_order ON order_status_history (order_id)",
        ]),
        Migration("002_saga", [
            "ALTER TABLE orders ADD COLUMN saga_step TEXT NOT NULL DEFAULT 'finished'",
            "ALTER TABLE orders ADD COLUMN deadline TIMESTAMPTZ",
            "ALTER TABLE orders ADD COLUMN cancellation_reason TEXT",
            "ALTER TABLE order_status_history ADD COLUMN reason TEXT",
            // Orders made before the saga existed never reserved anything: they time out (StepTimeout).
            "UPDATE orders SET saga_step = 'reservingStock', deadline = now() WHERE status = 'Pending'",
            "CREATE INDEX orders_deadline ON orders (deadline) WHERE saga_step <> 'finished'",
        ]),
        // Saga writes that stay on the order's page (HOT: no index entry written): the deadlines the
        // timeout scan needs live in a narrow table of their own (a row only while a step has one),
        // the order's pages keep room for new versions, and the status history no longer checks (and
        // share-locks) the order's row: it is written only by the statement that writes the order.
        Migration("003_saga_writes_in_place", [
            "CREATE TABLE order_deadlines (order_id UUID PRIMARY KEY, deadline TIMESTAMPTZ NOT NULL)",
            "CREATE INDEX order_deadlines_due ON order_deadlines (deadline)",
            "INSERT INTO order_deadlines SELECT order_id, deadline FROM orders WHERE saga_step <> 'finished' AND deadline IS NOT NULL",
            "DROP INDEX orders_deadline",
            "ALTER TABLE orders SET (fillfactor = 80)",
            "ALTER TABLE order_status_history DROP CONSTRAINT order_status_history_order_id_fkey",
        ]),
        // Fulfilment: the parcel as the order shows it (nullable columns: no table rewrite).
        Migration("004_shipment", [
            """
            ALTER TABLE orders ADD COLUMN shipment_status TEXT, ADD COLUMN carrier TEXT, ADD COLUMN tracking_number TEXT,
                ADD COLUMN shipped_at TIMESTAMPTZ, ADD COLUMN delivered_at TIMESTAMPTZ
            """,
        ]),
        lifecycleChecks,
        // One index for the status history: its rows are read by order (in `id` order), so the primary
        // key leads with the order and the separate order index goes (a status change wrote two entries).
        Migration("006_history_one_index", [
            "ALTER TABLE order_status_history DROP CONSTRAINT order_status_history_pkey, ADD PRIMARY KEY (order_id, id)",
            "DROP INDEX IF EXISTS order_status_history_order",
        ]),
    ] + Outbox.migrations

    /// The database admits only the lifecycle's declared words (`OrderLifecycle.swift`). The
    /// migration's name carries a digest of the vocabulary: a new status or reason makes it a new
    /// migration, which replaces the checks on existing databases too.
    static var lifecycleChecks: Migration {
        let columns: [(table: String, column: String, values: [String])] = [
            ("orders", "status", OrderStatus.allCases.map(\.rawValue)),
            ("orders", "cancellation_reason", CancellationReason.allCases.map(\.rawValue)),
            ("orders", "shipment_status", ShipmentStatus.allCases.map(\.rawValue)),
            ("orders", "saga_step", SagaStep.allCases.map(\.rawValue)),
            ("order_status_history", "status", OrderStatus.allCases.map(\.rawValue)),
        ]
        let vocabulary = columns.map { "\($0.table).\($0.column)=\($0.values.joined(separator: ","))" }.joined(separator: ";")
        var digest: UInt32 = 2_166_136_261
        for byte in vocabulary.utf8 { digest = (digest ^ UInt32(byte)) &* 16_777_619 }
        let statements: [PostgresQuery] = columns.flatMap { table, column, values -> [PostgresQuery] in
            let name = "\(table)_\(column)_known"
            return [
                PostgresQuery(unsafeSQL: "ALTER TABLE \(table) DROP CONSTRAINT IF EXISTS \(name)"),
                PostgresQuery(unsafeSQL: "ALTER TABLE \(table) ADD CONSTRAINT \(name) \(OrderLifecycleDocuments.check(column, in: values))"),
            ]
        }
        return Migration("005_lifecycle_checks_" + String(digest, radix: 16), statements)
    }
}
