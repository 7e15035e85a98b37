import Contracts
import EventBus
import Foundation
import Logging
import PostgresNIO
import ServiceKit
import Synchronization
import Testing
import TestSupport

@testable import OrderingService

/// The saga's steps on a real Postgres: a step reads the order unlocked and writes only over the
/// version it read; when another step got in between, it is decided again on the locked row.
@Suite struct SagaStoreTests {
    /// Runs `before` (once) between a step's read and its write.
    struct Interleaving: SagaStore {
        let inner: any SagaStore
        let before: @Sendable () async throws -> Void

        func state() async throws -> SagaState? { try await inner.state() }

        func apply(_ decision: SagaDecision, entries: [PublishEntry], deadline: Date?) async throws {
            try await before()
            try await inner.apply(decision, entries: entries, deadline: deadline)
        }
    }

    /// A migrated ordering database, its repository and a saga runner (30 s steps).
    static func withSaga(
        _ body: @escaping @Sendable (DatabasePool, PostgresOrderRepository, SagaRunner<PostgresOrderRepository>) async throws -> Void
    ) async throws {
        try await TestDatabase.with { database in
            try await database.withClient { client in
                try await Migrator(OrderingMigrations.all).migrate(client: client, logger: TestDatabase.logger)
                let repository = PostgresOrderRepository(client: client, logger: TestDatabase.logger)
                try await body(client, repository, SagaRunner(repository: repository, stepTimeout: .seconds(30), paymentTimeout: .seconds(30)))
            }
        }
    }

    /// A checkout of one phone by ann.
    static func annsCheckout() -> CheckoutBasket {
        CheckoutBasket(
            checkoutId: UUID(), userName: "ann", firstName: "Ann", lastName: "Lee", email: "ann@example.com", address: "1 Main St",
            paymentMethod: "card", cardInfo: "**** **** **** 4242",
            items: [OrderLine(productId: UUID(), productName: "Phone", quantity: 1, color: "", price: 10)], totalPrice: 10, checkoutDate: Date()
        )
    }

    /// A saga step writes the order in place: no index holds a column it changes (so the update can be
    /// HOT), the deadlines live in their own narrow table, the history checks no foreign key and has one
    /// index, and the order's pages keep room for new versions.
    @Test func sagaWritesChangeNoIndexedColumn() async throws {
        try await Self.withSaga { client, _, _ in
            let orders = try await client.indexedColumns(of: "orders")
            #expect(orders.columns.isDisjoint(with: ["status", "saga_step", "deadline", "cancellation_reason"]), "\(orders.columns)")
            let history = try await client.indexedColumns(of: "order_status_history")
            #expect(history.foreignKeys == 0)
            #expect(history.indexes == 1)
            let options = try await client.query("SELECT array_to_string(reloptions, ',') FROM pg_class WHERE relname = 'orders'", logger: TestDatabase.logger)
            for try await value in options.decode(String?.self) { #expect(value?.contains("fillfactor=80") == true) }
        }
    }

    /// The database admits exactly the lifecycle's declared words (the checks are built from the
    /// declaration, in a migration named after it).
    @Test func theDatabaseAdmitsOnlyTheDeclaredWords() async throws {
        try await Self.withSaga { client, repository, _ in
            #expect(try await repository.createOrder(from: Self.annsCheckout()) { _ in })
            for status in OrderStatus.allCases {
                try await client.query("UPDATE orders SET status = \(status.rawValue)", logger: TestDatabase.logger)
            }
            for shipment in ShipmentStatus.allCases {
                try await client.query("UPDATE orders SET shipment_status = \(shipment.rawValue)", logger: TestDatabase.logger)
            }
            for reason in CancellationReason.allCases {
                try await client.query("UPDATE orders SET cancellation_reason = \(reason.rawValue)", logger: TestDatabase.logger)
            }
            for (column, word) in [("status", "Lost"), ("shipment_status", "Teleported"), ("cancellation_reason", "Bored"), ("saga_step", "dreaming")] {
                await #expect(throws: (any Error).self, "\(column) = \(word)") {
                    try await client.query(PostgresQuery(unsafeSQL: "UPDATE orders SET \(column) = '\(word)'"), logger: TestDatabase.logger)
                }
            }
        }
    }

    /// An order goes in with its saga's first decision: Pending in its
    /// first step, one history entry, its deadline and `ReserveStock` in the outbox. The same checkout
    /// again creates nothing and stores nothing more.
    @Test func anOrderIsCreatedWithItsFirstStepOnceInOneStatement() async throws {
        try await Self.withSaga { client, repository, saga in
            let checkout = Self.annsCheckout()
            #expect(try await repository.createOrder(from: checkout) { store in _ = try await saga.apply(.started, on: store) })
            #expect(try await repository.createOrder(from: checkout) { store in _ = try await saga.apply(.started, on: store) } == false)

            func count(_ sql: String) async throws -> Int {
                var n = -1
                for try await c in try await client.query(PostgresQuery(unsafeSQL: sql), logger: TestDatabase.logger).decode(Int.self) { n = c }
                return n
            }
            let order = try #require(try await repository.orders(of: "ann", on: nil, limit: 5).first)
            #expect(try await count("SELECT count(*)::int FROM orders") == 1)
            #expect(order.status == .pending)
            #expect(order.statusHistory.map(\.status) == [.pending])
            let state = try #require(try await repository.withSaga(orderId: order.orderId) { try await $0.state() })
            #expect(state.step == .reservingStock)
            let deadline = try #require(state.deadline)
            #expect(abs(deadline.timeIntervalSinceNow - 30) < 5)
            #expect(try await count("SELECT count(*)::int FROM order_deadlines WHERE deadline = (SELECT deadline FROM orders)") == 1)
            #expect(try await count("SELECT count(*)::int FROM outbox WHERE detail_type = 'ReserveStock'") == 1)
            #expect(try await count("SELECT count(*)::int FROM outbox") == 1)
            // One transaction wrote the order's row, its history, its deadline and its event (what it costs
            // is `make bench`'s to show).
            #expect(try await count("""
                SELECT count(DISTINCT x)::int FROM (SELECT xmin::text AS x FROM orders UNION ALL SELECT xmin::text FROM order_status_history
                UNION ALL SELECT xmin::text FROM order_deadlines UNION ALL SELECT xmin::text FROM outbox) t
                """) == 1)
        }
    }

    @Test func aStepOvertakenBetweenItsReadAndItsWriteIsDecidedAgain() async throws {
        try await Self.withSaga { client, repository, saga in
            let checkout = Self.annsCheckout()
            #expect(try await repository.createOrder(from: checkout) { store in _ = try await saga.apply(.started, on: store) })
            let orderId = try #require(try await repository.orders(of: "ann", on: nil, limit: 1).first).orderId

            // `StockReserved` reads the order (reserving stock), then, before it writes, the
            // reservation's failure is handled to the end: the order is cancelled.
            let once = Mutex(true)
            let outcome = try await repository.withSaga(orderId: orderId) { store in
                try await saga.apply(.stockReserved, on: Interleaving(inner: store) {
                    guard once.withLock({ first in defer { first = false }; return first }) else { return }
                    _ = try await saga.handle(.stockReservationFailed(reason: "OutOfStock"), orderId: orderId)
                })
            }
            #expect(once.withLock { !$0 }, "the other step ran in between")

            let order = try #require(try await repository.order(id: orderId))
            #expect(order.status == .cancelled, "the late step did not write over the cancellation (\(outcome))")
            #expect(!order.statusHistory.map(\.status).contains(.stockReserved))
            let types = try await client.query("SELECT detail_type FROM outbox ORDER BY id", logger: TestDatabase.logger)
            var published: [String] = []
            for try await type in types.decode(String.self) { published.append(type) }
            #expect(published.first == "ReserveStock")
            #expect(!published.contains("ChargePayment"), "no payment for a cancelled order: \(published)")
        }
    }
}
