import Contracts
import EventBus
import Foundation
import ServiceKit
import Testing
import TestSupport

/// Past `Completed`, with shipping-service as a real process: dispatch and delivery on durable timers
/// (a SIGKILL keeps them), a customer's cancel before the parcel leaves (money and stock back), a
/// cancel racing the dispatch with exactly one winner, and a return after delivery.
@Suite(.serialized) struct FulfilmentTests {
    typealias Shop = SagaTests.Shop

    static func delays(dispatch: Int, delivery: Int = 300, returnTrip: Int = 300) -> [String: String] {
        [
            "SHIPPING_DISPATCH_DELAY_MS": "\(dispatch)", "SHIPPING_DELIVERY_DELAY_MS": "\(delivery)",
            "SHIPPING_RETURN_DELAY_MS": "\(returnTrip)", "SHIPPING_SCAN_MS": "50",
        ]
    }

    static func get(_ shop: Shop, user: String, _ orderId: String) async throws -> JSONValue {
        try SagaTests.json(try await HTTP.send(.GET, "\(shop.ordering.baseURL)/order/\(user)/\(orderId)", token: try await TestTokens.token(user)))
    }

    static func until(_ shop: Shop, user: String, _ orderId: String, _ status: String, timeout: Duration = .seconds(30)) async throws -> JSONValue {
        try await SagaTests.poll("order \(orderId) \(status)", timeout: timeout) {
            let order = try await get(shop, user: user, orderId)
            return order["status"] == .string(status) ? order : nil
        }
    }

    static func post(_ shop: Shop, user: String, _ orderId: String, _ action: String) async throws -> HTTP.Response {
        try await HTTP.send(.POST, "\(shop.ordering.baseURL)/order/\(user)/\(orderId)/\(action)", token: try await TestTokens.token(user))
    }

    static func shipment(_ shop: Shop, _ orderId: String) async throws -> JSONValue {
        try SagaTests.json(try await HTTP.send(.GET, "\(shop.shipping!.baseURL)/shipment/\(orderId)", token: try await TestTokens.admin()))
    }

    @Test func deliveredAfterARestartThenReturned() async throws {
        try await SagaTests.withShop(settings: Self.delays(dispatch: 1500), shipping: true) { shop in
            let lamp = try await SagaTests.createProduct(shop, stock: 10)
            let id = try await SagaTests.order(shop, user: "ann", lines: [(lamp, 2)], card: "4242424242424242")
            let completed = try await Self.until(shop, user: "ann", id, "Completed")
            #expect(completed["shipment"]?["status"] == .string("Preparing"))
            // The order is found from its checkout alone.
            let checkoutId = try #require(completed["checkoutId"])
            guard case .string(let checkout) = checkoutId else { throw HTTP.Failure(reason: "no checkoutId") }
            let found = try SagaTests.json(try await HTTP.send(.GET, "\(shop.ordering.baseURL)/order/ann?checkoutId=\(checkout)", token: try await TestTokens.token("ann")))
            #expect(found.arrayCount == 1 && found[0]?["orderId"] == .string(id))

            // Shipping dies before the dispatch: its timer is a row, the restarted process keeps it.
            try await SagaTests.poll("the shipment") { try await Database.scalar(shop.databases["shipping"]!, "SELECT count(*)::bigint FROM shipments") == 1 ? true : nil }
            shop.shipping!.kill()
            let shipping = try await shop.shipping!.restarted()
            defer { shipping.terminate() }
            var restarted = shop
            restarted.shipping = shipping
            let now = restarted
            let delivered = try await Self.until(now, user: "ann", id, "Delivered")
            #expect(SagaTests.statuses(delivered) == ["Pending", "StockReserved", "Paid", "Completed", "Shipped", "Delivered"])
            let parcel = try #require(delivered["shipment"])
            #expect(parcel["status"] == .string("Delivered") && parcel["trackingNumber"]?.stringValue?.count == 12)
            #expect(parcel["carrier"] != .null && parcel["shippedAt"] != .null && parcel["deliveredAt"] != .null)
            #expect(try await SagaTests.stock(now, lamp) == 8)

            #expect(try await Self.post(now, user: "ann", id, "cancel").status == 409, "too late to cancel")
            #expect(try await Self.post(now, user: "bob", id, "return").status == 404, "not bob's order")
            let returned = try await Self.post(now, user: "ann", id, "return")
            let answer = try SagaTests.json(returned)
            #expect(returned.status == 202 && answer["status"] == .string("ReturnRequested"))
            let back = try await Self.until(now, user: "ann", id, "Returned")
            #expect(SagaTests.statuses(back).suffix(2) == ["ReturnRequested", "Returned"])
            #expect(back["shipment"]?["status"] == .string("Returned"))
            try await CheckoutToOrderTests.waitFor("the units back") { try await SagaTests.stock(now, lamp) == 10 }
            try await CheckoutToOrderTests.waitFor("the refund") { try await SagaTests.payment(now, id).body["status"] == .string("Refunded") }
            #expect(try await Self.post(now, user: "ann", id, "return").status == 409, "returned once")
            #expect(try await Self.shipment(now, id)["status"] == .string("Returned"))
        }
    }

    @Test func aReturnAfterTheWindowIsRefused() async throws {
        try await SagaTests.withShop(settings: Self.delays(dispatch: 100, delivery: 100).merging(["RETURN_WINDOW_MS": "1"]) { $1 }, shipping: true) { shop in
            let lamp = try await SagaTests.createProduct(shop, stock: 5)
            let id = try await SagaTests.order(shop, user: "late", lines: [(lamp, 1)], card: "4242424242424242")
            _ = try await Self.until(shop, user: "late", id, "Delivered")
            try await Task.sleep(for: .milliseconds(50))
            let refused = try await Self.post(shop, user: "late", id, "return")
            #expect(refused.status == 409)
            #expect(String(decoding: refused.body, as: UTF8.self).contains("return window"))
        }
    }

    @Test func cancelsBeforeTheParcelLeavesGiveEverythingBack() async throws {
        try await SagaTests.withShop(settings: Self.delays(dispatch: 600_000).merging(["PAYMENT_SLOW_DELAY_MS": "2000"]) { $1 }, shipping: true) { shop in
            let lamp = try await SagaTests.createProduct(shop, stock: 10)

            // Completed, not yet dispatched: shipping stops it; refund and restock follow.
            let id = try await SagaTests.order(shop, user: "cal", lines: [(lamp, 3)], card: "4242424242424242")
            _ = try await Self.until(shop, user: "cal", id, "Completed")
            #expect(try await SagaTests.stock(shop, lamp) == 7)
            let accepted = try await Self.post(shop, user: "cal", id, "cancel")
            #expect(accepted.status == 202)
            let cancelled = try await Self.until(shop, user: "cal", id, "Cancelled")
            #expect(cancelled["cancellationReason"] == .string("CustomerCancelled") && cancelled["cancelRequested"] == .bool(false))
            #expect(SagaTests.statuses(cancelled) == ["Pending", "StockReserved", "Paid", "Completed", "Cancelled"])
            #expect(cancelled["shipment"]?["status"] == .string("Cancelled") && cancelled["shipment"]?["shippedAt"] == .null)
            try await CheckoutToOrderTests.waitFor("the units back") { try await SagaTests.stock(shop, lamp) == 10 }
            try await CheckoutToOrderTests.waitFor("the refund") { try await SagaTests.payment(shop, id).body["status"] == .string("Refunded") }
            #expect(try await Self.shipment(shop, id)["status"] == .string("Cancelled"))
            #expect(try await Self.post(shop, user: "cal", id, "cancel").status == 409, "already cancelled")

            // While the payment is still being decided (a slow card): cancelled at once; the late
            // approval is refunded and the reservation released.
            let slow = try await SagaTests.order(shop, user: "sly", lines: [(lamp, 2)], card: "4000000000000077")
            _ = try await Self.until(shop, user: "sly", slow, "StockReserved")
            #expect(try await Self.post(shop, user: "sly", slow, "cancel").status == 202)
            let stopped = try await Self.until(shop, user: "sly", slow, "Cancelled")
            #expect(stopped["cancellationReason"] == .string("CustomerCancelled") && stopped["shipment"] == .null)
            try await CheckoutToOrderTests.waitFor("the reservation released") { try await SagaTests.stock(shop, lamp) == 10 }
            try await Task.sleep(for: .seconds(3))
            let payment = try await SagaTests.payment(shop, slow)
            #expect(payment.status == 404 || payment.body["status"] == .string("Refunded"), "\(payment)")
            let none = try await HTTP.send(.GET, "\(shop.shipping!.baseURL)/shipment/\(slow)", token: try await TestTokens.admin())
            #expect(none.status == 404, "never shipped")
        }
    }

    /// Cancels sent at moments spread around the dispatch: each order either ships (the cancel came
    /// too late; money kept, stock sold) or is stopped (refunded, restocked) — never both.
    @Test func aCancelRacingTheDispatchHasOneWinner() async throws {
        try await SagaTests.withShop(settings: Self.delays(dispatch: 200, delivery: 200), shipping: true) { shop in
            let lamp = try await SagaTests.createProduct(shop, stock: 100)
            var orders: [(user: String, id: String)] = []
            for index in 0..<10 {
                let user = "race\(index)"
                let id = try await SagaTests.order(shop, user: user, lines: [(lamp, 1)], card: "4242424242424242")
                // Completed (or already on: the dispatch is 200 ms away, and a loaded machine polls slowly).
                _ = try await SagaTests.poll("order \(id) completed") {
                    let status = try await Self.get(shop, user: user, id)["status"]
                    return [JSONValue.string("Completed"), .string("Shipped"), .string("Delivered")].contains(status) ? true : nil
                }
                try await Task.sleep(for: .milliseconds(50 * index))
                let answer = try await Self.post(shop, user: user, id, "cancel").status
                #expect(answer == 202 || answer == 409)
                orders.append((user, id))
            }
            var shipped = 0
            for (user, id) in orders {
                let order = try await SagaTests.poll("order \(id) at rest") {
                    let order = try await Self.get(shop, user: user, id)
                    return order["status"] == .string("Delivered") || order["status"] == .string("Cancelled") ? order : nil
                }
                let payment = try await SagaTests.payment(shop, id).body["status"]
                let parcel = try await Self.shipment(shop, id)
                if order["status"] == .string("Delivered") {
                    shipped += 1
                    #expect(payment == .string("Approved") && parcel["status"] == .string("Delivered"))
                } else {
                    #expect(payment == .string("Refunded") && parcel["status"] == .string("Cancelled") && parcel["shippedAt"] == .null)
                }
            }
            let sold = shipped
            try await CheckoutToOrderTests.waitFor("stock = start − shipped") { try await SagaTests.stock(shop, lamp) == 100 - sold }
            print("race: \(shipped) shipped, \(orders.count - shipped) stopped")
        }
    }
}

extension JSONValue {
    var arrayCount: Int { if case .array(let items) = self { items.count } else { 0 } }
    var arrayValue: [JSONValue]? { if case .array(let items) = self { items } else { nil } }
    subscript(index: Int) -> JSONValue? { if case .array(let items) = self, items.indices.contains(index) { items[index] } else { nil } }
    var stringValue: String? { if case .string(let text) = self { text } else { nil } }
}
