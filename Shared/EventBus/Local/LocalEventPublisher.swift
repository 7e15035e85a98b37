import Foundation
import Logging
import PostgresNIO
import ServiceKit

/// `PutEvents` on the local bus: routes each entry through the rules of the bus named `eventBusName` into queues.
package struct LocalEventPublisher: EventPublisher {
    let bus: LocalBus
    package let eventBusName: String

    /// EventBridge takes 10 entries per `PutEvents`; the local bus stores a batch in one statement
    /// whatever its size, so a relay that fell behind catches up with few round trips.
    package var maximumBatchSize: Int { 100 }

    /// Matches each entry against the bus's rules (read once per batch) and stores one message per
    /// matching rule, notifying each queue, in one statement (atomic, one round trip).
    package func putEvents(_ entries: [PublishEntry]) async throws -> [PublishResult] {
        precondition(entries.count <= maximumBatchSize, "PutEvents takes at most \(maximumBatchSize) entries")
        let logger = bus.logger
        let rules = try await bus.rules(of: eventBusName)
        var results: [PublishResult] = []
        var ids: [UUID] = []
        var queues: [String] = []
        var bodies: [String] = []
        for entry in entries {
            guard case .object = entry.detail else {
                results.append(.failed(code: "MalformedDetail", message: "Detail must be a JSON object"))
                continue
            }
            let envelope = EventEnvelope(
                detailType: entry.detailType, source: entry.source, time: entry.time ?? Date(),
                region: bus.region, resources: entry.resources, detail: entry.detail
            )
            let body = try envelope.jsonString()
            let event = envelope.jsonValue
            for rule in rules where rule.pattern.matches(event) {
                ids.append(UUID.random())
                queues.append(rule.queue)
                bodies.append(body)
            }
            results.append(.published(eventID: envelope.id))
        }
        guard !ids.isEmpty else { return results }
        // Notifications are delivered by Postgres only when the statement commits.
        _ = try await bus.client.execute(
            Store(ids: ids, queues: queues, bodies: bodies, synchronousCommit: bus.storesWaitForDisk ? "on" : "off"), logger: logger
        )
        return results
    }

    /// The messages and a notification per queue they went to (prepared once per connection). The
    /// statement is its own transaction; `$4` is its commit's `synchronous_commit` (see `LocalBus`).
    struct Store: PostgresPreparedStatement {
        static let name = "bus_store_v2"
        static let sql = """
            WITH stored AS (
                INSERT INTO bus_messages (id, queue, body)
                SELECT m.id, m.queue, m.body FROM unnest($1::uuid[], $2::text[], $3::text[]) AS m(id, queue, body)
                WHERE set_config('synchronous_commit', $4, true) IS NOT NULL
                RETURNING queue
            )
            SELECT pg_notify('\(LocalBus.notificationChannel)', queue) FROM (SELECT DISTINCT queue FROM stored) touched
            """
        static let bindingDataTypes: [PostgresDataType] = [.uuidArray, .textArray, .textArray, .text]
        typealias Row = ()
        let ids: [UUID]
        let queues: [String]
        let bodies: [String]
        let synchronousCommit: String

        func makeBindings() throws -> PostgresBindings { try PostgresBindings(binding: ids, queues, bodies, synchronousCommit) }

        func decodeRow(_ row: PostgresRow) throws {}
    }
}
