import Contracts
import EventBus
import Foundation
import PostgresNIO
import ServiceKit
import Testing
import TestSupport

/// Three ordering and two payment replicas on one bus and one database each: every replica handles
/// messages, the timer scans (saga deadlines, slow payments) run in all of them at once, and no
/// order's history and no payment's history has a step twice.
@Suite(.serialized) struct ReplicaTests {
    @Test func threeOrderingAndTwoPaymentReplicasDecideNothingTwice() async throws {
        // Slow cards (`…0077`) answer after 2.5 s while the saga gives up on a payment after 1 s: the
        // deadline scan of every ordering replica and the slow-payment scan of both payment replicas
        // find the same rows due at the same time, every 50 ms.
        let settings = SagaTests.sagaSettings.merging([
            // The payment deadline leaves an approving card time to answer while a full `swift test` loads the machine.
            "ORDER_PAYMENT_TIMEOUT_MS": "5000", "PAYMENT_SLOW_DELAY_MS": "7000", "ORDER_TIMEOUT_SCAN_MS": "50", "PAYMENT_SCAN_MS": "50",
        ]) { $1 }
        try await TestDatabase.with { productDB in
        try await TestDatabase.with { basketDB in
        try await TestDatabase.with { orderingDB in
        try await TestDatabase.with { paymentDB in
        try await TestDatabase.with { busDB in
            let common = settings.merging(["BUS_MODE": "local", "BUS_DATABASE_URL": busDB.url]) { $1 }
            let product = try await ServiceProcess("product-service", port: try freePort(), environment: common.merging(["DATABASE_URL": productDB.url]) { $1 })
            defer { product.terminate() }
            let basket = try await ServiceProcess("basket-service", port: try freePort(), environment: common.merging([
                "DATABASE_URL": basketDB.url, "PRODUCT_SERVICE_URL": product.baseURL,
            ]) { $1 })
            defer { basket.terminate() }
            var orderings: [ServiceProcess] = []
            var payments: [ServiceProcess] = []
            defer { for process in orderings + payments { process.terminate() } }
            for _ in 0..<3 {
                orderings.append(try await ServiceProcess("ordering-service", port: try freePort(), environment: common.merging(["DATABASE_URL": orderingDB.url]) { $1 }))
            }
            for _ in 0..<2 {
                payments.append(try await ServiceProcess("payment-service", port: try freePort(), environment: common.merging(["DATABASE_URL": paymentDB.url]) { $1 }))
            }
            let shop = SagaTests.Shop(product: product, basket: basket, ordering: orderings[0], payment: payments[0], databases: [:])
            let lamp = try await SagaTests.createProduct(shop, stock: 1_000)

            // 24 customers check out at once: a third with a slow card, a third declined, a third approved.
            let cards = ["4242424242424242", "4000000000000002", "4000000000000077"]
            let orders = try await withThrowingTaskGroup(of: (String, String, String).self) { group in
                for n in 0..<24 {
                    group.addTask {
                        let user = "replica\(n)"
                        return (user, cards[n % 3], try await SagaTests.order(shop, user: user, lines: [(lamp, 1)], card: cards[n % 3]))
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            for (user, card, id) in orders {
                // Read from another replica than the one that made it, whichever that was.
                let order = try await SagaTests.finished(SagaTests.Shop(product: product, basket: basket, ordering: orderings[2], payment: payments[1], databases: [:]), user: user, id)
                let statuses = SagaTests.statuses(order)
                #expect(Set(statuses).count == statuses.count, "order \(id) has a step twice: \(statuses)")
                switch card {
                case "4242424242424242":
                    #expect(statuses == ["Pending", "StockReserved", "Paid", "Completed"])
                case "4000000000000002":
                    #expect(statuses == ["Pending", "StockReserved", "Cancelled"])
                default:
                    #expect(statuses == ["Pending", "StockReserved", "Cancelled"])
                    #expect(order["cancellationReason"] == .string("StepTimeout"))
                }
            }
            // The slow cards' late approvals are refunded, each once.
            for (_, card, id) in orders where card == "4000000000000077" {
                try await CheckoutToOrderTests.waitFor("the late approval of \(id) refunded") {
                    try await SagaTests.payment(shop, id).body["status"] == .string("Refunded")
                }
                guard case .array(let history) = try await SagaTests.payment(shop, id).body["history"] else { Issue.record("no history"); continue }
                #expect(history.map { $0["status"] } == [.string("Approved"), .string("Refunded")], "payment \(id)")
            }
            try await CheckoutToOrderTests.waitFor("the stock back") { try await SagaTests.stock(shop, lamp) == 1_000 - 8 }

            // Each event of each order was published once: one status-history row per step in the
            // ordering database, one payment per order, and every replica handled messages.
            let duplicates = try await Self.count(orderingDB, "SELECT count(*)::int FROM (SELECT order_id, status FROM order_status_history GROUP BY 1, 2 HAVING count(*) > 1) d")
            #expect(duplicates == 0)
            let paymentRows = try await Self.count(paymentDB, "SELECT count(*)::int FROM payment_history WHERE status = 'Approved'")
            #expect(paymentRows == 16, "8 approved and 8 slow cards approved once each")
            for (name, replicas) in [("ordering", orderings), ("payment", payments)] {
                for replica in replicas {
                    let handled = try await Self.handled(replica)
                    #expect(handled > 0, "a \(name) replica (port \(replica.port)) handled no message")
                }
            }
        }}}}}
    }

    static func count(_ database: TestDatabase, _ sql: String) async throws -> Int {
        try await database.withClient { client in
            var value = -1
            for try await count in try await client.query(PostgresQuery(unsafeSQL: sql), logger: TestDatabase.logger).decode(Int.self) { value = count }
            return value
        }
    }

    /// `bus_messages_handled` summed over the replica's queues.
    static func handled(_ process: ServiceProcess) async throws -> Double {
        let families = try await MetricsTests.parse("\(process.baseURL)/metrics")
        return (families["bus_messages_handled"] ?? []).reduce(0) { $0 + $1.value }
    }
}
