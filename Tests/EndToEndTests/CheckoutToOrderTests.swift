import AsyncHTTPClient
import Contracts
import EventBus
import Foundation
import Logging
import NIOCore
import PostgresNIO
import ServiceKit
import Testing
import TestSupport

/// product-service, basket-service and ordering-service as real processes on Postgres and the
/// local bus, driven over HTTP.
@Suite(.serialized) struct CheckoutToOrderTests {
    struct Shop: Sendable {
        var product: ServiceProcess
        var basket: ServiceProcess
        var ordering: ServiceProcess
        var urls: [String: String]
        var orderingEnvironment: [String: String]
        var productId: String
    }

    static func withShop(_ body: @escaping @Sendable (Shop) async throws -> Void) async throws {
        try await TestDatabase.with { productDB in
            try await TestDatabase.with { basketDB in
                try await TestDatabase.with { orderingDB in
                    try await TestDatabase.with { busDB in
                        let ports = (product: try freePort(), basket: try freePort(), ordering: try freePort())
                        let common = [
                            "BUS_MODE": "local", "BUS_DATABASE_URL": busDB.url,
                            "QUEUE_VISIBILITY_TIMEOUT_MS": "2000", "QUEUE_MAX_RECEIVE_COUNT": "3",
                        ]
                        let product = try await ServiceProcess("product-service", port: ports.product, environment: common.merging(["DATABASE_URL": productDB.url]) { $1 })
                        defer { product.terminate() }
                        let basket = try await ServiceProcess("basket-service", port: ports.basket, environment: common.merging([
                            "DATABASE_URL": basketDB.url, "PRODUCT_SERVICE_URL": product.baseURL,
                        ]) { $1 })
                        defer { basket.terminate() }
                        let orderingEnvironment = common.merging(["DATABASE_URL": orderingDB.url, "RETRY_BASE_DELAY_MS": "100"]) { $1 }
                        let ordering = try await ServiceProcess("ordering-service", port: ports.ordering, environment: orderingEnvironment)
                        defer { ordering.terminate() }
                        let created = try await HTTP.send(.POST, "\(product.baseURL)/product", #"{"name":"Phone","price":19.99,"category":"Phones"}"#, token: try await TestTokens.admin())
                        let productId = try JSONDecoder().decode([String: JSONValue].self, from: created.body)["id"]!
                        guard case .string(let id) = productId else { throw HTTP.Failure(reason: "no product id") }
                        try await body(Shop(
                            product: product, basket: basket, ordering: ordering,
                            urls: ["basket": basketDB.url, "ordering": orderingDB.url, "bus": busDB.url],
                            orderingEnvironment: orderingEnvironment, productId: id
                        ))
                    }
                }
            }
        }
    }

    static func checkout(_ shop: Shop, user: String, quantity: Int = 2) async throws -> String {
        let basket = try await HTTP.send(.POST, "\(shop.basket.baseURL)/basket",
            #"{"userName":"\#(user)","items":[{"productId":"\#(shop.productId)","quantity":\#(quantity)}]}"#, token: try await TestTokens.token(user))
        #expect(basket.status == 200)
        let response = try await HTTP.send(.POST, "\(shop.basket.baseURL)/basket/checkout", """
            {"userName":"\(user)","firstName":"A","lastName":"B","email":"a@example.com","address":"Street 1",
             "paymentMethod":"card","cardInfo":"4111111111111111"}
            """, token: try await TestTokens.token(user))
        #expect(response.status == 202)
        return try JSONDecoder().decode([String: String].self, from: response.body, ignoringNonStrings: true)["checkoutId"] ?? ""
    }

    /// Counts orders in the ordering database (the test's own view, not the service's).
    static func orderCount(_ url: String) async throws -> Int {
        try await Database.scalar(url, "SELECT count(*)::bigint FROM orders")
    }

    static func waitFor(_ what: String, timeout: Duration = .seconds(60), _ condition: @Sendable () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        Issue.record("timed out waiting for \(what)")
    }

    @Test func nCheckoutsMakeNOrdersAndRedeliveryMakesNoMore() async throws {
        try await Self.withShop { shop in
            let n = 20
            // The relay deletes what it published: keep a copy of every outbox row to publish again below.
            for statement in [
                "CREATE TABLE outbox_copy AS SELECT * FROM outbox WITH NO DATA",
                "CREATE FUNCTION copy_outbox() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO outbox_copy SELECT OLD.*; RETURN OLD; END $$",
                "CREATE TRIGGER copy_outbox BEFORE DELETE ON outbox FOR EACH ROW EXECUTE FUNCTION copy_outbox()",
            ] {
                try await Database.execute(shop.urls["basket"]!, statement)
            }
            var checkoutIds: Set<String> = []
            for index in 0..<n { checkoutIds.insert(try await Self.checkout(shop, user: "user\(index)", quantity: index + 1)) }
            try await Self.waitFor("\(n) orders") { try await Self.orderCount(shop.urls["ordering"]!) == n }

            // Every event published again: the relay re-sends the whole outbox.
            try await Self.waitFor("the outbox to be published") {
                try await Database.scalar(shop.urls["basket"]!, "SELECT count(*)::bigint FROM outbox_copy") == n
            }
            try await Database.execute(shop.urls["basket"]!, "DROP TRIGGER copy_outbox ON outbox")
            try await Database.execute(shop.urls["basket"]!, """
                INSERT INTO outbox (source, detail_type, detail, event_time, trace_context)
                SELECT source, detail_type, detail, event_time, trace_context FROM outbox_copy ORDER BY id
                """)
            try await Self.waitFor("the outbox to drain") {
                try await Database.scalar(shop.urls["basket"]!, "SELECT count(*)::bigint FROM outbox WHERE published_at IS NULL") == 0
            }
            try await Self.waitFor("the queue to drain") {
                try await Database.scalar(shop.urls["bus"]!, "SELECT count(*)::bigint FROM bus_messages WHERE queue = 'ordering-checkout'") == 0
            }
            #expect(try await Self.orderCount(shop.urls["ordering"]!) == n)

            let orders = try await HTTP.send(.GET, "\(shop.ordering.baseURL)/order/user4", token: try await TestTokens.token("user4"))
            let list = try JSONValue.decoder.decode([JSONValue].self, from: orders.body)
            #expect(list.count == 1)
            #expect(list.first?["totalPrice"] == .number(Decimal(string: "99.95")!), "5 × 19.99")
            #expect(list.first?["cardInfo"] == .string("**** **** **** 1111"))
            // Its saga started (no payment-service runs here, so it goes no further than the stock).
            guard case .array(let history) = list.first?["statusHistory"] else { Issue.record("no status history"); return }
            #expect(history.first?["status"] == .string("Pending"))
        }
    }

    @Test func killingOrderingMidBatchStillGivesExactlyNOrders() async throws {
        try await Self.withShop { shop in
            shop.ordering.kill()
            let n = 150
            for index in 0..<n { _ = try await Self.checkout(shop, user: "k\(index)") }
            try await Self.waitFor("all events queued") {
                try await Database.scalar(shop.urls["bus"]!, "SELECT count(*)::bigint FROM bus_messages WHERE queue = 'ordering-checkout'") == n
            }
            let second = try await shop.ordering.restarted()
            // Kill it as soon as the first orders exist: mid-stream, with messages in flight.
            let deadline = ContinuousClock.now + .seconds(30)
            while try await Self.orderCount(shop.urls["ordering"]!) == 0, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(5))
            }
            second.kill()
            let made = try await Self.orderCount(shop.urls["ordering"]!)
            print("ordering-service was killed with \(made) of \(n) orders made")
            #expect(made > 0 && made < n, "the kill must land mid-stream (it landed after \(made) of \(n))")
            let third = try await shop.ordering.restarted()
            defer { third.terminate() }
            try await Self.waitFor("\(n) orders") { try await Self.orderCount(shop.urls["ordering"]!) == n }
            try await Task.sleep(for: .seconds(3)) // past the visibility timeout: any redelivery has happened
            #expect(try await Self.orderCount(shop.urls["ordering"]!) == n, "killed after \(made) orders")
        }
    }

    @Test func aPoisonMessageGoesToTheDeadLetterQueueWhileTheRestFlowOn() async throws {
        try await Self.withShop { shop in
            try await Database.withClient(shop.urls["bus"]!) { client in
                let bus = LocalBus(client: client, logger: TestDatabase.logger)
                let results = try await bus.publisher.putEvents([PublishEntry(
                    source: ShopEvents.checkoutBasket.source,
                    detailType: ShopEvents.checkoutBasket.detailType, detail: .object(["checkoutId": .string("not-a-uuid")])
                )])
                #expect(results.allSatisfy { $0.succeeded })
            }
            for index in 0..<5 { _ = try await Self.checkout(shop, user: "p\(index)") }
            try await Self.waitFor("5 orders") { try await Self.orderCount(shop.urls["ordering"]!) == 5 }
            try await Self.waitFor("the poison message in the dead-letter queue") {
                try await Database.scalar(shop.urls["bus"]!, "SELECT count(*)::bigint FROM bus_messages WHERE queue = 'ordering-checkout-dlq'") == 1
            }
            #expect(try await Self.orderCount(shop.urls["ordering"]!) == 5)
            // It can never succeed, so it went at once, with its reason, instead of after maxReceiveCount receives.
            #expect(try await Database.scalar(shop.urls["bus"]!, """
                SELECT count(*)::bigint FROM bus_messages WHERE queue = 'ordering-checkout-dlq' AND receive_count = 1
                AND dead_letter_reason LIKE 'unprocessable event: malformed CheckoutBasket event%'
                """) == 1)
        }
    }
}
