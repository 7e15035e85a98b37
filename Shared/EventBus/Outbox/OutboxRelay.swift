import Foundation
import Logging
import PostgresNIO
import ServiceKit
import ServiceLifecycle
import Tracing

/// Publishes outbox rows and deletes them.
///
/// Rows are taken (deleted, with `FOR UPDATE SKIP LOCKED`) inside a transaction that is committed only
/// after the publisher answered, so several relays can run at once, and a crash between publishing and
/// the commit leaves the rows in place: they are published again (at least once, never lost). That
/// commit need not wait for the disk (`synchronous_commit = off` for it alone): a crash that takes it
/// back only publishes the events again. Entries the bus rejects are retried with exponential backoff.
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
            let ticket = await notifier.ticket("outbox")
            do {
                let published = try await relayBatch()
                failures.succeeded(logger: logger)
                // Fewer than a full batch: the outbox had no more that were due when the batch was
                // taken, and every commit since has signalled `ticket`'s key; wait for that instead of
                // a pass that can only find nothing (three statements on the service's database).
                if published < publisher.maximumBatchSize {
                    await cancelWhenGracefulShutdownOrReturn { await notifier.wait("outbox", ticket: ticket, timeout: idleScan) }
                }
            } catch {
                if Task.isShuttingDownGracefully || Task.isCancelled { break }
                let backoff = failures.failed(error, logger: logger)
                await cancelWhenGracefulShutdownOrReturn { try? await Task.sleep(for: backoff) }
            }
        }
    }

    /// Publishes one batch; returns how many rows it took off the outbox.
    package func relayBatch() async throws -> Int {
        let batchSize = publisher.maximumBatchSize
        do {
            return try await client.withTransaction(logger: logger) { connection in
                // DELETE … RETURNING gives the rows in no particular order: publish them in outbox order.
                var taken: [OutboxTake.Row] = []
                for try await row in try await connection.execute(OutboxTake(limit: batchSize), logger: logger) { taken.append(row) }
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
                guard !entries.isEmpty else { return 0 }
                let results: [PublishResult]
                do {
                    results = try await publisher.putEvents(entries)
                } catch {
                    // The whole call failed: the rows come back (rollback), then wait with backoff.
                    throw NotAllPublished(ids: ids, results: nil, error: error)
                }
                guard results.allSatisfy({ if case .published = $0 { true } else { false } }) else {
                    throw NotAllPublished(ids: ids, results: results, error: nil)
                }
                return ids.count
            }
        } catch let failure as NotAllPublished {
            return try await settle(failure)
        }
    }

    /// Some or all entries of a batch were not published: the batch's delete was rolled back; the
    /// published rows are deleted now, the others wait with backoff.
    private func settle(_ failure: NotAllPublished) async throws -> Int {
        if let error = failure.error {
            logger.warning("publishing outbox events failed", metadata: ["error": "\(error)", "count": "\(failure.ids.count)"])
        }
        var published: [Int64] = []
        try await client.withTransaction(logger: logger) { connection in
            for (index, id) in failure.ids.enumerated() {
                switch failure.results?[index] {
                case .published:
                    published.append(id)
                case .failed(let code, let message):
                    logger.warning("bus rejected an outbox event", metadata: ["outboxID": "\(id)", "code": "\(code)", "message": "\(message)"])
                    try await markFailed(id, reason: "\(code): \(message)", on: connection)
                case nil:
                    try await markFailed(id, reason: "\(failure.error.map { "\($0)" } ?? "not published")", on: connection)
                }
            }
            if !published.isEmpty {
                try await connection.query("DELETE FROM outbox WHERE id = ANY(\(published))", logger: logger)
            }
        }
        return published.count
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

/// Takes the oldest rows that are due, none another relay holds: deletes them, in the relay's
/// transaction, which commits without waiting for the disk (prepared once per connection).
struct OutboxTake: PostgresPreparedStatement {
    static let name = "outbox_take_v4"
    static let sql = """
        DELETE FROM outbox WHERE id = ANY(ARRAY(
            SELECT id FROM outbox
            WHERE published_at IS NULL AND next_attempt_at <= now() AND set_config('synchronous_commit', 'off', true) IS NOT NULL
            ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED
        ))
        RETURNING id, source, detail_type, detail, event_time, trace_context, task_token
        """
    static let bindingDataTypes: [PostgresDataType] = [.int8]
    typealias Row = (Int64, String, String, String, Date, String?, String?)
    let limit: Int

    func makeBindings() throws -> PostgresBindings { try PostgresBindings(binding: limit) }

    func decodeRow(_ row: PostgresRow) throws -> Row {
        try row.decode(Row.self)
    }
}
