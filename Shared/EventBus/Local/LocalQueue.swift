import ServiceKit
import Foundation
import Logging
import PostgresNIO
import Synchronization

/// One queue of the local bus, with the SQS semantics `MessageQueue` describes.
///
/// Each consumer loop takes its own `LocalQueue` (`LocalBus.queue(_:)`): it remembers what its last
/// receive saw (`ReceiveHint`), so that a consumer coming back with handled messages after a receive
/// that drained the queue waits for a wake-up first and deletes them with the receive that follows it,
/// instead of spending a statement (and a commit) on a receive that can only find nothing.
package struct LocalQueue: MessageQueue {
    let bus: LocalBus
    package let name: String
    let hint = ReceiveHint()

    init(bus: LocalBus, name: String) {
        self.bus = bus
        self.name = name
    }

    /// What this queue value's last receive saw. Only a hint: a wrong one costs at most one wait of
    /// `LocalBus.waitSlice` before the next look, never a message (every look still reads the queue).
    final class ReceiveHint: Sendable {
        struct State {
            /// The notifier's generation for this queue taken before the last receive that returned
            /// messages, when it returned fewer than it asked for (the queue had no more visible then).
            var drainedAt: UInt64?
            /// When the earliest message this value made invisible for a while (a retry's backoff)
            /// becomes visible again.
            var retryAt: ContinuousClock.Instant?
        }
        let state = Mutex(State())
    }

    package func receive(maxMessages: Int, waitTime: Duration, visibilityTimeout: Duration?) async throws -> [QueueMessage] {
        try await receive(maxMessages: maxMessages, waitTime: waitTime, visibilityTimeout: visibilityTimeout, deleting: [])
    }

    package func receive(maxMessages: Int, waitTime: Duration, visibilityTimeout: Duration?, deleting handled: [String]) async throws -> [QueueMessage] {
        let batch = min(max(maxMessages, 1), 10)
        let deadline = ContinuousClock.now + waitTime
        var handled = handled.compactMap(Receipt.init(handle:))
        let last = hint.state.withLock { state in
            defer { state = ReceiveHint.State() }
            return state
        }
        if !handled.isEmpty, let drainedAt = last.drainedAt {
            // The last receive left nothing visible, and every message stored since notifies this
            // queue: wait for that (or for a retry of ours, or the slice) before looking, so that the
            // look finds something and the handled messages are deleted with it. They stay hidden
            // meanwhile; after a crash they come back, as any message not deleted does.
            var slice = min(deadline - .now, bus.waitSlice)
            if let retryAt = last.retryAt { slice = min(slice, retryAt - .now) }
            await bus.notifier.wait(name, ticket: drainedAt, timeout: slice)
        }
        while true {
            let ticket = await bus.notifier.ticket(name)
            let (messages, nextVisibleIn) = try await receiveOnce(batch: batch, visibilityTimeout: visibilityTimeout, deleting: handled)
            handled = []
            if !messages.isEmpty {
                if messages.count < batch { hint.state.withLock { $0.drainedAt = ticket } }
                return messages
            }
            let remaining = deadline - .now
            if remaining <= .zero || Task.isCancelled { return [] }
            if nextVisibleIn == .zero { continue }
            var slice = min(remaining, bus.waitSlice)
            if let nextVisibleIn { slice = min(slice, max(nextVisibleIn, .milliseconds(5))) }
            await bus.notifier.wait(name, ticket: ticket, timeout: slice)
        }
    }

    /// One prepared statement, one round trip, atomic: delete the messages handled since the last
    /// receive (by queue, `seq` and receipt: a receipt is a random UUID, so the triple is matched
    /// exactly); take the first `batch` visible messages (queue order, none
    /// another consumer holds); move those already received `maxReceiveCount` times to the dead-letter
    /// queue (SQS's redrive policy) and claim the others (receive count + 1, hidden for the visibility
    /// timeout, a new receipt: columns no index holds, so the claim is a HOT update); when none could be
    /// claimed, say when the next one becomes visible. It reads a queue's head however long the queue is.
    ///
    /// Two receives never claim one message, without a row lock (`FOR UPDATE` writes a lock record
    /// to the WAL for every message, before the claim writes it again): a receive takes a
    /// transaction-level advisory lock on each message it means to claim (tried only on the first
    /// `4 × batch` visible ones, so a long queue head in flight cannot fill the lock table), passing by
    /// those another receive holds; and the claim applies only to a message that is still visible in
    /// this queue, checked again on its newest version, so a receive whose snapshot predates another's
    /// committed claim (or delete, or move) claims nothing for it.
    struct Receive: LosableWrite {
        static let name = "bus_receive_v6"
        /// The first key of a receive's advisory locks (the second is the message's `seq`).
        static let lockClass = 0x4251
        static let sql = """
            WITH q AS (
                SELECT visibility_timeout_ms, max_receive_count, dead_letter_queue,
                       dead_letter_queue IS NOT NULL AND max_receive_count > 0 AS redrives
                FROM bus_queues WHERE name = $1
            ), handled AS (
                DELETE FROM bus_messages WHERE queue = $1 AND seq = ANY($4::bigint[]) AND receipt_handle = ANY($5::uuid[])
                RETURNING seq
            ), candidates AS MATERIALIZED (
                SELECT m.seq, m.receive_count FROM bus_messages m
                WHERE m.queue = $1 AND m.visible_at <= now() AND m.seq <> ALL($4::bigint[])
                ORDER BY m.seq LIMIT $2 * 4
            ), taken AS MATERIALIZED (
                SELECT c.seq, q.redrives AND c.receive_count >= q.max_receive_count AS exhausted
                FROM (SELECT seq, receive_count FROM candidates WHERE pg_try_advisory_xact_lock(\(AdvisoryLocks.rowKey(lockClass, "seq"))) LIMIT $2) c, q
            ), moved AS (
                UPDATE bus_messages m SET queue = q.dead_letter_queue, source_queue = $1,
                    dead_lettered_at = now(), visible_at = now(), receipt_handle = NULL
                FROM q WHERE m.queue = $1 AND m.visible_at <= now() AND m.seq = ANY(ARRAY(SELECT seq FROM taken WHERE exhausted))
                RETURNING m.seq
            ), claimed AS (
                UPDATE bus_messages m SET receive_count = m.receive_count + 1,
                    visible_at = now() + make_interval(secs => coalesce($3::bigint, q.visibility_timeout_ms) / 1000.0),
                    receipt_handle = gen_random_uuid()
                FROM q WHERE m.queue = $1 AND m.visible_at <= now() AND m.seq = ANY(ARRAY(SELECT seq FROM taken WHERE NOT exhausted))
                RETURNING m.id, m.receipt_handle, m.body, m.receive_count, m.sent_at, m.seq
            ), summary AS (
                SELECT (SELECT count(*) FROM q)::int AS known, (SELECT count(*) FROM moved)::int AS moved,
                       (SELECT dead_letter_queue FROM q) AS dead_letter_queue,
                       CASE WHEN EXISTS (SELECT 1 FROM claimed) OR EXISTS (SELECT 1 FROM moved) THEN NULL ELSE
                           (SELECT EXTRACT(EPOCH FROM (min(visible_at) - now()))::float8 FROM bus_messages
                            WHERE queue = $1 AND seq <> ALL($4::bigint[])) END AS next_visible_in
            )
            SELECT s.known, s.moved, s.dead_letter_queue, s.next_visible_in,
                   CASE WHEN s.moved > 0 THEN pg_notify('\(LocalBus.notificationChannel)', s.dead_letter_queue) END,
                   c.id, c.receipt_handle, c.body, c.receive_count, c.sent_at, c.seq
            FROM summary s LEFT JOIN claimed c ON true
            ORDER BY c.seq
            """
        static let bindingDataTypes: [PostgresDataType] = [.text, .int8, .int8, .int8Array, .uuidArray]
        typealias Row = (known: Int, moved: Int, deadLetterQueue: String?, nextVisibleIn: Double?, message: QueueMessage?)

        let queue: String
        let batch: Int
        let visibilityTimeoutMs: Int?
        let deleting: [Receipt]

        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 5)
            bindings.append(queue)
            bindings.append(batch)
            if let visibilityTimeoutMs { bindings.append(visibilityTimeoutMs) } else { bindings.appendNull() }
            bindings.append(deleting.map(\.seq))
            bindings.append(deleting.map(\.receipt))
            return bindings
        }

        func decodeRow(_ row: PostgresRow) throws -> Row {
            let (known, moved, deadLetterQueue, next, _, id, receipt, body, count, sentAt, seq) =
                try row.decode((Int, Int, String?, Double?, String?, UUID?, UUID?, String?, Int?, Date?, Int64?).self)
            var message: QueueMessage?
            if let id, let receipt, let body, let count, let sentAt, let seq {
                message = QueueMessage(
                    messageID: id.uuidString.lowercased(), receiptHandle: Receipt(seq: seq, receipt: receipt).handle,
                    body: body, receiveCount: count, sentAt: sentAt
                )
            }
            return (known, moved, deadLetterQueue, next, message)
        }
    }

    /// A receipt handle of the local bus: the message's place in its queue (`seq`, unique: every
    /// message takes the next value of one sequence) and the receipt of its current claim. The queue
    /// is the one the handle is used on, so a handle is found through the queue's index; the messages
    /// have no other.
    struct Receipt: Sendable {
        let seq: Int64
        let receipt: UUID

        init(seq: Int64, receipt: UUID) {
            self.seq = seq
            self.receipt = receipt
        }

        init?(handle: String) {
            let parts = handle.split(separator: ":")
            guard parts.count == 2, let seq = Int64(parts[0]), let receipt = UUID(uuidString: String(parts[1])) else { return nil }
            self.init(seq: seq, receipt: receipt)
        }

        var handle: String { "\(seq):" + receipt.uuidString.lowercased() }
    }

    private func receiveOnce(batch: Int, visibilityTimeout: Duration?, deleting handled: [Receipt]) async throws -> ([QueueMessage], Duration?) {
        let logger = bus.logger
        let rows = try await bus.client.execute(
            Receive(queue: name, batch: batch, visibilityTimeoutMs: visibilityTimeout.map(LocalBus.milliseconds), deleting: handled),
            logger: logger
        )
        var messages: [QueueMessage] = []
        var nextVisibleIn: Duration?
        var first = true
        for try await row in rows {
            // The summary columns are the same on every row (one row when nothing was claimed).
            if first {
                first = false
                guard row.known > 0 else { throw LocalBusError.queueDoesNotExist(name) }
                if row.moved > 0 {
                    logger.warning("moved messages to the dead-letter queue", metadata: ["queue": "\(name)", "deadLetterQueue": "\(row.deadLetterQueue ?? "-")", "count": "\(row.moved)"])
                }
                // Messages moved to the dead-letter queue made room: look again at once.
                nextVisibleIn = row.moved > 0 ? .zero : row.nextVisibleIn.map { .milliseconds(Int(max($0, 0) * 1000) + 1) }
            }
            if let message = row.message { messages.append(message) }
        }
        return (messages, messages.isEmpty ? nextVisibleIn : nil)
    }

    package func delete(receiptHandles: [String]) async throws {
        let receipts = receiptHandles.compactMap(Receipt.init(handle:))
        guard !receipts.isEmpty else { return }
        try await bus.client.query(
            "DELETE FROM bus_messages WHERE queue = \(name) AND seq = ANY(\(receipts.map(\.seq))) AND receipt_handle = ANY(\(receipts.map(\.receipt)))",
            logger: bus.logger
        )
    }

    package func changeVisibility(receiptHandle: String, timeout: Duration) async throws {
        guard let receipt = Receipt(handle: receiptHandle) else { return }
        let ms = LocalBus.milliseconds(timeout)
        let visibleAt = ContinuousClock.now + timeout
        hint.state.withLock { $0.retryAt = min($0.retryAt ?? visibleAt, visibleAt) }
        try await bus.client.withTransaction(logger: bus.logger) { connection in
            try await connection.query(
                """
                UPDATE bus_messages SET visible_at = now() + make_interval(secs => \(Double(ms) / 1000))
                WHERE queue = \(name) AND seq = \(receipt.seq) AND receipt_handle = \(receipt.receipt)
                """,
                logger: bus.logger
            )
            if ms == 0 {
                try await connection.query("SELECT pg_notify(\(LocalBus.notificationChannel), \(name))", logger: bus.logger)
            }
        }
    }

    package func deadLetter(_ message: QueueMessage, reason: String) async throws -> Bool {
        guard let receipt = Receipt(handle: message.receiptHandle) else { return false }
        let rows = try await bus.client.query(
            """
            UPDATE bus_messages m SET queue = q.dead_letter_queue, source_queue = m.queue, dead_lettered_at = now(),
                dead_letter_reason = \(String(reason.prefix(1000))), visible_at = now(), receipt_handle = NULL
            FROM bus_queues q WHERE q.name = m.queue AND q.dead_letter_queue IS NOT NULL
                AND m.queue = \(name) AND m.seq = \(receipt.seq) AND m.receipt_handle = \(receipt.receipt)
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

    static func settings(of name: String, on connection: DatabaseConnection, logger: Logger) async throws -> Settings {
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
