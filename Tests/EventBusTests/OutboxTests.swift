import Foundation
import Logging
import PostgresNIO
import ServiceKit
import Testing
import TestSupport

@testable import EventBus

/// A publisher that forwards to the real bus and then fails, as a relay does when it dies between
/// publishing and recording that it did.
struct PublishThenFail<Inner: EventPublisher>: EventPublisher {
    let inner: Inner
    var maximumBatchSize: Int { inner.maximumBatchSize }
    var eventBusName: String { inner.eventBusName }

    func putEvents(_ entries: [PublishEntry]) async throws -> [PublishResult] {
        _ = try await inner.putEvents(entries)
        throw CancellationError()
    }
}

/// A publisher that rejects the entries at the given positions, as EventBridge does entry by entry.
struct RejectSome<Inner: EventPublisher>: EventPublisher {
    let inner: Inner
    let rejected: Set<Int>
    var maximumBatchSize: Int { inner.maximumBatchSize }
    var eventBusName: String { inner.eventBusName }

    func putEvents(_ entries: [PublishEntry]) async throws -> [PublishResult] {
        let accepted = entries.enumerated().filter { !rejected.contains($0.offset) }.map(\.element)
        _ = try await inner.putEvents(accepted)
        return entries.indices.map { rejected.contains($0) ? .failed(code: "ThrottlingException", message: "slow down") : .published(eventID: UUID().uuidString) }
    }
}

@Suite struct OutboxTests {
    static func withOutboxAndBus(_ body: @escaping @Sendable (DatabasePool, LocalBus) async throws -> Void) async throws {
        try await LocalBusTests.withBus { bus in
            try await Migrator(Outbox.migrations).migrate(client: bus.client, logger: TestDatabase.logger)
            try await body(bus.client, bus)
        }
    }

    static func enqueue(_ client: DatabasePool, n: Int, commit: Bool) async throws {
        struct Rollback: Error {}
        do {
            try await client.withOutboxTransaction(logger: TestDatabase.logger) { connection in
                try await Outbox.enqueue(LocalBusTests.entry("OrderPlaced", source: "test.orders", n: n), on: connection, logger: TestDatabase.logger)
                if !commit { throw Rollback() }
            }
        } catch is Rollback {}
    }

    @Test func onlyCommittedEventsArePublishedAndAnEventStoredBeforeACrashIsPublishedAfterRestart() async throws {
        try await Self.withOutboxAndBus { client, bus in
            try await Self.enqueue(client, n: 1, commit: false)
            try await Self.enqueue(client, n: 2, commit: true)
            // No relay ran: as if the process died right after the commit.
            #expect(try await Outbox.pendingCount(client: client, logger: TestDatabase.logger) == 1)

            let relay = OutboxRelay(client: client, publisher: bus.publisher(to: "TestBus"), logger: TestDatabase.logger)
            #expect(try await relay.relayBatch() == 1)
            #expect(try await Outbox.pendingCount(client: client, logger: TestDatabase.logger) == 0)
            let messages = try await bus.queue("audit").receive(maxMessages: 10, waitTime: .zero, visibilityTimeout: nil)
            #expect(messages.count == 1)
            #expect(try EventEnvelope(json: messages[0].body).detail["n"] == .number(2))
        }
    }

    @Test func aCrashBetweenPublishingAndMarkingRepublishesRatherThanLoses() async throws {
        try await Self.withOutboxAndBus { client, bus in
            try await Self.enqueue(client, n: 7, commit: true)
            let failing = OutboxRelay(client: client, publisher: PublishThenFail(inner: bus.publisher(to: "TestBus")), logger: TestDatabase.logger)
            #expect(try await failing.relayBatch() == 0)
            #expect(try await Outbox.pendingCount(client: client, logger: TestDatabase.logger) == 1)

            // The retry waits out its backoff, then publishes again: at least once, never lost.
            try await client.query("UPDATE outbox SET next_attempt_at = now()", logger: TestDatabase.logger)
            let relay = OutboxRelay(client: client, publisher: bus.publisher(to: "TestBus"), logger: TestDatabase.logger)
            #expect(try await relay.relayBatch() == 1)
            let messages = try await bus.queue("audit").receive(maxMessages: 10, waitTime: .zero, visibilityTimeout: nil)
            #expect(messages.count == 2)
            #expect(Set(try messages.map { try EventEnvelope(json: $0.body).detail["n"] }) == [.number(7)])
        }
    }

    @Test func theRelayServicePublishesPromptlyAfterCommit() async throws {
        try await Self.withOutboxAndBus { client, bus in
            let relay = OutboxRelay(client: client, publisher: bus.publisher(to: "TestBus"), logger: TestDatabase.logger, idleScan: .seconds(30))
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await relay.run() }
                try await Task.sleep(for: .milliseconds(300))
                for n in 0..<25 { try await Self.enqueue(client, n: n, commit: true) }
                var received: [QueueMessage] = []
                let queue = bus.queue("audit")
                while received.count < 25 {
                    let batch = try await queue.receive(maxMessages: 10, waitTime: .seconds(5), visibilityTimeout: .seconds(60))
                    if batch.isEmpty { break }
                    received += batch
                }
                group.cancelAll()
                #expect(received.count == 25)
                let order = try received.map { try EventEnvelope(json: $0.body).detail["n"] }
                #expect(order == (0..<25).map { JSONValue.number(Decimal($0)) }, "published in commit order")
            }
        }
    }

    /// A relay's rows are its own while it publishes them: another relay (a replica) passes them by,
    /// and the next pass of the first deletes them — each event published once. When the first
    /// relay's session dies with rows published but not deleted, its locks go with it and another
    /// relay publishes them again at once (at least once, never lost).
    @Test func anotherRelayPassesByARelaysRowsUntilItsSessionDies() async throws {
        try await Self.withOutboxAndBus { client, bus in
            let publisher = bus.publisher(to: "TestBus")
            let first = OutboxRelay(client: client, publisher: publisher, logger: TestDatabase.logger)
            let second = OutboxRelay(client: client, publisher: publisher, logger: TestDatabase.logger)
            func outboxCount() async throws -> Int {
                var count = -1
                for try await n in try await client.query("SELECT count(*)::bigint FROM outbox", logger: TestDatabase.logger).decode(Int.self) { count = n }
                return count
            }
            func received() async throws -> [JSONValue?] {
                let messages = try await bus.queue("audit").receive(maxMessages: 10, waitTime: .zero, visibilityTimeout: .seconds(60))
                return try messages.map { try EventEnvelope(json: $0.body).detail["n"] }
            }

            for n in 0..<3 { try await Self.enqueue(client, n: n, commit: true) }
            try await client.withConnection { connection in
                let (taken, published) = try await first.pass(on: connection, deleting: [])
                #expect(taken == 3 && published.count == 3)
                #expect(try await second.relayBatch() == 0, "the second relay took rows the first holds")
                try await first.delete(published, on: connection)
                // Its locks went with the delete.
                var held = -1
                for try await n in try await connection.query(
                    "SELECT count(*)::bigint FROM pg_locks WHERE locktype = 'advisory' AND classid = \(unescaped: String(OutboxPass.lockClass)) AND pid = pg_backend_pid()", logger: TestDatabase.logger
                ).decode(Int.self) { held = n }
                #expect(held == 0)
            }
            #expect(try await outboxCount() == 0)
            #expect(try await received().count == 3)

            for n in 3..<5 { try await Self.enqueue(client, n: n, commit: true) }
            try await client.withConnection { connection in
                let (_, published) = try await first.pass(on: connection, deleting: [])
                #expect(published.count == 2)
                // The first relay's session ends before its next pass.
                var backend = 0
                for try await p in try await connection.query("SELECT pg_backend_pid()", logger: TestDatabase.logger).decode(Int.self) { backend = p }
                let pid = backend
                try await withTemporaryPostgresClient(try TestDatabase.server, logger: TestDatabase.logger) { admin in
                    try await admin.query("SELECT pg_terminate_backend(\(pid)::int, 10000)", logger: TestDatabase.logger)
                }
            }
            // The pool notices its closed connection when it comes back: the first lease may still meet it.
            let republished = try await retryingWhileDatabaseUnavailable { try await second.relayBatch() }
            #expect(republished == 2)
            #expect(try await outboxCount() == 0)
            #expect(Set(try await received()) == [.number(3), .number(4)], "published twice, as at least once allows")
        }
    }

    /// Published rows leave the outbox (nothing is kept forever); an entry the bus rejected stays, with
    /// its attempt and error, and only it is published again.
    @Test func publishedRowsAreDeletedAndOnlyRejectedOnesStay() async throws {
        try await Self.withOutboxAndBus { client, bus in
            // Every row in the outbox waits to be published: one index (the primary key, the relay's order) is enough.
            #expect(try await client.indexedColumns(of: "outbox").indexes == 1)
            for n in 0..<3 { try await Self.enqueue(client, n: n, commit: true) }
            let relay = OutboxRelay(client: client, publisher: RejectSome(inner: bus.publisher(to: "TestBus"), rejected: [1]), logger: TestDatabase.logger)
            #expect(try await relay.relayBatch() == 2)
            let rows = try await client.query("SELECT detail, attempts, last_error FROM outbox", logger: TestDatabase.logger)
            var left: [(String, Int, String?)] = []
            for try await row in rows.decode((String, Int, String?).self) { left.append(row) }
            #expect(left.count == 1)
            #expect(left.first?.0.contains("\"n\":1") == true && left.first?.1 == 1 && left.first?.2?.contains("ThrottlingException") == true)

            try await client.query("UPDATE outbox SET next_attempt_at = now()", logger: TestDatabase.logger)
            #expect(try await OutboxRelay(client: client, publisher: bus.publisher(to: "TestBus"), logger: TestDatabase.logger).relayBatch() == 1)
            let total = try await client.query("SELECT count(*)::bigint FROM outbox", logger: TestDatabase.logger)
            for try await count in total.decode(Int.self) { #expect(count == 0) }
            let messages = try await bus.queue("audit").receive(maxMessages: 10, waitTime: .zero, visibilityTimeout: nil)
            #expect(Set(try messages.map { try EventEnvelope(json: $0.body).detail["n"] }) == [.number(0), .number(1), .number(2)])
        }
    }

    /// The bus's own commits need not wait for the disk; a store does, unless the publishing service's
    /// database is on the bus's Postgres (one write-ahead log orders the store before the outbox delete).
    @Test func busCommitsDoNotWaitForTheDiskAndStoresWaitUnlessTheClusterIsShared() async throws {
        try await TestDatabase.with { database in
            var settings = database.settings
            settings.sessionParameters = [("synchronous_commit", "off")]
            let pool = DatabasePool(settings: settings, logger: TestDatabase.logger)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await pool.run() }
                defer { group.cancelAll() }
                let rows = try await pool.query("SHOW synchronous_commit", logger: TestDatabase.logger)
                for try await value in rows.decode(String.self) { #expect(value == "off") }
                let bus = LocalBus(client: pool, logger: TestDatabase.logger)
                #expect(bus.storesWaitForDisk, "until the cluster is known")
                try await TestDatabase.with { other in
                    try await other.withClient { service in
                        try await bus.sharesCluster(with: service)
                        #expect(!bus.storesWaitForDisk, "another database of the same cluster")
                    }
                }
            }
        }
    }
}
