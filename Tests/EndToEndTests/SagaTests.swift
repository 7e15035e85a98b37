import AsyncHTTPClient
import Contracts
import EventBus
import Foundation
import ServiceKit
import Testing
import TestSupport

/// The order saga with product, basket, ordering and payment as real processes on Postgres and the
/// local bus: every outcome, compensation, a late approval refunded, and crashes inside the saga.
@Suite(.serialized) struct SagaTests {
    struct Shop: Sendable {
        var product: ServiceProcess
        var basket: ServiceProcess
        var ordering: ServiceProcess
        var payment: ServiceProcess
        var databases: [String: String]
        /// Started only by the tests that follow an order past `Completed` or put a gateway in front.
        var shipping: ServiceProcess? = nil
        /// Started with shipping.
        var notification: ServiceProcess? = nil

        /// The gateway's `<NAME>_SERVICE_URL` settings for this shop (it is ready only when every upstream is).
        var upstreams: [String: String] {
            var urls = [
                "PRODUCT_SERVICE_URL": product.baseURL, "BASKET_SERVICE_URL": basket.baseURL,
                "ORDERING_SERVICE_URL": ordering.baseURL, "PAYMENT_SERVICE_URL": payment.baseURL,
            ]
            if let shipping { urls["SHIPPING_SERVICE_URL"] = shipping.baseURL }
            if let notification { urls["NOTIFICATION_SERVICE_URL"] = notification.baseURL }
            return urls
        }
    }

    /// Step deadlines long enough that a loaded machine (suites run in parallel on two cores) never
    /// hits them by accident; the test of the timeout path sets short ones itself.
    static let sagaSettings = [
        "ORDER_STEP_TIMEOUT_MS": "30000", "ORDER_PAYMENT_TIMEOUT_MS": "30000", "ORDER_TIMEOUT_SCAN_MS": "100",
        "PAYMENT_SCAN_MS": "100", "RETRY_BASE_DELAY_MS": "100",
        "QUEUE_VISIBILITY_TIMEOUT_MS": "2000", "QUEUE_MAX_RECEIVE_COUNT": "5",
    ]

    /// `shipping: true` starts shipping-service and notification-service too (e-mails recorded only
    /// unless `settings` has an `SMTP_URL`).
    static func withShop(settings: [String: String] = [:], shipping: Bool = false, _ body: @escaping @Sendable (Shop) async throws -> Void) async throws {
        try await TestDatabase.with { productDB in
        try await TestDatabase.with { basketDB in
        try await TestDatabase.with { orderingDB in
        try await TestDatabase.with { paymentDB in
        try await TestDatabase.with { shippingDB in
        try await TestDatabase.with { notificationDB in
        try await TestDatabase.with { busDB in
            let common = sagaSettings.merging(["BUS_MODE": "local", "BUS_DATABASE_URL": busDB.url]) { $1 }.merging(settings) { $1 }
            let product = try await ServiceProcess("product-service", port: try freePort(), environment: common.merging(["DATABASE_URL": productDB.url]) { $1 })
            defer { product.terminate() }
            let basket = try await ServiceProcess("basket-service", port: try freePort(), environment: common.merging([
                "DATABASE_URL": basketDB.url, "PRODUCT_SERVICE_URL": product.baseURL,
            ]) { $1 })
            defer { basket.terminate() }
            let ordering = try await ServiceProcess("ordering-service", port: try freePort(), environment: common.merging(["DATABASE_URL": orderingDB.url]) { $1 })
            defer { ordering.terminate() }
            let payment = try await ServiceProcess("payment-service", port: try freePort(), environment: common.merging(["DATABASE_URL": paymentDB.url]) { $1 })
            defer { payment.terminate() }
            let shipper = shipping
                ? try await ServiceProcess("shipping-service", port: try freePort(), environment: common.merging(["DATABASE_URL": shippingDB.url]) { $1 })
                : nil
            defer { shipper?.terminate() }
            let notifier = shipping
                ? try await ServiceProcess("notification-service", port: try freePort(), environment: common.merging(["DATABASE_URL": notificationDB.url]) { $1 })
                : nil
            defer { notifier?.terminate() }
            try await body(Shop(product: product, basket: basket, ordering: ordering, payment: payment, databases: [
                "product": productDB.url, "basket": basketDB.url, "ordering": orderingDB.url, "payment": paymentDB.url, "shipping": shippingDB.url,
                "notification": notificationDB.url, "bus": busDB.url,
            ], shipping: shipper, notification: notifier))
        }}}}}}}
    }

    /// Polls until `probe` gives a value (Issue recorded and thrown on timeout).
    static func poll<T: Sendable>(_ what: String, timeout: Duration = .seconds(30), _ probe: @Sendable () async throws -> T?) async throws -> T {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let value = try await probe() { return value }
            try await Task.sleep(for: .milliseconds(100))
        }
        Issue.record("timed out waiting for \(what)")
        throw HTTP.Failure(reason: "timed out waiting for \(what)")
    }

    static func json(_ response: HTTP.Response) throws -> JSONValue { try JSONValue.decoder.decode(JSONValue.self, from: response.body) }

    static func createProduct(_ shop: Shop, stock: Int, price: String = "10.00") async throws -> String {
        let created = try await HTTP.send(.POST, "\(shop.product.baseURL)/product", #"{"name":"Lamp","price":\#(price),"category":"Home","stock":\#(stock)}"#, token: try await TestTokens.admin())
        guard case .string(let id) = try json(created)["id"] else { throw HTTP.Failure(reason: "no product id: \(String(decoding: created.body, as: UTF8.self))") }
        return id
    }

    static func stock(_ shop: Shop, _ productId: String) async throws -> Int {
        let response = try await HTTP.send(.GET, "\(shop.product.baseURL)/product/\(productId)")
        guard case .number(let stock) = try json(response)["stock"] else { return -1 }
        return NSDecimalNumber(decimal: stock).intValue
    }

    /// Fills `user`'s basket and checks out with `card`; returns the order id once the order exists.
    static func order(_ shop: Shop, user: String, lines: [(String, Int)], card: String, timeout: Duration = .seconds(30)) async throws -> String {
        let items = lines.map { #"{"productId":"\#($0.0)","quantity":\#($0.1)}"# }.joined(separator: ",")
        let token = try await TestTokens.token(user)
        let filled = try await HTTP.send(.POST, "\(shop.basket.baseURL)/basket", #"{"userName":"\#(user)","items":[\#(items)]}"#, token: token)
        #expect(filled.status == 200)
        let checkout = try await HTTP.send(.POST, "\(shop.basket.baseURL)/basket/checkout", """
            {"userName":"\(user)","firstName":"A","lastName":"B","email":"a@example.com","address":"Street 1","paymentMethod":"card","cardInfo":"\(card)"}
            """, token: token)
        #expect(checkout.status == 202)
        return try await poll("the order of \(user)", timeout: timeout) {
            let list = try json(try await HTTP.send(.GET, "\(shop.ordering.baseURL)/order/\(user)", token: token))
            if case .array(let orders) = list, case .string(let id) = orders.first?["orderId"] { return id }
            return nil
        }
    }

    /// Waits until the order is `Completed` or `Cancelled` and returns it.
    static func finished(_ shop: Shop, user: String, _ orderId: String, timeout: Duration = .seconds(30)) async throws -> JSONValue {
        let token = try await TestTokens.token(user)
        return try await poll("order \(orderId) to finish", timeout: timeout) {
            let order = try json(try await HTTP.send(.GET, "\(shop.ordering.baseURL)/order/\(user)/\(orderId)", token: token))
            return order["status"] == .string("Completed") || order["status"] == .string("Cancelled") ? order : nil
        }
    }

    static func statuses(_ order: JSONValue) -> [String] {
        guard case .array(let history) = order["statusHistory"] else { return [] }
        return history.compactMap { if case .string(let status) = $0["status"] { status } else { nil } }
    }

    static func payment(_ shop: Shop, _ orderId: String) async throws -> (status: Int, body: JSONValue) {
        let response = try await HTTP.send(.GET, "\(shop.payment.baseURL)/payment/\(orderId)", token: try await TestTokens.admin())
        return (response.status, response.status == 200 ? try json(response) : .null)
    }

    @Test func everyOutcome() async throws {
        try await Self.withShop { shop in
            let lamp = try await Self.createProduct(shop, stock: 10)

            // Approved: the stock goes down for good, the payment is approved.
            let approved = try await Self.order(shop, user: "approved", lines: [(lamp, 2)], card: "4242424242424242")
            let done = try await Self.finished(shop, user: "approved", approved)
            #expect(Self.statuses(done) == ["Pending", "StockReserved", "Paid", "Completed"])
            #expect(done["cancellationReason"] == .null)
            #expect(try await Self.stock(shop, lamp) == 8)
            #expect(try await Self.payment(shop, approved).body["status"] == .string("Approved"))

            // Declined cards: cancelled, the reservation released.
            for (user, card, reason) in [("declined", "4000000000000002", "card_declined"), ("poor", "4000000000009995", "insufficient_funds")] {
                let id = try await Self.order(shop, user: user, lines: [(lamp, 3)], card: card)
                let order = try await Self.finished(shop, user: user, id)
                #expect(order["status"] == .string("Cancelled") && order["cancellationReason"] == .string("PaymentDeclined"))
                #expect(Self.statuses(order) == ["Pending", "StockReserved", "Cancelled"])
                guard case .array(let history) = order["statusHistory"] else { continue }
                #expect(history.last?["reason"] == .string("PaymentDeclined: \(reason)"))
                let payment = try await Self.payment(shop, id)
                #expect(payment.body["status"] == .string("Declined"))
                try await CheckoutToOrderTests.waitFor("the stock back") { try await Self.stock(shop, lamp) == 8 }
            }

            // Out of stock: nothing reserved, nothing charged.
            let greedy = try await Self.order(shop, user: "greedy", lines: [(lamp, 9)], card: "4242424242424242")
            let refused = try await Self.finished(shop, user: "greedy", greedy)
            #expect(refused["cancellationReason"] == .string("OutOfStock") && Self.statuses(refused) == ["Pending", "Cancelled"])
            #expect(try await Self.payment(shop, greedy).status == 404, "never charged")
            #expect(try await Self.stock(shop, lamp) == 8)
        }
    }

    @Test func aSlowPaymentTimesOutAndTheLateApprovalIsRefunded() async throws {
        // The saga gives up on the payment after 1.5 s; the provider answers `0077` after 8 s.
        try await Self.withShop(settings: ["ORDER_PAYMENT_TIMEOUT_MS": "1500", "PAYMENT_SLOW_DELAY_MS": "8000"]) { shop in
            let lamp = try await Self.createProduct(shop, stock: 5)
            let id = try await Self.order(shop, user: "slow", lines: [(lamp, 2)], card: "4000000000000077")
            let order = try await Self.finished(shop, user: "slow", id)
            #expect(order["cancellationReason"] == .string("StepTimeout"))
            #expect(Self.statuses(order) == ["Pending", "StockReserved", "Cancelled"])
            try await CheckoutToOrderTests.waitFor("the stock back") { try await Self.stock(shop, lamp) == 5 }
            // The provider answers after 8 s: approved, then refunded because the order gave up.
            try await CheckoutToOrderTests.waitFor("the late approval refunded") {
                try await Self.payment(shop, id).body["status"] == .string("Refunded")
            }
            guard case .array(let history) = try await Self.payment(shop, id).body["history"] else { Issue.record("no history"); return }
            #expect(history.map { $0["status"] } == [.string("Approved"), .string("Refunded")])
        }
    }

    @Test func aProductDeletedBeforeTheReservationCancelsTheOrder() async throws {
        try await Self.withShop { shop in
            let lamp = try await Self.createProduct(shop, stock: 5)
            let desk = try await Self.createProduct(shop, stock: 5)
            try await CheckoutToOrderTests.waitFor("the basket to know both products") {
                try await Database.scalar(shop.databases["basket"]!, "SELECT count(*)::bigint FROM catalog_products") == 2
            }
            shop.product.kill()
            let token = try await TestTokens.token("late")
            // The basket knows both products from their catalog events; product-service is down.
            let filled = try await HTTP.send(.POST, "\(shop.basket.baseURL)/basket", #"{"userName":"late","items":[{"productId":"\#(lamp)","quantity":1},{"productId":"\#(desk)","quantity":1}]}"#, token: token)
            #expect(filled.status == 200)
            let checkout = try await HTTP.send(.POST, "\(shop.basket.baseURL)/basket/checkout", """
                {"userName":"late","firstName":"A","lastName":"B","email":"a@example.com","address":"Street 1","paymentMethod":"card","cardInfo":"4242424242424242"}
                """, token: token)
            #expect(checkout.status == 202)
            try await Database.execute(shop.databases["product"]!, "DELETE FROM products WHERE id = '\(desk)'")
            let restarted = try await shop.product.restarted()
            defer { restarted.terminate() }
            let orderId = try await Self.poll("the order") { () -> String? in
                if case .array(let orders) = try Self.json(try await HTTP.send(.GET, "\(shop.ordering.baseURL)/order/late", token: token)),
                   case .string(let id) = orders.first?["orderId"] { return id }
                return nil
            }
            let shopNow = Shop(product: restarted, basket: shop.basket, ordering: shop.ordering, payment: shop.payment, databases: shop.databases)
            let order = try await Self.finished(shopNow, user: "late", orderId)
            // All lines or none: the desk is gone, so the lamp is not reserved either.
            #expect(order["status"] == .string("Cancelled") && order["cancellationReason"] == .string("OutOfStock"))
            try await CheckoutToOrderTests.waitFor("the lamp's stock untouched") { try await Self.stock(shopNow, lamp) == 5 }
        }
    }

    /// SIGKILLs inside the saga: with product down and ordering killed while the reservation is on
    /// its way; with ordering killed after the reservation; with payment killed right after it
    /// charged. Each process comes back and the order ends `Completed` with stock and money right.
    @Test func crashesInsideTheSagaResumeWhereItStood() async throws {
        try await Self.withShop(settings: ["ORDER_STEP_TIMEOUT_MS": "60000", "ORDER_PAYMENT_TIMEOUT_MS": "60000"]) { shop in
            let lamp = try await Self.createProduct(shop, stock: 10)
            try await CheckoutToOrderTests.waitFor("the basket to know the lamp") {
                try await Database.scalar(shop.databases["basket"]!, "SELECT count(*)::bigint FROM catalog_products") == 1
            }
            shop.product.kill()
            shop.payment.kill()
            let id = try await Self.order(shop, user: "crash", lines: [(lamp, 2)], card: "4242424242424242")
            // The order exists and its ReserveStock is on the bus (product is down); ordering dies.
            try await CheckoutToOrderTests.waitFor("the ReserveStock handed to the bus") {
                try await Database.scalar(shop.databases["ordering"]!, "SELECT count(*)::bigint FROM outbox WHERE published_at IS NULL") == 0
            }
            shop.ordering.kill()
            let product = try await shop.product.restarted()
            defer { product.terminate() }
            var now = Shop(product: product, basket: shop.basket, ordering: shop.ordering, payment: shop.payment, databases: shop.databases)
            let afterProduct = now
            try await CheckoutToOrderTests.waitFor("the reservation") { try await Self.stock(afterProduct, lamp) == 8 }
            // Reserved while ordering was down: its reply waits in the queue.
            let ordering = try await shop.ordering.restarted()
            now.ordering = ordering
            let token = try await TestTokens.token("crash")
            try await CheckoutToOrderTests.waitFor("StockReserved") {
                try Self.json(try await HTTP.send(.GET, "\(ordering.baseURL)/order/crash/\(id)", token: token))["status"] == .string("StockReserved")
            }
            // After the reservation, with the charge on the bus: ordering dies again; payment charges.
            try await CheckoutToOrderTests.waitFor("the ChargePayment handed to the bus") {
                try await Database.scalar(shop.databases["ordering"]!, "SELECT count(*)::bigint FROM outbox WHERE published_at IS NULL") == 0
            }
            ordering.kill()
            let payment = try await shop.payment.restarted()
            now.payment = payment
            let afterPayment = now
            try await CheckoutToOrderTests.waitFor("the charge") { try await Self.payment(afterPayment, id).body["status"] == .string("Approved") }
            // Right after the charge, with its reply on the bus: payment dies too.
            try await CheckoutToOrderTests.waitFor("the PaymentApproved handed to the bus") {
                try await Database.scalar(shop.databases["payment"]!, "SELECT count(*)::bigint FROM outbox WHERE published_at IS NULL") == 0
            }
            payment.kill()
            let orderingAgain = try await shop.ordering.restarted()
            defer { orderingAgain.terminate() }
            now.ordering = orderingAgain
            let order = try await Self.finished(now, user: "crash", id)
            #expect(Self.statuses(order) == ["Pending", "StockReserved", "Paid", "Completed"])
            #expect(try await Self.stock(now, lamp) == 8)
            let paymentAgain = try await shop.payment.restarted()
            defer { paymentAgain.terminate() }
            now.payment = paymentAgain
            let charged = try await Self.payment(now, id)
            #expect(charged.body["status"] == .string("Approved"))
            guard case .array(let history) = charged.body["history"] else { Issue.record("no payment history"); return }
            #expect(history.count == 1, "charged once")
        }
    }

    /// A price change that races the checkout: the basket checked its prices while the catalog could not
    /// answer (product-service down), and the price rose before the stock reservation. Product refuses
    /// the reservation at the old price: the order ends `Cancelled` with `PriceChanged`, nothing reserved
    /// and nothing charged.
    @Test func aPriceChangeRacingTheCheckoutCancelsTheOrderWithNothingCharged() async throws {
        try await Self.withShop { shop in
            let lamp = try await Self.createProduct(shop, stock: 10)
            try await CheckoutToOrderTests.waitFor("the basket to know the lamp") {
                try await Database.scalar(shop.databases["basket"]!, "SELECT count(*)::bigint FROM catalog_products") == 1
            }
            shop.product.kill()
            let id = try await Self.order(shop, user: "racer", lines: [(lamp, 2)], card: "4242424242424242")
            // While its ReserveStock waits on the bus, the price rises (written where product-service keeps it).
            try await Database.execute(shop.databases["product"]!, "UPDATE products SET price = 12.50, version = version + 1")
            let product = try await shop.product.restarted()
            defer { product.terminate() }
            var now = shop
            now.product = product
            let order = try await Self.finished(now, user: "racer", id)
            #expect(order["status"] == .string("Cancelled"))
            #expect(order["cancellationReason"] == .string("PriceChanged"))
            #expect(Self.statuses(order) == ["Pending", "Cancelled"])
            #expect(try await Self.stock(now, lamp) == 10, "nothing reserved")
            #expect(try await Self.payment(now, id).status == 404, "never charged")
        }
    }

    /// A customer whose slow card keeps an order unpaid cannot reserve more of the product than
    /// MAX_RESERVED_PER_CUSTOMER in another order: that one ends `ReservationLimit`, nothing reserved;
    /// another customer orders as usual.
    @Test func aCustomerCannotHoardStockInUnpaidOrders() async throws {
        try await Self.withShop(settings: ["MAX_RESERVED_PER_CUSTOMER": "3", "PAYMENT_SLOW_DELAY_MS": "60000"]) { shop in
            let lamp = try await Self.createProduct(shop, stock: 10)
            try await CheckoutToOrderTests.waitFor("the basket to know the lamp") {
                try await Database.scalar(shop.databases["basket"]!, "SELECT count(*)::bigint FROM catalog_products") == 1
            }
            let unpaid = try await Self.order(shop, user: "hoarder", lines: [(lamp, 2)], card: "4000000000000077")
            let token = try await TestTokens.token("hoarder")
            try await CheckoutToOrderTests.waitFor("the first order's reservation") {
                try Self.json(try await HTTP.send(.GET, "\(shop.ordering.baseURL)/order/hoarder/\(unpaid)", token: token))["status"] == .string("StockReserved")
            }
            _ = try await Self.order(shop, user: "hoarder", lines: [(lamp, 2)], card: "4242424242424242")
            // The newest order (`order` may have seen only the first one when it looked).
            let second = try await Self.poll("the second order of hoarder") { () -> String? in
                guard case .array(let orders) = try Self.json(try await HTTP.send(.GET, "\(shop.ordering.baseURL)/order/hoarder", token: token)) else { return nil }
                return orders.compactMap { if case .string(let id) = $0["orderId"], id != unpaid { id } else { nil } }.first
            }
            let refused = try await Self.finished(shop, user: "hoarder", second)
            #expect(refused["cancellationReason"] == .string("ReservationLimit"))
            #expect(try await Self.stock(shop, lamp) == 8, "only the first order's units are held")
            let other = try await Self.order(shop, user: "someone", lines: [(lamp, 2)], card: "4242424242424242")
            #expect(try await Self.finished(shop, user: "someone", other)["status"] == .string("Completed"))
        }
    }

    /// Replies put on the bus again, and a reply before its time: nothing changes twice.
    @Test func duplicateAndOutOfOrderRepliesChangeNothing() async throws {
        try await Self.withShop { shop in
            let lamp = try await Self.createProduct(shop, stock: 10)
            let id = try await Self.order(shop, user: "dup", lines: [(lamp, 2)], card: "4242424242424242")
            let completed = try await Self.finished(shop, user: "dup", id)
            #expect(completed["status"] == .string("Completed"))
            let orderId = try #require(UUID(uuidString: id))
            // Every reply again, plus one the saga never waits for now, plus an out-of-order failure.
            try await Database.withClient(shop.databases["bus"]!) { client in
                let bus = LocalBus(client: client, logger: TestDatabase.logger)
                let results = try await bus.publisher.putEvents([
                    try ShopEvents.stockReserved.entry(OrderReference(orderId: orderId)),
                    try ShopEvents.paymentApproved.entry(PaymentOutcome(orderId: orderId, amount: 20)),
                    try ShopEvents.paymentApproved.entry(PaymentOutcome(orderId: orderId, amount: 20)),
                    try ShopEvents.stockReservationFailed.entry(StepFailed(orderId: orderId, reason: "OutOfStock")),
                    try ShopEvents.paymentDeclined.entry(PaymentOutcome(orderId: orderId, amount: 20, reason: "card_declined")),
                ])
                let allPublished = results.allSatisfy { $0.succeeded }
                #expect(allPublished)
            }
            try await CheckoutToOrderTests.waitFor("the replies handled") {
                try await Database.scalar(shop.databases["bus"]!, "SELECT count(*)::bigint FROM bus_messages WHERE queue = 'ordering-saga'") == 0
            }
            try await Task.sleep(for: .milliseconds(500))
            let after = try await Self.finished(shop, user: "dup", id)
            #expect(Self.statuses(after) == ["Pending", "StockReserved", "Paid", "Completed"], "no status twice, none after Completed")
            #expect(try await Self.stock(shop, lamp) == 8)
            #expect(try await Self.payment(shop, id).body["status"] == .string("Approved"), "no refund of a completed order")
            #expect(try await Database.scalar(shop.databases["bus"]!, "SELECT count(*)::bigint FROM bus_messages WHERE queue LIKE '%-dlq'") == 0)
        }
    }
}
