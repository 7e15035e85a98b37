import AsyncHTTPClient
import Contracts
import EventBus
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import NIOHTTP1
import PostgresNIO
import ProductService
import ServiceKit
import Synchronization
import Testing
import TestSupport

@testable import BasketService

/// The basket service through its `buildApplication`, with a real product-service on HTTP and the
/// local bus on Postgres.
@Suite struct BasketAPITests {
    struct Fixture: Sendable {
        /// Acts as the customer `swn` unless told otherwise.
        var client: SignedClient
        /// The same client as an admin.
        var admin: SignedClient
        var products: [String: UUID]
        var bus: LocalBus
        var basketDatabase: DatabasePool
        var productURL: String
    }

    static let phone = #"{"name":"Phone","price":19.99,"category":"Smart Phone"}"#
    static let cable = #"{"name":"Cable","price":0.10,"category":"Accessories"}"#

    static func withFixture(catalogUp: Bool = true, _ test: @escaping @Sendable (Fixture) async throws -> Void) async throws {
        try await TestDatabase.with { productDB in
            try await TestDatabase.with { basketDB in
                try await TestDatabase.with { busDB in
                    let productPort = try freePort()
                    var productConfig = try ProductServiceConfig(settings: Settings([:]))
                    productConfig.database = productDB.settings
                    productConfig.bus.database = busDB.settings
                    productConfig.port = productPort
                    productConfig.tokens = TestTokens.configuration
                    let productApp = try await ProductService.buildApplication(productConfig, logger: TestDatabase.logger)

                    var config = try BasketServiceConfig(settings: Settings([:]))
                    config.database = basketDB.settings
                    config.bus.database = busDB.settings
                    config.productServiceURL = catalogUp ? "http://127.0.0.1:\(productPort)" : "http://127.0.0.1:\(try freePort())"
                    config.catalogTimeout = .seconds(2)
                    config.tokens = TestTokens.configuration
                    let basketConfig = config
                    try await withRunningServices([productApp]) {
                        try await waitUntilReady("http://127.0.0.1:\(productPort)/health")
                        var products: [String: UUID] = [:]
                        for (name, body) in [("phone", phone), ("cable", cable)] {
                            let response = try await HTTPClient.post("http://127.0.0.1:\(productPort)/product", body)
                            products[name] = try JSONValue.decoder.decode(Product.self, from: response).id
                        }
                        let catalog = products
                        let app = try await BasketService.buildApplication(basketConfig, logger: TestDatabase.logger)
                        try await busDB.withClient { busClient in
                            try await basketDB.withClient { basketClient in
                                let swn = try await TestTokens.token("swn")
                                let admin = try await TestTokens.admin()
                                try await app.test(.router) { client in
                                    try await test(Fixture(
                                        client: SignedClient(client, token: swn), admin: SignedClient(client, token: admin), products: catalog,
                                        bus: LocalBus(client: busClient, logger: TestDatabase.logger),
                                        basketDatabase: basketClient,
                                        productURL: "http://127.0.0.1:\(productPort)"
                                    ))
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    static func decode<T: Decodable>(_ type: T.Type, _ response: TestResponse) throws -> T {
        try JSONValue.decoder.decode(T.self, from: Data(buffer: response.body))
    }

    static func problem(_ response: TestResponse) throws -> Problem.Body {
        #expect(response.headers[.contentType] == "application/problem+json")
        return try decode(Problem.Body.self, response)
    }

    static func checkoutBody(_ user: String = "swn") -> ByteBuffer {
        ByteBuffer(string: """
            {"userName":"\(user)","firstName":"Ada","lastName":"Lovelace","email":"ada@example.com",
             "address":"1 Analytical St","paymentMethod":"card","cardInfo":"4242 4242 4242 4242"}
            """)
    }

    func fill(_ f: Fixture, user: String = "swn") async throws -> Basket {
        let body = """
            {"userName":"\(user)","items":[
              {"productId":"\(f.products["phone"]!)","quantity":3,"color":"black","price":0.01,"productName":"hacked"},
              {"productId":"\(f.products["cable"]!)","quantity":2}]}
            """
        let response = try await f.client.execute(uri: "/basket", method: .post, body: ByteBuffer(string: body))
        #expect(response.status == .ok)
        return try Self.decode(Basket.self, response)
    }

    @Test func namesAndPricesComeFromTheCatalogAndTheTotalCountsQuantities() async throws {
        try await Self.withFixture { f in
            let basket = try await fill(f)
            #expect(basket.items.map(\.productName) == ["Phone", "Cable"])
            #expect(basket.items.map(\.price) == [Decimal(string: "19.99")!, Decimal(string: "0.10")!])
            #expect(basket.totalPrice == Decimal(string: "60.17")!, "3 × 19.99 + 2 × 0.10")
            let stored = try Self.decode(Basket.self, try await f.client.execute(uri: "/basket/swn", method: .get))
            #expect(stored == basket)
            let empty = try Self.decode(Basket.self, try await f.admin.execute(uri: "/basket/nobody", method: .get))
            #expect(try await f.client.execute(uri: "/basket/nobody", method: .get).status == .forbidden, "another user's basket")
            #expect(empty.items.isEmpty && empty.totalPrice == 0)
            let deleted = try await f.client.execute(uri: "/basket/swn", method: .delete)
            #expect(deleted.status == .noContent)
            let after = try Self.decode(Basket.self, try await f.client.execute(uri: "/basket/swn", method: .get))
            #expect(after.items.isEmpty)
        }
    }

    @Test func anUnknownProductIsA422NamingIt() async throws {
        try await Self.withFixture { f in
            let unknown = UUID()
            let body = #"{"userName":"swn","items":[{"productId":"\#(f.products["phone"]!)","quantity":1},{"productId":"\#(unknown)","quantity":1}]}"#
            let response = try await f.client.execute(uri: "/basket", method: .post, body: ByteBuffer(string: body))
            #expect(response.status == .unprocessableContent)
            let problem = try Self.problem(response)
            #expect(problem.field == "items[1].productId")
            #expect(problem.detail?.contains(unknown.uuidString) == true)
        }
    }

    @Test func aCatalogThatDoesNotAnswerIsA503() async throws {
        try await Self.withFixture(catalogUp: false) { f in
            let body = #"{"userName":"swn","items":[{"productId":"\#(UUID())","quantity":1}]}"#
            let response = try await f.client.execute(uri: "/basket", method: .post, body: ByteBuffer(string: body))
            #expect(response.status == .serviceUnavailable)
            _ = try Self.problem(response)
        }
    }

    @Test func badBasketInputIsA4xxNamingTheField() async throws {
        try await Self.withFixture { f in
            let phone = f.products["phone"]!
            let cases: [(String, HTTPResponse.Status, String)] = [
                (#"{"userName":"swn","items":[{"productId":"nope","quantity":1}]}"#, .badRequest, "items[0].productId"),
                (#"{"userName":"swn","items":[{"productId":"\#(phone)","quantity":0}]}"#, .unprocessableContent, "items[0].quantity"),
                (#"{"userName":"swn","items":[{"productId":"\#(phone)","quantity":1.5}]}"#, .badRequest, "items[0].quantity"),
                (#"{"userName":"","items":[]}"#, .forbidden, "userName"),
                (#"{"userName":"swn ","items":[]}"#, .forbidden, "userName"),
                (#"{"userName":"swn"}"#, .badRequest, "items"),
            ]
            for (body, status, field) in cases {
                let response = try await f.client.execute(uri: "/basket", method: .post, body: ByteBuffer(string: body))
                #expect(response.status == status, "\(body)")
                let problemBody = try Self.problem(response)
                #expect(problemBody.field == field, "\(body) → \(problemBody)")
            }
            try await fill(f)
            let badCheckouts: [(String, String)] = [
                (#""email":"ada@example.com""#, #""email":"not-an-email""#),
                (#""cardInfo":"4242 4242 4242 4242""#, #""cardInfo":"1234""#),
                (#""firstName":"Ada""#, #""firstName":"  ""#),
            ]
            let good = String(buffer: Self.checkoutBody())
            for (from, to) in badCheckouts {
                let response = try await f.client.execute(uri: "/basket/checkout", method: .post, body: ByteBuffer(string: good.replacingOccurrences(of: from, with: to)))
                #expect(response.status == .unprocessableContent, "\(to)")
            }
        }
    }

    @Test func checkoutEmptiesTheBasketAndPublishesOneMaskedCheckoutEvent() async throws {
        try await Self.withFixture { f in
            try await fill(f)
            let response = try await f.client.execute(uri: "/basket/checkout", method: .post, body: Self.checkoutBody())
            #expect(response.status == .accepted)
            let checkout = try Self.decode(CheckoutBasket.self, response)
            #expect(checkout.totalPrice == Decimal(string: "60.17")!)
            #expect(checkout.cardInfo == "**** **** **** 4242")
            let basket = try Self.decode(Basket.self, try await f.client.execute(uri: "/basket/swn", method: .get))
            #expect(basket.items.isEmpty)

            let again = try await f.client.execute(uri: "/basket/checkout", method: .post, body: Self.checkoutBody())
            #expect(again.status == .conflict)
            #expect(try Self.problem(again).detail?.contains("empty") == true)

            // The relay delivers the event to the ordering queue.
            let queue = f.bus.queue(ShopQueues.orderingCheckout)
            let messages = try await queue.receive(maxMessages: 10, waitTime: .seconds(10), visibilityTimeout: nil)
            #expect(messages.count == 1)
            let envelope = try EventEnvelope(json: messages[0].body)
            #expect(envelope.source == "com.swn.basket.checkoutbasket")
            #expect(envelope.detailType == "CheckoutBasket")
            let detail = try envelope.detail.decode(as: CheckoutBasket.self)
            #expect(detail == checkout)
            #expect(!messages[0].body.contains("4242 4242"), "the full card number never leaves the service")
        }
    }

    @Test func aRetriedCheckoutWithTheSameIdempotencyKeyReturnsTheFirstAnswer() async throws {
        try await Self.withFixture { f in
            try await fill(f)
            let headers: HTTPFields = [.idempotencyKey: "key-1"]
            let first = try await f.client.execute(uri: "/basket/checkout", method: .post, headers: headers, body: Self.checkoutBody())
            let second = try await f.client.execute(uri: "/basket/checkout", method: .post, headers: headers, body: Self.checkoutBody())
            #expect(first.status == .accepted)
            #expect(second.status == .accepted)
            #expect(try Self.decode(CheckoutBasket.self, first) == Self.decode(CheckoutBasket.self, second))
            let changed = String(buffer: Self.checkoutBody()).replacingOccurrences(of: "Ada", with: "Grace")
            let reused = try await f.client.execute(uri: "/basket/checkout", method: .post, headers: headers, body: ByteBuffer(string: changed))
            #expect(reused.status == .unprocessableContent)
            #expect(try await Self.checkoutEvents(f) == 1)
        }
    }

    @Test func concurrentCheckoutsOfOneBasketProduceExactlyOneEvent() async throws {
        try await Self.withFixture { f in
            try await fill(f)
            let statuses = try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                for _ in 0..<10 {
                    group.addTask { try await f.client.execute(uri: "/basket/checkout", method: .post, body: Self.checkoutBody()).status }
                }
                var statuses: [HTTPResponse.Status] = []
                for try await status in group { statuses.append(status) }
                return statuses
            }
            #expect(statuses.filter { $0 == .accepted }.count == 1)
            #expect(statuses.filter { $0 == .conflict }.count == 9)
            #expect(try await Self.checkoutEvents(f) == 1)
        }
    }

    /// The checkout events basket produced: once the relay has published (and deleted) its outbox rows,
    /// the messages on ordering's checkout queue.
    static func checkoutEvents(_ f: Fixture) async throws -> Int {
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            let rows = try await f.basketDatabase.query("SELECT count(*)::bigint FROM outbox", logger: TestDatabase.logger)
            var pending = 0
            for try await count in rows.decode(Int.self) { pending = count }
            if pending == 0 { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        let depth = try await f.bus.queue(ShopQueues.orderingCheckout).depth()
        return depth.visible + depth.inFlight
    }
}

extension HTTPClient {
    /// POSTs JSON as admin and returns the body; for test set-up only.
    static func post(_ url: String, _ json: String) async throws -> ByteBuffer {
        try await sendAsAdmin(.POST, url, json).body
    }

    /// PUTs JSON as admin and returns the status; for test set-up only.
    static func put(_ url: String, _ json: String) async throws -> UInt {
        try await sendAsAdmin(.PUT, url, json).status
    }

    private static func sendAsAdmin(_ method: HTTPMethod, _ url: String, _ json: String) async throws -> (status: UInt, body: ByteBuffer) {
        var request = HTTPClientRequest(url: url)
        request.method = method
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Authorization", value: "Bearer \(try await TestTokens.admin())")
        request.body = .bytes(ByteBuffer(string: json))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        return (response.status.code, try await response.body.collect(upTo: 1 << 20))
    }
}

extension BasketAPITests {
    @Test func emailsAreCheckedOnCodePointsSoCombiningMarksDoNotHideTheirParts() async throws {
        try await Self.withFixture { f in
            for (email, status) in [(#"a@b.\u0301c"#, HTTPResponse.Status.accepted), (#"a@\u0301b.c"#, .accepted), ("a@bc", .unprocessableContent)] {
                try await fill(f)
                let body = String(buffer: Self.checkoutBody()).replacingOccurrences(of: "ada@example.com", with: email)
                let response = try await f.client.execute(uri: "/basket/checkout", method: .post, body: ByteBuffer(string: body))
                #expect(response.status == status, "\(email)")
            }
        }
    }
}

extension BasketAPITests {
    /// The catalog raised a price and the basket has not heard of it (here its catalog consumer is not
    /// running: as when it is down or the event was dead-lettered). The checkout is refused with 409
    /// `PriceChanged` and the basket at the new price; confirmed with `expectedTotal`, it goes through
    /// at the new price. A confirmation of another total is refused too.
    @Test func aCheckoutAtAStalePriceIsA409WithTheBasketAtTheNewPrices() async throws {
        try await Self.withFixture { f in
            let basket = try await fill(f)
            #expect(basket.totalPrice == Decimal(string: "60.17")!)
            let status = try await HTTPClient.put("\(f.productURL)/product/\(f.products["phone"]!)", #"{"name":"Phone","price":25.00,"category":"Smart Phone"}"#)
            #expect(status == 200)

            let refused = try await f.client.execute(uri: "/basket/checkout", method: .post, body: Self.checkoutBody())
            #expect(refused.status == .conflict)
            #expect(refused.headers[.contentType] == "application/problem+json")
            let problem = try JSONValue.decoder.decode(JSONValue.self, from: Data(buffer: refused.body))
            #expect(problem["code"] == .string("PriceChanged"))
            #expect(problem["field"] == .string("items"))
            let repriced = try JSONValue.decoder.decode(Basket.self, from: try JSONValue.encoder.encode(problem["basket"]))
            #expect(repriced.items.first?.price == Decimal(string: "25")!)
            #expect(repriced.items.first?.previousPrice == Decimal(string: "19.99")!)
            #expect(repriced.totalPrice == Decimal(string: "75.2")!, "3 × 25.00 + 2 × 0.10")
            #expect(try await Self.checkoutEvents(f) == 0, "nothing recorded")

            let stale = String(buffer: Self.checkoutBody()).replacingOccurrences(of: #""userName":"swn","#, with: #""userName":"swn","expectedTotal":60.17,"#)
            #expect(try await f.client.execute(uri: "/basket/checkout", method: .post, body: ByteBuffer(string: stale)).status == .conflict)

            let confirmed = String(buffer: Self.checkoutBody()).replacingOccurrences(of: #""userName":"swn","#, with: #""userName":"swn","expectedTotal":75.20,"#)
            let accepted = try await f.client.execute(uri: "/basket/checkout", method: .post, body: ByteBuffer(string: confirmed))
            #expect(accepted.status == .accepted)
            let checkout = try Self.decode(CheckoutBasket.self, accepted)
            #expect(checkout.totalPrice == Decimal(string: "75.2")!)
            #expect(checkout.items.first?.price == Decimal(string: "25")!)
        }
    }
}

extension BasketAPITests {
    /// Many ids in one `GET /product?ids=`; the ids the catalog did not have are not asked for again for a
    /// while (here: answered after product-service stopped, which an uncached lookup could not be).
    @Test func theHTTPCatalogAsksOnceForManyAndRemembersWhatIsNot() async throws {
        let unknown = Set((0..<100).map { _ in UUID() })
        let box = Mutex<HTTPProductCatalog?>(nil)
        try await Self.withFixture { f in
            let catalog = HTTPProductCatalog(httpClient: .shared, replicas: Replicas(configured: f.productURL), timeout: .seconds(2), absentFor: .seconds(60))
            let found = try await catalog.products(ids: unknown.union([f.products["phone"]!]))
            #expect(found.count == 1 && found[f.products["phone"]!]?.name == "Phone")
            box.withLock { $0 = catalog }
        }
        let catalog = try #require(box.withLock { $0 })
        #expect(try await catalog.products(ids: unknown).isEmpty, "remembered as absent: no call")
        await #expect(throws: CatalogUnavailable.self) { try await catalog.products(ids: [UUID()]) }
    }
}
