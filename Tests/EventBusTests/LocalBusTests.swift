import Foundation
import Logging
import PostgresNIO
import ServiceKit
import Synchronization
import Testing
import TestSupport

@testable import EventBus

/// The local bus against a real Postgres: routing, visibility, dead letters, redrive, concurrency.
@Suite struct LocalBusTests {
    static let topology = BusTopology(
        eventBusName: "TestBus",
        queues: [
            .init(name: "work", consumer: "test", visibilityTimeout: .milliseconds(300), maxReceiveCount: 2, deadLetterQueue: "work-dlq"),
            .init(name: "work-dlq", consumer: "test", visibilityTimeout: .seconds(30), maxReceiveCount: 0, deadLetterQueue: nil),
            .init(name: "audit", consumer: "test", visibilityTimeout: .seconds(30), maxReceiveCount: 5, deadLetterQueue: nil),
        ],
        rules: [
            .init(name: "orders", eventBusName: "TestBus", pattern: EventPattern(.object([
                "source": .array([.string("test.orders")]),
                "detail-type": .array([.object(["prefix": .string("Order")])]),
            ])), targetQueue: "work"),
            .init(name: "everything", eventBusName: "TestBus", pattern: EventPattern(.object([
                "source": .array([.object(["prefix": .string("test.")])]),
            ])), targetQueue: "audit"),
        ]
    )

    /// A bus on a fresh database, with its notification listener running.
    static func withBus(waitSlice: Duration = .seconds(2), _ body: @escaping @Sendable (LocalBus) async throws -> Void) async throws {
        try await TestDatabase.with { database in
            try await database.withClient { client in
                let bus = LocalBus(client: client, waitSlice: waitSlice, logger: TestDatabase.logger)
                try await bus.install(topology)
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { try await bus.notifier.run() }
                    try await body(bus)
                    group.cancelAll()
                }
            }
        }
    }

    static func entry(_ detailType: String, source: String = "test.orders", n: Int = 0) -> PublishEntry {
        PublishEntry(source: source, detailType: detailType, detail: .object(["n": .number(Decimal(n))]))
    }

    /// A claim writes the message in place: no index holds a column it changes, nothing checks a
    /// foreign key on store, and pages keep room for the new versions. A store adds one index entry:
    /// the queue's order, through which every statement finds its messages.
    @Test func claimsChangeNoIndexedColumn() async throws {
        try await Self.withBus { bus in
            let messages = try await bus.client.indexedColumns(of: "bus_messages")
            #expect(messages.columns.isDisjoint(with: ["visible_at", "receive_count", "receipt_handle"]), "\(messages.columns)")
            #expect(messages.columns == ["queue", "seq"], "\(messages.columns)")
            #expect(messages.indexes == 1)
            #expect(messages.foreignKeys == 0)
        }
    }

    @Test func rulesRouteEventsToTheirQueues() async throws {
        try await Self.withBus { bus in
            let results = try await bus.publisher(to: "TestBus").putEvents([
                Self.entry("OrderPlaced"), Self.entry("Shipped"), Self.entry("OrderPlaced", source: "other.orders"),
            ])
            #expect(results.allSatisfy { $0.succeeded })
            let work = try await bus.queue("work").receive(maxMessages: 10, waitTime: .zero, visibilityTimeout: nil)
            #expect(work.count == 1)
            let envelope = try EventEnvelope(json: work[0].body)
            #expect(envelope.detailType == "OrderPlaced")
            #expect(envelope.source == "test.orders")
            #expect(envelope.version == "0")
            let audit = try await bus.queue("audit").receive(maxMessages: 10, waitTime: .zero, visibilityTimeout: nil)
            #expect(audit.count == 2)
        }
    }

    @Test func anUndeletedMessageComesBackAfterItsVisibilityTimeout() async throws {
        try await Self.withBus { bus in
            _ = try await bus.publisher(to: "TestBus").putEvents([Self.entry("OrderPlaced")])
            let queue = bus.queue("audit")
            let first = try await queue.receive(maxMessages: 1, waitTime: .zero, visibilityTimeout: .seconds(2))
            #expect(first.count == 1)
            #expect(first[0].receiveCount == 1)
            #expect(try await queue.receive(maxMessages: 1, waitTime: .zero, visibilityTimeout: nil).isEmpty)
            let second = try await queue.receive(maxMessages: 1, waitTime: .seconds(10), visibilityTimeout: .seconds(30))
            #expect(second.map(\.messageID) == first.map(\.messageID))
            #expect(second.first?.receiveCount == 2)
            #expect(second.first?.receiptHandle != first[0].receiptHandle)
            // The first receipt is stale now: deleting with it does nothing.
            try await queue.delete(receiptHandles: [first[0].receiptHandle])
            try await queue.changeVisibility(receiptHandle: second[0].receiptHandle, timeout: .zero)
            let third = try await queue.receive(maxMessages: 1, waitTime: .zero, visibilityTimeout: nil)
            #expect(third.map(\.messageID) == first.map(\.messageID))
            try await queue.delete(receiptHandles: third.map(\.receiptHandle))
            #expect(try await queue.receive(maxMessages: 1, waitTime: .milliseconds(200), visibilityTimeout: nil).isEmpty)
        }
    }

    @Test func aMessageReceivedMaxReceiveCountTimesMovesToTheDeadLetterQueueAndCanBeRedriven() async throws {
        try await Self.withBus { bus in
            _ = try await bus.publisher(to: "TestBus").putEvents([Self.entry("OrderPlaced", n: 1)])
            let queue = bus.queue("work")
            for attempt in 1...2 {
                let messages = try await queue.receive(maxMessages: 1, waitTime: .seconds(3), visibilityTimeout: nil)
                #expect(messages.first?.receiveCount == attempt)
            }
            // The third receive finds it dead-lettered instead.
            #expect(try await queue.receive(maxMessages: 1, waitTime: .seconds(1), visibilityTimeout: nil).isEmpty)
            let admin = LocalBusAdmin(bus: bus)
            let dead = try await admin.messages(in: "work-dlq")
            #expect(dead.count == 1)
            #expect(dead.first?.sourceQueue == "work")
            #expect(dead.first?.receiveCount == 2)

            #expect(try await admin.redrive(deadLetterQueue: "work-dlq") == 1)
            #expect(try await admin.messages(in: "work-dlq").isEmpty)
            let again = try await queue.receive(maxMessages: 1, waitTime: .seconds(1), visibilityTimeout: nil)
            #expect(again.count == 1)
            #expect(again.first?.receiveCount == 1)
            #expect(try EventEnvelope(json: again[0].body).detail["n"] == .number(1))
        }
    }

    @Test func concurrentConsumersNeverHoldTheSameMessage() async throws {
        try await Self.withBus { bus in
            let received = try await Self.receiveConcurrently(bus, messages: 200, publishedBy: 10, consumers: 4, batch: 7, deleting: true)
            #expect(received.count == 200)
            #expect(Set(received).count == 200)
        }
    }

    /// Publishes `messages` to `audit` (`publishedBy` per `PutEvents`), then has `consumers` receive
    /// them at once until the queue looks empty to each; the message ids each receive returned.
    static func receiveConcurrently(_ bus: LocalBus, messages total: Int, publishedBy: Int, consumers: Int, batch: Int, deleting: Bool) async throws -> [String] {
        for start in stride(from: 0, to: total, by: publishedBy) {
            _ = try await bus.publisher(to: "TestBus").putEvents((start..<start + publishedBy).map { entry("OrderPlaced", source: "test.other", n: $0) })
        }
        return try await withThrowingTaskGroup(of: [String].self) { group in
            for _ in 0..<consumers {
                group.addTask {
                    var ids: [String] = []
                    let queue = bus.queue("audit")
                    while true {
                        let received = try await queue.receive(maxMessages: batch, waitTime: .milliseconds(300), visibilityTimeout: .seconds(60))
                        if received.isEmpty { return ids }
                        ids += received.map(\.messageID)
                        if deleting { try await queue.delete(receiptHandles: received.map(\.receiptHandle)) }
                    }
                }
            }
            var all: [String] = []
            for try await ids in group { all += ids }
            return all
        }
    }

    /// Receives that overlap claim each message once, also when none deletes what it received (a
    /// receive whose snapshot still shows another's claimed message as visible must not claim it).
    @Test func overlappingReceivesClaimEachMessageOnce() async throws {
        try await Self.withBus { bus in
            let received = try await Self.receiveConcurrently(bus, messages: 300, publishedBy: 50, consumers: 6, batch: 3, deleting: false)
            #expect(received.count == 300)
            #expect(Set(received).count == 300)
            #expect(try await bus.queue("audit").depth() == QueueDepth(visible: 0, inFlight: 300))
        }
    }

    /// A slow message does not hold up the queue behind it: while the queue is backed up, a consumer
    /// fills its window again as soon as half of it is free. The first of 30 messages waits until the
    /// other 29 are handled (or 10 s): a consumer that received again only once its whole batch was done
    /// would wait for it, and the 20 behind it with it. Each message is handled once and deleted.
    @Test func aSlowMessageDoesNotHoldUpTheQueueBehindIt() async throws {
        final class Handled: Sendable {
            let state = Mutex<(fast: Set<Decimal>, times: Int, slowReleasedByTheOthers: Bool?)>(([], 0, nil))
        }
        struct SlowFirst: MessageHandler {
            let handled: Handled
            func handle(_ message: QueueMessage) async throws {
                guard case .number(let n)? = try EventEnvelope(json: message.body).detail["n"] else { throw UnprocessableMessage("no n") }
                handled.state.withLock { $0.times += 1 }
                guard n == 0 else {
                    handled.state.withLock { _ = $0.fast.insert(n) }
                    return
                }
                let deadline = ContinuousClock.now + .seconds(10)
                while handled.state.withLock({ $0.fast.count }) < 29, ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(20))
                }
                handled.state.withLock { $0.slowReleasedByTheOthers = $0.fast.count == 29 }
            }
        }
        try await Self.withBus { bus in
            _ = try await bus.publisher(to: "TestBus").putEvents((0..<30).map { Self.entry("OrderPlaced", source: "test.other", n: $0) })
            let handled = Handled()
            let consumer = QueueConsumer(queue: bus.queue("audit"), handler: SlowFirst(handled: handled), logger: TestDatabase.logger, batchSize: 10, waitTime: .milliseconds(200))
            let running = Task { try await consumer.run() }
            let deadline = ContinuousClock.now + .seconds(20)
            while handled.state.withLock({ $0.slowReleasedByTheOthers == nil }), ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            // The last handled messages are deleted by the consumer's next receive.
            while try await bus.queue("audit").depth() != QueueDepth(visible: 0, inFlight: 0), ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            running.cancel()
            _ = try? await running.value
            let state = handled.state.withLock { $0 }
            #expect(state.slowReleasedByTheOthers == true, "the other 29 were not all handled while the first was in hand")
            #expect(state.times == 30)
            #expect(try await bus.queue("audit").depth() == QueueDepth(visible: 0, inFlight: 0))
        }
    }

    @Test func longPollingWakesWhenAMessageArrives() async throws {
        // Without the notification the receive would sleep its whole 60 s slice.
        try await Self.withBus(waitSlice: .seconds(60)) { bus in
            let clock = ContinuousClock()
            let start = clock.now
            async let messages = bus.queue("audit").receive(maxMessages: 1, waitTime: .seconds(60), visibilityTimeout: nil)
            try await Task.sleep(for: .milliseconds(200))
            _ = try await bus.publisher(to: "TestBus").putEvents([Self.entry("OrderPlaced")])
            let result = try await messages
            #expect(result.count == 1)
            #expect(clock.now - start < .seconds(30), "woken by the notification, not by the end of its wait")
        }
    }
}
