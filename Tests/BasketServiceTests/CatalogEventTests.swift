import AsyncHTTPClient
import EventBus
import Foundation
import HummingbirdTesting
import NIOCore
import ServiceKit
import Testing
import TestSupport

@testable import BasketService

/// Catalog events from the real product service reach baskets through the outbox, the bus and the
/// basket's queue consumer.
@Suite struct CatalogEventTests {
    static func basket(_ f: BasketAPITests.Fixture, _ user: String) async throws -> Basket {
        try BasketAPITests.decode(Basket.self, try await f.admin.execute(uri: "/basket/\(user)", method: .get))
    }

    static func put(_ f: BasketAPITests.Fixture, _ id: UUID, _ json: String) async throws {
        var request = HTTPClientRequest(url: "\(f.productURL)/product/\(id)")
        request.method = .PUT
        request.headers.add(name: "Authorization", value: "Bearer \(try await TestTokens.admin())")
        request.body = .bytes(ByteBuffer(string: json))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        #expect(response.status == .ok)
    }

    /// Polls the stored basket (without looking at it as a user would) until `condition` holds.
    static func waitForItems(_ f: BasketAPITests.Fixture, _ user: String, _ condition: @escaping @Sendable ([BasketItem]) -> Bool) async throws -> Duration {
        let start = ContinuousClock.now
        while ContinuousClock.now - start < .seconds(30) {
            let items = try await f.basketDatabase.withConnection { connection in
                try await PostgresBasketRepository.basket(user, on: connection, logger: TestDatabase.logger).items
            }
            if condition(items) { return ContinuousClock.now - start }
            try await Task.sleep(for: .milliseconds(20))
        }
        Issue.record("basket of \(user) never satisfied the condition")
        return .seconds(30)
    }

    @Test func aPriceChangeReachesEveryBasketHoldingTheProduct() async throws {
        try await BasketAPITests.withFixture { f in
            let phone = f.products["phone"]!
            for user in ["ann", "bob"] {
                let body = #"{"userName":"\#(user)","items":[{"productId":"\#(phone)","quantity":1}]}"#
                #expect(try await f.admin.execute(uri: "/basket", method: .post, body: ByteBuffer(string: body)).status == .ok)
            }
            try await Self.put(f, phone, #"{"name":"Phone","price":17.49,"category":"Smart Phone"}"#)
            for user in ["ann", "bob"] {
                let elapsed = try await Self.waitForItems(f, user) { $0.first?.price == Decimal(string: "17.49") }
                print("price change reached \(user)'s basket after \(elapsed)")
            }
            let seen = try await Self.basket(f, "ann")
            #expect(seen.items.first?.previousPrice == Decimal(string: "19.99"))
            #expect(seen.totalPrice == Decimal(string: "17.49"))
            let again = try await Self.basket(f, "ann")
            #expect(again.items.first?.previousPrice == Decimal(string: "19.99"), "a GET never writes: the notice stays")
            // Storing the basket again (the customer saw the new price) ends the notice.
            let body = #"{"userName":"ann","items":[{"productId":"\#(phone)","quantity":1}]}"#
            #expect(try await f.admin.execute(uri: "/basket", method: .post, body: ByteBuffer(string: body)).status == .ok)
            #expect(try await Self.basket(f, "ann").items.first?.previousPrice == nil)
        }
    }

    @Test func aDeletedProductIsFlaggedAndBlocksCheckout() async throws {
        try await BasketAPITests.withFixture { f in
            let phone = f.products["phone"]!
            let body = #"{"userName":"swn","items":[{"productId":"\#(phone)","quantity":1},{"productId":"\#(f.products["cable"]!)","quantity":1}]}"#
            #expect(try await f.client.execute(uri: "/basket", method: .post, body: ByteBuffer(string: body)).status == .ok)
            var request = HTTPClientRequest(url: "\(f.productURL)/product/\(phone)")
            request.method = .DELETE
            request.headers.add(name: "Authorization", value: "Bearer \(try await TestTokens.admin())")
            #expect(try await HTTPClient.shared.execute(request, timeout: .seconds(10)).status == .noContent)
            _ = try await Self.waitForItems(f, "swn") { $0.first?.available == false }
            let basket = try await Self.basket(f, "swn")
            #expect(basket.totalPrice == Decimal(string: "0.10"), "unavailable items do not count")
            let checkout = try await f.client.execute(uri: "/basket/checkout", method: .post, body: BasketAPITests.checkoutBody())
            #expect(checkout.status == .conflict)
            #expect(try BasketAPITests.problem(checkout).detail?.contains("Phone") == true)
            let readd = try await f.client.execute(uri: "/basket", method: .post, body: ByteBuffer(string: body))
            #expect(readd.status == .unprocessableContent, "a deleted product cannot be added again")
        }
    }

    @Test func lateAndDuplicateEventsLeaveTheNewestPrice() async throws {
        try await TestDatabase.with { database in
            try await database.withClient { client in
                try await Migrator(BasketMigrations.all).migrate(client: client, logger: TestDatabase.logger)
                let repository = PostgresBasketRepository(client: client, logger: TestDatabase.logger)
                let handler = CatalogEventHandler(repository: repository, logger: TestDatabase.logger)
                let id = UUID()
                func message(_ type: String, price: String, version: Int) throws -> QueueMessage {
                    let detail = try JSONValue(json: #"{"productId":"\#(id)","name":"Lamp","category":"Home","price":\#(price),"version":\#(version)}"#)
                    let envelope = EventEnvelope(detailType: type, source: "com.swn.product", region: "local", detail: detail)
                    return QueueMessage(messageID: UUID().uuidString, receiptHandle: "r", body: try envelope.jsonString(), receiveCount: 1, sentAt: Date())
                }
                _ = try await repository.replace(userName: "u", items: [
                    BasketItem(productId: id, productName: "Lamp", quantity: 2, color: "", price: Decimal(string: "10.00")!),
                ])
                try await handler.handle(message("ProductPriceChanged", price: "30.00", version: 3))
                try await handler.handle(message("ProductPriceChanged", price: "20.00", version: 2)) // late
                try await handler.handle(message("ProductPriceChanged", price: "30.00", version: 3)) // duplicate
                try await handler.handle(message("ProductCreated", price: "10.00", version: 1))      // very late
                let known = try await repository.knownProducts([id])
                #expect(known[id]?.product.price == Decimal(string: "30.00"))
                let basket = try await repository.find(userName: "u")
                #expect(basket.items.first?.price == Decimal(string: "30.00"))
                #expect(basket.items.first?.previousPrice == Decimal(string: "10.00"))
                #expect(basket.totalPrice == Decimal(string: "60.00"))
                try await handler.handle(message("ProductDeleted", price: "30.00", version: 4))
                try await handler.handle(message("ProductPriceChanged", price: "25.00", version: 3)) // late again
                let after = try await repository.find(userName: "u")
                #expect(after.items.first?.available == false)
                #expect(after.items.first?.price == Decimal(string: "30.00"))
            }
        }
    }
}
