import Foundation
import Logging
import PostgresNIO
import ServiceKit

/// The transactional outbox: a service records its events in its own database, in the transaction
/// that changes its state, and `OutboxRelay` publishes them afterwards. An event is therefore stored
/// if and only if the change committed, and published at least once.
package enum Outbox {
    package static let notificationChannel = "swn_outbox"

    /// Add these to the service's own migrations.
    package static let migrations: [Migration] = [
        Migration("outbox_001", [
            """
            CREATE TABLE outbox (
                id BIGSERIAL PRIMARY KEY,
                event_bus TEXT NOT NULL,
                source TEXT NOT NULL,
                detail_type TEXT NOT NULL,
                detail TEXT NOT NULL,
                event_time TIMESTAMPTZ NOT NULL DEFAULT now(),
                created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
                published_at TIMESTAMPTZ,
                event_id TEXT,
                attempts INT NOT NULL DEFAULT 0,
                next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT now(),
                last_error TEXT
            )
            """,
            "CREATE INDEX outbox_pending ON outbox (next_attempt_at, id) WHERE published_at IS NULL",
        ]),
        // The W3C `traceparent` of the span that recorded the event (null with tracing off): the relay
        // continues that trace and sends it in the event's detail.
        Migration("outbox_002", ["ALTER TABLE outbox ADD COLUMN trace_context TEXT"]),
    ]

    /// Records `entry` on `connection`, which must be inside the caller's transaction.
    package static func enqueue(_ entry: PublishEntry, on connection: PostgresConnection, logger: Logger) async throws {
        let detail = String(decoding: try JSONValue.encoder.encode(entry.detail), as: UTF8.self)
        let traceContext = ShopTracing.currentTraceparent()
        try await connection.query(
            """
            WITH stored AS (
                INSERT INTO outbox (event_bus, source, detail_type, detail, event_time, trace_context)
                VALUES (\(entry.eventBusName), \(entry.source), \(entry.detailType), \(detail), \(entry.time ?? Date()), \(traceContext))
                RETURNING id
            )
            SELECT pg_notify(\(notificationChannel), 'outbox') FROM stored
            """,
            logger: logger
        )
    }

    /// Events not yet published, oldest first.
    package static func pendingCount(client: PostgresClient, logger: Logger) async throws -> Int {
        let rows = try await client.query("SELECT count(*)::bigint FROM outbox WHERE published_at IS NULL", logger: logger)
        for try await count in rows.decode(Int.self) { return count }
        return 0
    }
}
