import EventBus
import ServiceKit

enum ProductMigrations {
    static let all: [Migration] = [
        Migration("001_create_products", [
            """
            CREATE TABLE products (
                id UUID PRIMARY KEY,
                name TEXT NOT NULL CHECK (name <> ''),
                description TEXT NOT NULL DEFAULT '',
                image_file TEXT NOT NULL DEFAULT '',
                price NUMERIC(12, 2) NOT NULL CHECK (price >= 0),
                category TEXT NOT NULL CHECK (category <> ''),
                version BIGINT NOT NULL DEFAULT 1,
                created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
                updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
            )
            """,
            "CREATE INDEX products_name_id ON products (name, id)",
            "CREATE INDEX products_category_name_id ON products (category, name, id)",
        ]),
        Migration("002_stock_and_reservations", [
            "ALTER TABLE products ADD COLUMN stock INT NOT NULL DEFAULT 0 CHECK (stock >= 0)",
            """
            CREATE TABLE stock_reservations (
                order_id UUID PRIMARY KEY,
                status TEXT NOT NULL,
                reason TEXT,
                lines TEXT NOT NULL,
                created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
                updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
            )
            """,
        ]),
        // Whose order holds a reservation, for MAX_RESERVED_PER_CUSTOMER: the units one customer holds
        // in unpaid orders are read through the partial index (reserved rows only, few at a time).
        Migration("003_reservations_by_customer", [
            "ALTER TABLE stock_reservations ADD COLUMN user_name TEXT",
            "CREATE INDEX stock_reservations_held ON stock_reservations (user_name) WHERE status = 'reserved'",
        ]),
    ] + Outbox.migrations
}
