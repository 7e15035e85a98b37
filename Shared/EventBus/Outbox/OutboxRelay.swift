import Foundation
import Logging
import PostgresNIO
import ServiceKit
import ServiceLifecycle
import Tracing

/// Publishes outbox rows and marks them sent.
///
/// Rows are claimed with `FOR UPDATE SKIP LOCKED` inside a transaction that is committed only after
/// the publisher answered, so several relays can run at once, and a crash between publishing and the
/// commit leaves the rows pending: they are published again (at least once, never lost). Entries the
/// bus rejects are retried with exponential backoff.
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
                if published == 0 {
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
        return try await client.withTransaction(logger: logger) { connection in
            let rows = try await connection.execute(OutboxPending(limit: batchSize), logger: logger)
            var ids: [Int64] = []
            var entries: [PublishEntry] = []
            // One producer span per traced event, continuing the trace that recorded it; its
            // `traceparent` goes in the detail (EventBridge passes no trace headers to targets).
            var spans: [any Span] = []
            defer { for span in spans { span.end() } }
            for try await (id, bus, source, detailType, detail, time, trace) in rows {
                ids.append(id)
                var value = (try? JSONDecoder().decode(JSONValue.self, from: Data(detail.utf8))) ?? .string(detail)
                if let trace, case .object(var members) = value {
                    let span = InstrumentationSystem.tracer.startSpan("publish \(detailType)", context: ShopTracing.context(continuing: trace), ofKind: .producer)
                    span.attributes["messaging.system"] = "eventbridge"
                    span.attributes["messaging.destination.name"] = bus
                    span.attributes["messaging.operation.type"] = "send"
                    spans.append(span)
                    members["traceparent"] = ShopTracing.traceparent(of: span).map(JSONValue.string) ?? .string(trace)
                    value = .object(members)
                }
                entries.append(PublishEntry(eventBusName: bus, source: source, detailType: detailType, detail: value, time: time))
            }
            guard !entries.isEmpty else { return 0 }

            let results: [PublishResult]
            do {
                results = try await publisher.putEvents(entries)
            } catch {
                // The whole call failed: keep the rows pending, with backoff, and commit that.
                logger.warning("publishing outbox events failed", metadata: ["error": "\(error)", "count": "\(ids.count)"])
                for id in ids { try await markFailed(id, reason: "\(error)", on: connection) }
                return 0
            }
            var publishedIDs: [Int64] = []
            var eventIDs: [String] = []
            for (id, result) in zip(ids, results) {
                switch result {
                case .published(let eventID):
                    publishedIDs.append(id)
                    eventIDs.append(eventID)
                case .failed(let code, let message):
                    logger.warning("bus rejected an outbox event", metadata: ["outboxID": "\(id)", "code": "\(code)", "message": "\(message)"])
                    try await markFailed(id, reason: "\(code): \(message)", on: connection)
                }
            }
            if !publishedIDs.isEmpty {
                _ = try await connection.execute(OutboxPublished(ids: publishedIDs, eventIDs: eventIDs), logger: logger)
            }
            return publishedIDs.count
        }
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

/// The oldest unpublished rows that are due, none another relay holds (prepared once per connection).
struct OutboxPending: PostgresPreparedStatement {
    static let name = "outbox_pending_v1"
    static let sql = """
        SELECT id, event_bus, source, detail_type, detail, event_time, trace_context FROM outbox
        WHERE published_at IS NULL AND next_attempt_at <= now()
        ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED
        """
    static let bindingDataTypes: [PostgresDataType] = [.int8]
    typealias Row = (Int64, String, String, String, String, Date, String?)
    let limit: Int

    func makeBindings() throws -> PostgresBindings { try PostgresBindings(binding: limit) }

    func decodeRow(_ row: PostgresRow) throws -> Row {
        try row.decode(Row.self)
    }
}

/// Marks rows published, with the ids the bus gave their events.
struct OutboxPublished: PostgresPreparedStatement {
    static let name = "outbox_published_v1"
    static let sql = """
        UPDATE outbox SET published_at = now(), event_id = sent.event_id, attempts = attempts + 1
        FROM unnest($1::bigint[], $2::text[]) AS sent(id, event_id)
        WHERE outbox.id = sent.id
        """
    static let bindingDataTypes: [PostgresDataType] = [.int8Array, .textArray]
    typealias Row = ()
    let ids: [Int64]
    let eventIDs: [String]

    func makeBindings() throws -> PostgresBindings { try PostgresBindings(binding: ids, eventIDs) }

    func decodeRow(_ row: PostgresRow) throws {}
}

/// Runs `operation`, cutting it short (by cancellation) when graceful shutdown begins.
package func cancelWhenGracefulShutdownOrReturn(_ operation: @escaping @Sendable () async -> Void) async {
    _ = try? await cancelWhenGracefulShutdown { await operation() }
}
