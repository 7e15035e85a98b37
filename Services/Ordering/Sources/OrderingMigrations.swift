import EventBus
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
    ] + Outbox.migrations
}
