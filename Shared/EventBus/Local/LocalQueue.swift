import Foundation
import Logging
import PostgresNIO

/// One queue of the local bus, with the SQS semantics `MessageQueue` describes.
package struct LocalQueue: MessageQueue {
    let bus: LocalBus
    package let name: String

    package func receive(maxMessages: Int, waitTime: Duration, visibilityTimeout: Duration?) async throws -> [QueueMessage] {
        let batch = min(max(maxMessages, 1), 10)
        let deadline = ContinuousClock.now + waitTime
        while true {
            let ticket = await bus.notifier.ticket(name)
            let (messages, nextVisibleIn) = try await receiveOnce(batch: batch, visibilityTimeout: visibilityTimeout)
            if !messages.isEmpty { return messages }
            let remaining = deadline - .now
            if remaining <= .zero || Task.isCancelled { return [] }
            var slice = min(remaining, bus.waitSlice)
            if let nextVisibleIn { slice = min(slice, max(nextVisibleIn, .milliseconds(5))) }
            await bus.notifier.wait(name, ticket: ticket, timeout: slice)
        }
    }

    private func receiveOnce(batch: Int, visibilityTimeout: Duration?) async throws -> ([QueueMessage], Duration?) {
        let logger = bus.logger
        let name = self.name
        return try await bus.client.withTransaction(logger: logger) { connection in
            let settings = try await Self.settings(of: name, on: connection, logger: logger)
            let timeoutMs = visibilityTimeout.map(LocalBus.milliseconds) ?? settings.visibilityTimeoutMs
            // A message received maxReceiveCount times moves to the dead-letter queue instead of
            // being handed out again, as SQS's redrive policy does.
            if let deadLetterQueue = settings.deadLetterQueue, settings.maxReceiveCount > 0 {
                let moved = try await connection.query(
                    """
                    WITH dead AS (
                        SELECT id FROM bus_messages
                        WHERE queue = \(name) AND visible_at <= now() AND receive_count >= \(settings.maxReceiveCount)
                        ORDER BY visible_at LIMIT 100 FOR UPDATE SKIP LOCKED
                    )
                    UPDATE bus_messages m SET queue = \(deadLetterQueue), source_queue = \(name),
                        dead_lettered_at = now(), visible_at = now(), receipt_handle = NULL
                    FROM dead WHERE m.id = dead.id
                    RETURNING m.id
                    """,
                    logger: logger
                )
                var count = 0
                for try await _ in moved { count += 1 }
                if count > 0 {
                    logger.warning("moved messages to the dead-letter queue", metadata: ["queue": "\(name)", "deadLetterQueue": "\(deadLetterQueue)", "count": "\(count)"])
                    try await connection.query("SELECT pg_notify(\(LocalBus.notificationChannel), \(deadLetterQueue))", logger: logger)
                }
            }
            let limit = settings.deadLetterQueue == nil ? 0 : settings.maxReceiveCount
            let rows = try await connection.query(
                """
                WITH next AS (
                    SELECT id FROM bus_messages
                    WHERE queue = \(name) AND visible_at <= now() AND (\(limit) = 0 OR receive_count < \(limit))
                    ORDER BY visible_at, seq LIMIT \(batch) FOR UPDATE SKIP LOCKED
                )
                UPDATE bus_messages m SET receive_count = m.receive_count + 1,
                    visible_at = now() + make_interval(secs => \(Double(timeoutMs) / 1000)),
                    receipt_handle = gen_random_uuid()
                FROM next WHERE m.id = next.id
                RETURNING m.id, m.receipt_handle, m.body, m.receive_count, m.sent_at, m.seq
                """,
                logger: logger
            )
            var claimed: [(seq: Int64, message: QueueMessage)] = []
            for try await (id, receipt, body, count, sentAt, seq) in rows.decode((UUID, UUID, String, Int, Date, Int64).self) {
                claimed.append((seq, QueueMessage(
                    messageID: id.uuidString.lowercased(), receiptHandle: receipt.uuidString.lowercased(),
                    body: body, receiveCount: count, sentAt: sentAt
                )))
            }
            if !claimed.isEmpty { return (claimed.sorted { $0.seq < $1.seq }.map(\.message), nil) }
            let next = try await connection.query(
                "SELECT EXTRACT(EPOCH FROM (min(visible_at) - now()))::float8 FROM bus_messages WHERE queue = \(name)",
                logger: logger
            )
            for try await seconds in next.decode(Double?.self) {
                if let seconds { return ([], .milliseconds(Int(max(seconds, 0) * 1000) + 1)) }
            }
            return ([], nil)
        }
    }

    package func delete(receiptHandles: [String]) async throws {
        let handles = receiptHandles.compactMap(UUID.init(uuidString:))
        guard !handles.isEmpty else { return }
        try await bus.client.query("DELETE FROM bus_messages WHERE receipt_handle = ANY(\(handles))", logger: bus.logger)
    }

    package func changeVisibility(receiptHandle: String, timeout: Duration) async throws {
        guard let handle = UUID(uuidString: receiptHandle) else { return }
        let ms = LocalBus.milliseconds(timeout)
        try await bus.client.withTransaction(logger: bus.logger) { connection in
            try await connection.query(
                "UPDATE bus_messages SET visible_at = now() + make_interval(secs => \(Double(ms) / 1000)) WHERE receipt_handle = \(handle)",
                logger: bus.logger
            )
            if ms == 0 {
                try await connection.query("SELECT pg_notify(\(LocalBus.notificationChannel), \(name))", logger: bus.logger)
            }
        }
    }

    package func deadLetter(_ message: QueueMessage, reason: String) async throws -> Bool {
        guard let handle = UUID(uuidString: message.receiptHandle) else { return false }
        let rows = try await bus.client.query(
            """
            UPDATE bus_messages m SET queue = q.dead_letter_queue, source_queue = m.queue, dead_lettered_at = now(),
                dead_letter_reason = \(String(reason.prefix(1000))), visible_at = now(), receipt_handle = NULL
            FROM bus_queues q WHERE q.name = m.queue AND q.dead_letter_queue IS NOT NULL AND m.receipt_handle = \(handle)
            RETURNING m.queue
            """,
            logger: bus.logger
        )
        for try await _ in rows { return true }
        return false
    }

    struct Settings {
        var visibilityTimeoutMs: Int
        var maxReceiveCount: Int
        var deadLetterQueue: String?
    }

    static func settings(of name: String, on connection: PostgresConnection, logger: Logger) async throws -> Settings {
        let rows = try await connection.query(
            "SELECT visibility_timeout_ms, max_receive_count, dead_letter_queue FROM bus_queues WHERE name = \(name)",
            logger: logger
        )
        for try await (timeout, maxReceiveCount, deadLetterQueue) in rows.decode((Int, Int, String?).self) {
            return Settings(visibilityTimeoutMs: timeout, maxReceiveCount: maxReceiveCount, deadLetterQueue: deadLetterQueue)
        }
        throw LocalBusError.queueDoesNotExist(name)
    }

    package func depth() async throws -> QueueDepth {
        let rows = try await bus.client.query(
            """
            SELECT (count(*) FILTER (WHERE visible_at <= now()))::bigint, (count(*) FILTER (WHERE visible_at > now()))::bigint
            FROM bus_messages WHERE queue = \(name)
            """,
            logger: bus.logger
        )
        for try await (visible, inFlight) in rows.decode((Int, Int).self) { return QueueDepth(visible: visible, inFlight: inFlight) }
        return QueueDepth(visible: 0, inFlight: 0)
    }
}

package enum LocalBusError: Error, CustomStringConvertible {
    case queueDoesNotExist(String)

    package var description: String {
        switch self {
        case .queueDoesNotExist(let name): "queue \(name) does not exist"
        }
    }
}
