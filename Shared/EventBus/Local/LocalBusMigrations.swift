import ServiceKit

/// The schema of the local bus, in a database of its own (as a broker would be).
enum LocalBusMigrations {
    static let all: [Migration] = [
        Migration("001_bus", [
            """
            CREATE TABLE bus_queues (
                name TEXT PRIMARY KEY,
                visibility_timeout_ms BIGINT NOT NULL,
                max_receive_count INT NOT NULL,
                dead_letter_queue TEXT
            )
            """,
            """
            CREATE TABLE bus_rules (
                event_bus TEXT NOT NULL,
                name TEXT NOT NULL,
                pattern TEXT NOT NULL,
                target_queue TEXT NOT NULL REFERENCES bus_queues (name),
                PRIMARY KEY (event_bus, name)
            )
            """,
            """
            CREATE TABLE bus_messages (
                id UUID PRIMARY KEY,
                seq BIGSERIAL NOT NULL,
                queue TEXT NOT NULL REFERENCES bus_queues (name),
                body TEXT NOT NULL,
                sent_at TIMESTAMPTZ NOT NULL DEFAULT now(),
                visible_at TIMESTAMPTZ NOT NULL DEFAULT now(),
                receive_count INT NOT NULL DEFAULT 0,
                receipt_handle UUID,
                source_queue TEXT,
                dead_lettered_at TIMESTAMPTZ
            )
            """,
            "CREATE INDEX bus_messages_queue_visible ON bus_messages (queue, visible_at, seq)",
            "CREATE UNIQUE INDEX bus_messages_receipt ON bus_messages (receipt_handle)",
        ]),
        Migration("002_dead_letter_reason", [
            "ALTER TABLE bus_messages ADD COLUMN dead_letter_reason TEXT",
        ]),
        // Cheaper writes: a store or a dead-letter move no longer checks (and share-locks) the queue's
        // row: queues are declared before any rule can route to them, and never removed.
        Migration("003_lighter_messages", [
            "ALTER TABLE bus_messages DROP CONSTRAINT bus_messages_queue_fkey",
        ]),
        // Claims in place: a claim changes only columns no index holds (visible_at, receive_count,
        // receipt_handle), so with room on the page it is a HOT update whose WAL record is the changed
        // bytes, not a ~0.6 KB copy of the message and an entry in every index. A receipt handle names
        // its message (`<id>:<receipt>`), so deletes find it by the primary key; queues are read in
        // `seq` order (visibility is a filter on the few rows at a queue's head).
        Migration("004_claims_in_place", [
            "DROP INDEX bus_messages_receipt",
            "DROP INDEX bus_messages_queue_visible",
            "CREATE INDEX bus_messages_queue ON bus_messages (queue, seq)",
            "ALTER TABLE bus_messages SET (fillfactor = 70)",
        ]),
        // Messages come and go in seconds: vacuum the dead ones after a fixed number, not a fraction of
        // a table that is nearly empty, so its size follows the live rows (make soak checks it).
        Migration("005_vacuum_by_count", [
            "ALTER TABLE bus_messages SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 500, autovacuum_vacuum_cost_delay = 0)",
        ]),
        // One index per message: a receipt handle names its message by `seq` (one sequence, so unique)
        // in the queue it is used on, so every statement finds messages through (queue, seq) and the
        // primary key on the random `id` (an entry in a second index per store, at a random place) goes.
        // `id` stays, the message id consumers see (SQS's `MessageId`).
        Migration("006_one_index", [
            "ALTER TABLE bus_messages DROP CONSTRAINT IF EXISTS bus_messages_pkey",
        ]),
    ]
}
