import EventBus
import ServiceKit

enum BasketMigrations {
    static let all: [Migration] = [
        Migration("001_baskets", [
            """
            CREATE TABLE basket_items (
                user_name TEXT NOT NULL,
                line INT NOT NULL,
                product_id UUID NOT NULL,
                product_name TEXT NOT NULL,
                quantity INT NOT NULL CHECK (quantity > 0),
                color TEXT NOT NULL DEFAULT '',
                price NUMERIC(12, 2) NOT NULL CHECK (price >= 0),
                PRIMARY KEY (user_name, line)
            )
            """,
            "CREATE INDEX basket_items_product ON basket_items (product_id)",
            """
            CREATE TABLE checkouts (
                checkout_id UUID PRIMARY KEY,
                user_name TEXT NOT NULL,
                idempotency_key TEXT,
                request TEXT NOT NULL,
                response TEXT NOT NULL,
                total_price NUMERIC(14, 2) NOT NULL,
                created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
                UNIQUE (user_name, idempotency_key)
            )
            """,
        ]),
        Migration("002_catalog_read_model", [
            """
            CREATE TABLE catalog_products (
                product_id UUID PRIMARY KEY,
                name TEXT NOT NULL,
                price NUMERIC(12, 2) NOT NULL,
                version BIGINT NOT NULL,
                deleted BOOLEAN NOT NULL DEFAULT false,
                updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
            )
            """,
            "ALTER TABLE basket_items ADD COLUMN previous_price NUMERIC(12, 2)",
            "ALTER TABLE basket_items ADD COLUMN unavailable BOOLEAN NOT NULL DEFAULT false",
        ]),
    ] + Outbox.migrations
}
