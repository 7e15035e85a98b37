import Foundation
import Logging
import PostgresNIO
import ServiceKit
import ServiceLifecycle
import Tracing

/// Publishes outbox rows and deletes them.
///
/// A relay holds one connection of the service's pool, and on it a session-level advisory lock on
/// each row it is publishing (`OutboxPass`): other relays (replicas) pass those rows by, and when the
/// relay's process or connection dies the locks go with its session, so its rows are published again
/// at once (at least once, never lost). A pass is one statement, outside a transaction: it deletes
/// the rows the previous pass published (and releases their locks) and takes the next ones. So a
/// batch costs two round trips (the pass and the bus's store) instead of four (`BEGIN`, a locking
/// delete, the store, `COMMIT`) while the outbox is busy, and three when a batch is followed by a
/// wait (a plain delete goes before the wait, so no published row stays in the outbox while idle);
/// the deletes commit without waiting for the disk: a crash that takes one back only publishes the
/// events again. Entries the bus rejects are
/// retried with exponential backoff.
package struct OutboxRelay<Publisher: EventPublisher>: Service {
    let client: DatabasePool
    let publisher: Publisher
    let logger: Logger
    let notifier: PostgresNotifier
    /// How long to sleep between scans when no wake-up comes: the trigger for rows written by another
    /// process (a replica), a safety net for this one's.
    let idleScan: Duration
    /// Opened once the outbox table exists.
    let gate: StartupGate?

    package init(client: DatabasePool, publisher: Publisher, logger: Logger, idleScan: Duration = .seconds(1), gate: StartupGate? = nil) {
        self.gate = gate
        self.client = client
        self.publisher = publisher
        self.logger = logger
        self.notifier = Outbox.wakeups
        self.idleScan = idleScan
    }

    package func run() async throws {
        if let gate { await cancelWhenGracefulShutdownOrReturn { await gate.wait() } }
        var failures = FailureStreak("outbox relay")
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                try await client.withConnection { connection in
                    var published: [Int64] = []
                    do {
                        while !Task.isShuttingDownGracefully && !Task.isCancelled {
                            let ticket = await notifier.ticket("outbox")
                            let (taken, done) = try await pass(on: connection, deleting: published)
                            published = done
                            failures.succeeded(logger: logger)
                            // A full batch: more may be due, and the next pass deletes this one's rows with it.
                            if taken >= publisher.maximumBatchSize { continue }
                            // Else the rows just published are deleted before waiting (no published row stays in
                            // the outbox while idle), and the outbox had nothing more that was due; every commit
                            // since has signalled `ticket`'s key: wait for that.
                            try await delete(published, on: connection)
                            published = []
                            await cancelWhenGracefulShutdownOrReturn { await notifier.wait("outbox", ticket: ticket, timeout: idleScan) }
                        }
                        // Shutting down: the published rows go now.
                        try await delete(published, on: connection)
                    } catch {
                        // Locks taken by a statement that failed are held all the same (session locks ignore
                        // transactions): release them all, so that other relays publish those rows; if even that
                        // fails, end the session (the pool replaces a closed connection).
                        do {
                            try await connection.query("SELECT pg_advisory_unlock_all()", logger: logger)
                        } catch {
                            connection.close()
                        }
                        throw error
                    }
                }
            } catch {
                if Task.isShuttingDownGracefully || Task.isCancelled { break }
                let backoff = failures.failed(error, logger: logger)
                await cancelWhenGracefulShutdownOrReturn { try? await Task.sleep(for: backoff) }
            }
        }
    }

    /// One pass, and the delete of what it published (tests, tools): how many rows it took off the outbox.
    package func relayBatch() async throws -> Int {
        try await client.withConnection { connection in
            let (_, published) = try await pass(on: connection, deleting: [])
            try await delete(published, on: connection)
            return published.count
        }
    }

    /// Deletes `deleting` (published by the previous pass on this connection) and publishes the next
    /// batch: returns how many rows it took and the ids it published (locked until the next pass
    /// deletes them). Rows the bus did not take are marked for a retry with backoff and released.
    func pass(on connection: DatabaseConnection, deleting: [Int64]) async throws -> (taken: Int, published: [Int64]) {
        var taken: [OutboxPass.Row] = []
        for try await row in try await connection.execute(OutboxPass(deleting: deleting, limit: publisher.maximumBatchSize), logger: logger) {
            taken.append(row)
        }
        taken.sort { $0.0 < $1.0 }
        var ids: [Int64] = []
        var entries: [PublishEntry] = []
        // One producer span per traced event, continuing the trace that recorded it; its
        // `traceparent` goes in the detail (EventBridge passes no trace headers to targets).
        var spans: [any Span] = []
        defer { for span in spans { span.end() } }
        for (id, source, detailType, detail, time, trace, token) in taken {
            ids.append(id)
            var value = (try? JSONDecoder().decode(JSONValue.self, from: Data(detail.utf8))) ?? .string(detail)
            if let trace, case .object(var members) = value {
                let span = InstrumentationSystem.tracer.startSpan("publish \(detailType)", context: ShopTracing.context(continuing: trace), ofKind: .producer)
                span.attributes["messaging.system"] = "eventbridge"
                span.attributes["messaging.destination.name"] = publisher.eventBusName
                span.attributes["messaging.operation.type"] = "send"
                spans.append(span)
                members["traceparent"] = ShopTracing.traceparent(of: span).map(JSONValue.string) ?? .string(trace)
                value = .object(members)
            }
            entries.append(PublishEntry(source: source, detailType: detailType, detail: value, time: time, taskToken: token))
        }
        guard !entries.isEmpty else { return (0, []) }
        let results: [PublishResult]
        do {
            results = try await publisher.putEvents(entries)
        } catch {
            // The whole call failed: every row waits with backoff.
            return (ids.count, try await settle(NotAllPublished(ids: ids, results: nil, error: error), on: connection))
        }
        guard results.allSatisfy({ if case .published = $0 { true } else { false } }) else {
            return (ids.count, try await settle(NotAllPublished(ids: ids, results: results, error: nil), on: connection))
        }
        return (ids.count, ids)
    }

    /// Deletes rows a pass on this connection published, and releases their locks.
    func delete(_ published: [Int64], on connection: DatabaseConnection) async throws {
        guard !published.isEmpty else { return }
        try await connection.execute(OutboxDelete(ids: published), logger: logger)
    }

    /// Some or all entries of a batch were not published: the rejected ones are marked for a retry
    /// with backoff and released; returns the published ones (deleted by the next pass).
    private func settle(_ failure: NotAllPublished, on connection: DatabaseConnection) async throws -> [Int64] {
        if let error = failure.error {
            logger.warning("publishing outbox events failed", metadata: ["error": "\(error)", "count": "\(failure.ids.count)"])
        }
        var published: [Int64] = []
        var failed: [Int64] = []
        for (index, id) in failure.ids.enumerated() {
            switch failure.results?[index] {
            case .published:
                published.append(id)
            case .failed(let code, let message):
                logger.warning("bus rejected an outbox event", metadata: ["outboxID": "\(id)", "code": "\(code)", "message": "\(message)"])
                try await markFailed(id, reason: "\(code): \(message)", on: connection)
                failed.append(id)
            case nil:
                try await markFailed(id, reason: "\(failure.error.map { "\($0)" } ?? "not published")", on: connection)
                failed.append(id)
            }
        }
        // Marked (and committed) first: another relay that takes them now finds them not due yet.
        try await connection.query("SELECT count(pg_advisory_unlock(\(unescaped: OutboxPass.lockKey("id")))) FROM unnest(\(failed)::bigint[]) id", logger: logger)
        return published
    }

    private struct NotAllPublished: Error {
        let ids: [Int64]
        let results: [PublishResult]?
        let error: (any Error)?
    }

    private func markFailed(_ id: Int64, reason: String, on connection: DatabaseConnection) async throws {
        try await connection.query(
            """
            UPDATE outbox SET attempts = attempts + 1, last_error = \(reason),
                next_attempt_at = now() + make_interval(secs => least(power(2, attempts)::float8 * 0.2, 60))
            WHERE id = \(id)
            """,
            logger: logger
        )
    }
}

/// One relay pass, one statement outside a transaction (prepared once per connection): deletes the
/// rows `$1` the previous pass published and releases their locks (in its `RETURNING`: a data-modifying
/// `WITH` runs to the end whether or not it is read), and takes (locks, with a
/// session-level advisory lock each, and returns) up to `$2` of the oldest rows that are due and that
/// no other relay holds. Its commit does not wait for the disk: a delete that a crash takes back only
/// publishes those events again.
///
/// The lock is tried only on rows the final `LIMIT` still pulls (a materialized list of candidates,
/// scanned in order), so no row is locked that is not returned. A row whose delete is under way in
/// another relay's pass may be seen and taken in the instant between that pass's unlock and its
/// commit: it is published twice, as after a crash (consumers are idempotent).
struct OutboxPass: LosableWrite {
    static let name = "outbox_pass_v1"
    /// The first key of the relay's advisory locks (the second is the row's id); apart from the
    /// one-key locks of `AdvisoryLocks`.
    static let lockClass = 0x4F42
    /// The two keys of the lock on the row whose id is `column`.
    static func lockKey(_ column: String) -> String { AdvisoryLocks.rowKey(lockClass, column) }
    static let sql = """
        WITH done AS (\(OutboxDelete.sql)), candidates AS MATERIALIZED (
            SELECT id FROM outbox
            WHERE published_at IS NULL AND next_attempt_at <= now() AND id <> ALL($1::bigint[])
            ORDER BY id LIMIT $2 * 4
        ), taken AS MATERIALIZED (
            SELECT id FROM candidates WHERE pg_try_advisory_lock(\(lockKey("id"))) LIMIT $2
        )
        SELECT o.id, o.source, o.detail_type, o.detail, o.event_time, o.trace_context, o.task_token
        FROM taken t JOIN outbox o ON o.id = t.id
        """
    static let bindingDataTypes: [PostgresDataType] = [.int8Array, .int8]
    typealias Row = (Int64, String, String, String, Date, String?, String?)
    let deleting: [Int64]
    let limit: Int

    func makeBindings() throws -> PostgresBindings { try PostgresBindings(binding: deleting, limit) }

    func decodeRow(_ row: PostgresRow) throws -> Row {
        try row.decode(Row.self)
    }
}

/// Deletes the rows `$1` a relay published and releases their locks, committing without waiting for
/// the disk (prepared once per connection; also the first part of `OutboxPass`).
struct OutboxDelete: LosableWrite {
    static let name = "outbox_delete_v1"
    static let sql = """
        DELETE FROM outbox WHERE id = ANY($1::bigint[]) AND set_config('synchronous_commit', 'off', true) IS NOT NULL
        RETURNING pg_advisory_unlock(\(OutboxPass.lockKey("id")))
        """
    static let bindingDataTypes: [PostgresDataType] = [.int8Array]
    typealias Row = ()
    let ids: [Int64]

    func makeBindings() throws -> PostgresBindings { try PostgresBindings(binding: ids) }

    func decodeRow(_ row: PostgresRow) throws {}
}
