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

    func putEvents(_ entries: [PublishEntry]) async throws -> [PublishResult] {
        _ = try await inner.putEvents(entries)
        throw CancellationError()
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

            let relay = OutboxRelay(client: client, publisher: bus.publisher, logger: TestDatabase.logger)
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
            let failing = OutboxRelay(client: client, publisher: PublishThenFail(inner: bus.publisher), logger: TestDatabase.logger)
            #expect(try await failing.relayBatch() == 0)
            #expect(try await Outbox.pendingCount(client: client, logger: TestDatabase.logger) == 1)

            // The retry waits out its backoff, then publishes again: at least once, never lost.
            try await client.query("UPDATE outbox SET next_attempt_at = now()", logger: TestDatabase.logger)
            let relay = OutboxRelay(client: client, publisher: bus.publisher, logger: TestDatabase.logger)
            #expect(try await relay.relayBatch() == 1)
            let messages = try await bus.queue("audit").receive(maxMessages: 10, waitTime: .zero, visibilityTimeout: nil)
            #expect(messages.count == 2)
            #expect(Set(try messages.map { try EventEnvelope(json: $0.body).detail["n"] }) == [.number(7)])
        }
    }

    @Test func theRelayServicePublishesPromptlyAfterCommit() async throws {
        try await Self.withOutboxAndBus { client, bus in
            let relay = OutboxRelay(client: client, publisher: bus.publisher, logger: TestDatabase.logger, idleScan: .seconds(30))
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
}
