import Foundation
import Logging
import PostgresNIO

/// Inspection and repair of the local bus: queue depths, messages, dead-letter redrive.
package struct LocalBusAdmin: Sendable {
    let bus: LocalBus

    package init(bus: LocalBus) {
        self.bus = bus
    }

    package struct QueueStats: Codable, Sendable, Equatable {
        package var name: String
        package var deadLetterQueue: String?
        package var visible: Int
        package var inFlight: Int
    }

    package struct StoredMessage: Codable, Sendable {
        package var messageID: String
        package var body: String
        package var receiveCount: Int
        package var sentAt: Date
        package var sourceQueue: String?
        package var deadLetteredAt: Date?
        /// Why a consumer gave up on it at once (a message that can never be handled).
        package var deadLetterReason: String?
    }

    package func stats() async throws -> [QueueStats] {
        let rows = try await bus.client.query(
            """
            SELECT q.name, q.dead_letter_queue,
                   (count(m.id) FILTER (WHERE m.visible_at <= now()))::bigint,
                   (count(m.id) FILTER (WHERE m.visible_at > now()))::bigint
            FROM bus_queues q LEFT JOIN bus_messages m ON m.queue = q.name
            GROUP BY q.name, q.dead_letter_queue ORDER BY q.name
            """,
            logger: bus.logger
        )
        var stats: [QueueStats] = []
        for try await (name, dlq, visible, inFlight) in rows.decode((String, String?, Int, Int).self) {
            stats.append(QueueStats(name: name, deadLetterQueue: dlq, visible: visible, inFlight: inFlight))
        }
        return stats
    }

    /// The messages of a queue, oldest first, without receiving them.
    package func messages(in queue: String, limit: Int = 100) async throws -> [StoredMessage] {
        let rows = try await bus.client.query(
            """
            SELECT id, body, receive_count, sent_at, source_queue, dead_lettered_at, dead_letter_reason FROM bus_messages
            WHERE queue = \(queue) ORDER BY seq LIMIT \(limit)
            """,
            logger: bus.logger
        )
        var messages: [StoredMessage] = []
        for try await (id, body, count, sentAt, source, deadAt, reason) in rows.decode((UUID, String, Int, Date, String?, Date?, String?).self) {
            messages.append(StoredMessage(
                messageID: id.uuidString.lowercased(), body: body, receiveCount: count, sentAt: sentAt,
                sourceQueue: source, deadLetteredAt: deadAt, deadLetterReason: reason
            ))
        }
        return messages
    }

    /// Moves every message of a dead-letter queue back to the queue it came from, with a fresh
    /// receive count (SQS's `StartMessageMoveTask`). Returns how many moved.
    @discardableResult
    package func redrive(deadLetterQueue: String) async throws -> Int {
        try await bus.client.withTransaction(logger: bus.logger) { connection in
            let rows = try await connection.query(
                """
                UPDATE bus_messages SET queue = source_queue, source_queue = NULL, dead_lettered_at = NULL,
                    receive_count = 0, visible_at = now(), receipt_handle = NULL
                WHERE queue = \(deadLetterQueue) AND source_queue IS NOT NULL
                RETURNING queue
                """,
                logger: bus.logger
            )
            var queues: [String: Int] = [:]
            for try await queue in rows.decode(String.self) { queues[queue, default: 0] += 1 }
            for queue in queues.keys {
                try await connection.query("SELECT pg_notify(\(LocalBus.notificationChannel), \(queue))", logger: bus.logger)
            }
            return queues.values.reduce(0, +)
        }
    }
}
