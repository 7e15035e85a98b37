import Foundation
import Logging
import PostgresNIO

/// `PutEvents` on the local bus: routes each entry through the bus's rules into queues.
package struct LocalEventPublisher: EventPublisher {
    let bus: LocalBus

    package var maximumBatchSize: Int { 10 }

    package func putEvents(_ entries: [PublishEntry]) async throws -> [PublishResult] {
        precondition(entries.count <= maximumBatchSize, "PutEvents takes at most \(maximumBatchSize) entries")
        let logger = bus.logger
        return try await bus.client.withTransaction(logger: logger) { connection in
            var rulesByBus: [String: [(pattern: EventPattern, queue: String)]] = [:]
            var results: [PublishResult] = []
            var touched = Set<String>()
            for entry in entries {
                if rulesByBus[entry.eventBusName] == nil {
                    rulesByBus[entry.eventBusName] = try await Self.rules(of: entry.eventBusName, on: connection, logger: logger)
                }
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
                for rule in rulesByBus[entry.eventBusName] ?? [] where rule.pattern.matches(event) {
                    try await connection.query(
                        "INSERT INTO bus_messages (id, queue, body) VALUES (\(UUID()), \(rule.queue), \(body))",
                        logger: logger
                    )
                    touched.insert(rule.queue)
                }
                results.append(.published(eventID: envelope.id))
            }
            // Delivered by Postgres only when the transaction commits.
            for queue in touched {
                try await connection.query("SELECT pg_notify(\(LocalBus.notificationChannel), \(queue))", logger: logger)
            }
            return results
        }
    }

    static func rules(of eventBus: String, on connection: PostgresConnection, logger: Logger) async throws -> [(pattern: EventPattern, queue: String)] {
        var rules: [(pattern: EventPattern, queue: String)] = []
        let rows = try await connection.query(
            "SELECT pattern, target_queue FROM bus_rules WHERE event_bus = \(eventBus) ORDER BY name",
            logger: logger
        )
        for try await (pattern, queue) in rows.decode((String, String).self) {
            rules.append((try EventPattern(json: pattern), queue))
        }
        return rules
    }
}
