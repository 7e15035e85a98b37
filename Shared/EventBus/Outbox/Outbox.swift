import Foundation
import Logging
import PostgresNIO
import ServiceKit

/// The transactional outbox: a service records its events in its own database, in the transaction
/// that changes its state, and `OutboxRelay` publishes them afterwards and deletes them. An event is
/// therefore stored if and only if the change committed, and published at least once.
package enum Outbox {
    /// Wakes this process's relays. Writers call `committed()` after a transaction that stored
    /// events commits (`withOutboxTransaction`), so the relay publishes at once; rows written by
    /// another process (another replica) are found by the relay's periodic scan. No `NOTIFY`: a
    /// notifying commit takes a lock every notifying commit of the cluster waits for.
    package static let wakeups = PostgresNotifier(client: nil, channel: "outbox", logger: Logger(label: "outbox"))

    package static func committed() {
        Task { await wakeups.signal("outbox") }
    }

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
        // The relay takes the oldest unpublished rows by id: this index gives them without sorting
        // every pending row (a backlog made each scan slower).
        Migration("outbox_003", ["CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL"]),
        // Published rows are deleted by the relay now (they were kept forever); drop the history.
        Migration("outbox_004", ["DELETE FROM outbox WHERE published_at IS NOT NULL"]),
        // Rows live for milliseconds now: vacuum the dead ones by count (see the local bus's 005).
        Migration("outbox_005", ["ALTER TABLE outbox SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 2000, autovacuum_vacuum_cost_delay = 0)"]),
        // The bus's name is the publisher's configuration (`EVENT_BUS_NAME`), not part of an event:
        // nothing writes or reads `event_bus` any more. Only its NOT NULL goes here, so that replicas of
        // the previous version, still running during a rolling update, can go on storing events;
        // a later migration drops the column.
        Migration("outbox_006", ["ALTER TABLE outbox ALTER COLUMN event_bus DROP NOT NULL"]),
        // The task token a reply answers (a Step Functions execution waits for it); null for events.
        Migration("outbox_007", ["ALTER TABLE outbox ADD COLUMN task_token TEXT"]),
        // Every row in the outbox is unpublished now (the relay deletes what it published; nothing sets
        // `published_at` any more), so the two partial indexes held the same rows as the primary key:
        // each event paid three index entries where one does. The relay reads the primary key in order.
        Migration("outbox_008", ["DROP INDEX IF EXISTS outbox_pending", "DROP INDEX IF EXISTS outbox_unpublished"]),
    ]

    /// Records `entry` on `connection`, which must be inside the caller's transaction (one begun with
    /// `withOutboxTransaction`).
    package static func enqueue(_ entry: PublishEntry, on connection: DatabaseConnection, logger: Logger) async throws {
        var statement = SQLStatement()
        try insert([entry], as: "stored", into: &statement)
        statement.append(" SELECT 1")
        try await connection.query(statement.query, logger: logger)
    }

    /// Adds `name AS (INSERT INTO outbox …)`, storing `entries`, to the statement's `WITH` clause:
    /// a repository's write stores its events in the same statement. (A data-modifying `WITH`
    /// element runs whether the statement reads it or not.)
    /// `onlyIf`: an SQL condition (on earlier `WITH` elements) without which nothing is stored.
    package static func insert(_ entries: [PublishEntry], as name: String, into statement: inout SQLStatement, onlyIf condition: String? = nil) throws {
        let first = try statement.bind { try appendBindings(entries, to: &$0) }
        statement.with(insertSQL(as: name, firstParameter: first, onlyIf: condition))
    }

    /// The insert as SQL: `name AS (…)` reading its six parameters from `$first` on
    /// (`appendBindings` binds them, in order), and storing nothing unless `condition` (prepared
    /// statements put it in their text; `insert` in a `SQLStatement`).
    package static func insertSQL(as name: String, firstParameter first: Int, onlyIf condition: String? = nil) -> String {
        let p = bindingDataTypes.indices.map { "$\(first + $0)" }
        return """
            \(name) AS (
                INSERT INTO outbox (source, detail_type, detail, event_time, trace_context, task_token)
                SELECT e.source, e.type, e.detail, e.time, \(p[4])::text, nullif(e.token, '')
                FROM unnest(\(p[0])::text[], \(p[1])::text[], \(p[2])::text[], \(p[3])::timestamptz[], \(p[5])::text[])
                     WITH ORDINALITY AS e(source, type, detail, time, token, n)
                \(condition.map { "WHERE " + $0 } ?? "")
                ORDER BY e.n
                RETURNING id
            )
            """
    }

    /// The types of the six parameters `appendBindings` binds, for a prepared statement's
    /// `bindingDataTypes` (put them last, so that the statement's own parameters keep their numbers).
    package static let bindingDataTypes: [PostgresDataType] = [.textArray, .textArray, .textArray, .timestamptzArray, .text, .textArray]

    /// Binds `entries` for `insertSQL` (six parameters). A reply to the command being handled takes
    /// its task token (`TaskCallback.current`) unless the entry names one.
    package static func appendBindings(_ entries: [PublishEntry], to bindings: inout PostgresBindings) throws {
        var sources: [String] = [], types: [String] = [], details: [String] = [], times: [Date] = [], tokens: [String] = []
        let callback = TaskCallback.current
        for entry in entries {
            sources.append(entry.source)
            types.append(entry.detailType)
            details.append(String(decoding: try JSONValue.encoder.encode(entry.detail), as: UTF8.self))
            times.append(entry.time ?? Date())
            tokens.append(entry.taskToken ?? callback?.token(answeredBy: entry.detailType) ?? "")
        }
        bindings.append(sources)
        bindings.append(types)
        bindings.append(details)
        bindings.append(times)
        try bindings.append(ShopTracing.currentTraceparent())
        bindings.append(tokens)
    }

    /// Events not yet published, oldest first.
    package static func pendingCount(client: DatabasePool, logger: Logger) async throws -> Int {
        let rows = try await client.query("SELECT count(*)::bigint FROM outbox WHERE published_at IS NULL", logger: logger)
        for try await count in rows.decode(Int.self) { return count }
        return 0
    }
}

extension DatabasePool {
    /// A transaction that may store outbox events: once it committed, this process's relay is woken.
    package func withOutboxTransaction<Result: Sendable>(
        logger: Logger, isolation: isolated (any Actor)? = #isolation, _ body: (DatabaseConnection) async throws -> sending Result
    ) async throws -> sending Result {
        let result = try await withTransaction(logger: logger, body)
        Outbox.committed()
        return result
    }
}
