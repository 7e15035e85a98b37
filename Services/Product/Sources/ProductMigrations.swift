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
        // Search. `search` is kept by Postgres (a generated column: name A, category B, description C,
        // the `simple` configuration so that names are not stemmed); `product_words` holds every word
        // of the catalog (kept by a trigger). `product_search_query` turns the query's words into a
        // tsquery, every word required: each word as a prefix; a word that is neither a catalog word
        // nor the start of one (the btree `text_pattern_ops` index answers that) also matches the
        // three catalog words most similar to it when similar enough (trigram similarity ≥ 0.25 through
        // the GIN trigram index: `iphnoe` → `iphone`). The function is not inlined (its `SET`), so a
        // statement computes the tsquery once, not per row.
        Migration("004_search", [
            "CREATE EXTENSION IF NOT EXISTS pg_trgm",
            """
            ALTER TABLE products ADD COLUMN search tsvector GENERATED ALWAYS AS (
                setweight(to_tsvector('simple', name), 'A') || setweight(to_tsvector('simple', category), 'B')
                || setweight(to_tsvector('simple', coalesce(description, '')), 'C')
            ) STORED
            """,
            "CREATE INDEX products_search ON products USING gin (search)",
            "CREATE INDEX products_price ON products (price)",
            "CREATE TABLE product_words (word TEXT PRIMARY KEY)",
            "CREATE INDEX product_words_prefixes ON product_words (word text_pattern_ops)",
            "CREATE INDEX product_words_trigrams ON product_words USING gin (word gin_trgm_ops)",
            """
            CREATE FUNCTION product_words_keep() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                INSERT INTO product_words (word) SELECT unnest(tsvector_to_array(NEW.search)) ON CONFLICT DO NOTHING;
                RETURN NULL;
            END
            $$
            """,
            "CREATE TRIGGER products_words AFTER INSERT OR UPDATE OF name, description, category ON products FOR EACH ROW EXECUTE FUNCTION product_words_keep()",
            "INSERT INTO product_words (word) SELECT DISTINCT unnest(tsvector_to_array(search)) FROM products ON CONFLICT DO NOTHING",
            // pg_trgm's library loaded in this session: its threshold is then a known setting, which
            // the function below may set without being a superuser.
            "DO $$ BEGIN PERFORM similarity('', ''); END $$",
            """
            CREATE FUNCTION product_search_query(words text[]) RETURNS tsquery LANGUAGE sql STABLE
            SET pg_trgm.similarity_threshold = 0.25 AS $$
                SELECT string_agg('(' || alternatives || ')', ' & ' ORDER BY i)::tsquery FROM (
                    SELECT t.i, quote_literal(t.w) || ':*' || CASE
                        WHEN EXISTS (SELECT FROM product_words known WHERE known.word ~>=~ t.w AND known.word ~<~ (t.w || chr(1114111))) THEN ''
                        ELSE coalesce(' | ' || (
                            SELECT string_agg(quote_literal(near.word), ' | ') FROM (
                                SELECT p.word FROM product_words p WHERE p.word % t.w ORDER BY similarity(p.word, t.w) DESC, p.word LIMIT 3
                            ) near
                        ), '')
                    END AS alternatives
                    FROM unnest(words) WITH ORDINALITY AS t(w, i)
                ) per_word
            $$
            """,
        ]),
        // Pictures, in Postgres: at most 2 MiB each and a few per product, they go with the product's
        // row (deleted with it, in its backups) and need no second store; `image_etag` on the product
        // gives its `imageUrl` without a join.
        Migration("005_images", [
            "ALTER TABLE products ADD COLUMN image_etag TEXT",
            """
            CREATE TABLE product_images (
                product_id UUID PRIMARY KEY REFERENCES products (id) ON DELETE CASCADE,
                content_type TEXT NOT NULL,
                data BYTEA NOT NULL,
                etag TEXT NOT NULL,
                width INT NOT NULL,
                height INT NOT NULL,
                updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
            )
            """,
        ]),
    ] + Outbox.migrations
}
