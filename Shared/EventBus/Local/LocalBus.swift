import Foundation
import Logging
import PostgresNIO
import ServiceKit
import Synchronization

/// The local event bus: EventBridge-style rules and SQS-style queues in Postgres.
///
/// Publishing inserts one message per matching rule target and notifies the queue's channel in the
/// same transaction; consumers claim messages with `FOR UPDATE SKIP LOCKED`, so any number of them
/// share a queue and none ever holds a message another holds.
///
/// **Commits that need not wait for the disk.** The bus's connections run with
/// `synchronous_commit = off`: a claim, a delete, a visibility change or a dead-letter move that a
/// crash of Postgres takes back only makes a message visible again (at least once, consumers are
/// idempotent). A *store* taken back would lose an event if the outbox row it came from were already
/// gone, so a store waits for the disk unless the publishing service's database is on the bus's own
/// Postgres (`sharesCluster`): there one write-ahead log orders both, and the outbox delete that
/// follows the store can only survive a crash if the store did.
package struct LocalBus: Sendable {
    package static let notificationChannel = "swn_bus"

    package let client: DatabasePool
    package let notifier: PostgresNotifier
    package let region: String
    /// Long polls wait in slices this long, so a lost notification costs at most this much latency.
    package let waitSlice: Duration
    let logger: Logger
    /// Each bus's rules as last read, for `rulesTTL`: publishing need not read them every time.
    let ruleCache = RuleCache()
    static let rulesTTL: Duration = .seconds(1)

    final class RuleCache: Sendable {
        let entries = Mutex<[String: (rules: [(pattern: EventPattern, queue: String)], readAt: ContinuousClock.Instant)]>([:])
    }

    /// Whether a store must wait for the disk (see above); true until `sharesCluster` says otherwise.
    final class Durability: Sendable {
        let storesWaitForDisk = Mutex(true)
    }
    let durability = Durability()

    /// Notes whether `client` (the publishing service's database) is on the bus's Postgres: same
    /// cluster (`system_identifier`) and same server address, so stores need not wait for the disk.
    package func sharesCluster(with client: DatabasePool) async throws {
        func identifier(_ pool: DatabasePool) async throws -> String {
            let rows = try await pool.query(
                "SELECT system_identifier::text || '@' || coalesce(inet_server_addr()::text, 'socket') || ':' || current_setting('port') FROM pg_control_system()",
                logger: logger
            )
            for try await value in rows.decode(String.self) { return value }
            return UUID().uuidString
        }
        let shared = try await identifier(client) == identifier(self.client)
        durability.storesWaitForDisk.withLock { $0 = !shared }
        logger.debug("local bus stores", metadata: ["waitForDisk": "\(!shared)"])
    }

    var storesWaitForDisk: Bool { durability.storesWaitForDisk.withLock { $0 } }

    /// The rules of `eventBus` (read from `bus_rules` at most once per `rulesTTL`).
    func rules(of eventBus: String) async throws -> [(pattern: EventPattern, queue: String)] {
        let now = ContinuousClock.now
        if let cached = ruleCache.entries.withLock({ $0[eventBus] }), now - cached.readAt < Self.rulesTTL { return cached.rules }
        var rules: [(pattern: EventPattern, queue: String)] = []
        let rows = try await client.query(
            "SELECT pattern, target_queue FROM bus_rules WHERE event_bus = \(eventBus) ORDER BY name",
            logger: logger
        )
        for try await (pattern, queue) in rows.decode((String, String).self) {
            rules.append((try EventPattern(json: pattern), queue))
        }
        ruleCache.entries.withLock { $0[eventBus] = (rules, now) }
        return rules
    }

    package init(client: DatabasePool, region: String = "local", waitSlice: Duration = .seconds(2), logger: Logger) {
        self.client = client
        self.waitSlice = waitSlice
        self.notifier = PostgresNotifier(client: client, channel: Self.notificationChannel, logger: logger)
        self.region = region
        self.logger = logger
    }

    /// Creates the schema and declares `topology`'s queues and rules (idempotent, safe to race).
    package func install(_ topology: BusTopology) async throws {
        try await Migrator(LocalBusMigrations.all, lockKey: 0x5357_4E42).migrate(client: client, logger: logger)
        try await client.withTransaction(logger: logger) { connection in
            for queue in topology.queues {
                try await connection.query(
                    """
                    INSERT INTO bus_queues (name, visibility_timeout_ms, max_receive_count, dead_letter_queue)
                    VALUES (\(queue.name), \(Self.milliseconds(queue.visibilityTimeout)), \(queue.maxReceiveCount), \(queue.deadLetterQueue))
                    ON CONFLICT (name) DO UPDATE SET visibility_timeout_ms = excluded.visibility_timeout_ms,
                        max_receive_count = excluded.max_receive_count, dead_letter_queue = excluded.dead_letter_queue
                    """,
                    logger: logger
                )
            }
            for rule in topology.rules {
                let pattern = String(decoding: try JSONEncoder().encode(rule.pattern), as: UTF8.self)
                try await connection.query(
                    """
                    INSERT INTO bus_rules (event_bus, name, pattern, target_queue)
                    VALUES (\(rule.eventBusName), \(rule.name), \(pattern), \(rule.targetQueue))
                    ON CONFLICT (event_bus, name) DO UPDATE SET pattern = excluded.pattern, target_queue = excluded.target_queue
                    """,
                    logger: logger
                )
            }
        }
        ruleCache.entries.withLock { $0.removeAll() }
    }

    /// A publisher to the bus named `eventBusName` (its rules are `install`ed with the topology).
    package func publisher(to eventBusName: String) -> LocalEventPublisher { LocalEventPublisher(bus: self, eventBusName: eventBusName) }

    /// A publisher to the shop's bus under its default name (tests and tools).
    package var publisher: LocalEventPublisher { publisher(to: BusTopology.defaultEventBusName) }

    package func queue(_ name: String) -> LocalQueue { LocalQueue(bus: self, name: name) }

    static func milliseconds(_ duration: Duration) -> Int {
        Int(duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)
    }
}
