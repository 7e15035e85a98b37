import Auth
import Contracts
import EventBus
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import ServiceKit
import Synchronization
import Testing
import TestSupport

@testable import BasketService

/// The basket's HTTP API on the in-memory repository and a fixed catalog: no database, no bus.
@Suite struct BasketRouterTests {
    static let phone = CatalogProduct(id: UUID(), name: "Phone", price: Decimal(string: "19.99")!)

    struct Catalog: ProductCatalog {
        func product(id: UUID) async throws -> CatalogProduct? { id == BasketRouterTests.phone.id ? BasketRouterTests.phone : nil }
    }

    static func withRouter(_ test: @Sendable (SignedClient, InMemoryBasketRepository) async throws -> Void) async throws {
        let repository = InMemoryBasketRepository()
        let verifier = TokenVerifier(configuration: TestTokens.configuration, httpClient: .shared, logger: Logger(label: "basket-router"))
        let router = buildRouter(repository: repository, catalog: Catalog(), verifier: verifier)
        let token = try await TestTokens.token("ann")
        try await Application(router: router).test(.router) { client in try await test(SignedClient(client, token: token), repository) }
    }

    @Test func aCheckoutEmptiesTheBasketAndRecordsOneEvent() async throws {
        try await Self.withRouter { client, repository in
            let fill = #"{"userName":"ann","items":[{"productId":"\#(Self.phone.id)","quantity":2}]}"#
            #expect(try await client.execute(uri: "/basket", method: .post, body: ByteBuffer(string: fill)).status == .ok)
            let body = ByteBuffer(string: #"{"userName":"ann","firstName":"Ann","lastName":"Lee","email":"ann@example.com","address":"1 Main St","paymentMethod":"card","cardInfo":"4111111111111111"}"#)
            let first = try await client.execute(uri: "/basket/checkout", method: .post, headers: [.idempotencyKey: "k1"], body: body)
            #expect(first.status == .accepted)
            let again = try await client.execute(uri: "/basket/checkout", method: .post, headers: [.idempotencyKey: "k1"], body: body)
            #expect(again.status == .accepted && again.headers[HTTPField.Name("Idempotent-Replayed")!] == "true")
            #expect(again.body == first.body)
            #expect(try await client.execute(uri: "/basket/checkout", method: .post, body: body).status == .conflict, "the basket is empty now")

            let events = repository.published
            #expect(events.count == 1)
            let checkout = try #require(try events.first.map { try $0.detail.decode(as: CheckoutBasket.self) })
            #expect(events.first?.detailType == ShopEvents.checkoutBasket.detailType)
            #expect(checkout.totalPrice == Decimal(string: "39.98") && checkout.cardInfo == "**** **** **** 1111")
            #expect(try await repository.find(userName: "ann").items.isEmpty)
        }
    }

    @Test func aCatalogChangeReachesTheBasketAndAGETLeavesItAlone() async throws {
        try await Self.withRouter { client, repository in
            let fill = #"{"userName":"ann","items":[{"productId":"\#(Self.phone.id)","quantity":1}]}"#
            #expect(try await client.execute(uri: "/basket", method: .post, body: ByteBuffer(string: fill)).status == .ok)
            let change = CatalogChange(productId: Self.phone.id, name: "Phone", price: Decimal(string: "17.49")!, version: 2, deleted: false)
            #expect(try await CatalogEventHandler.apply(change, on: repository))
            #expect(try await !CatalogEventHandler.apply(change, on: repository), "a repeat changes nothing")
            for _ in 0..<2 {
                let basket = try JSONValue.decoder.decode(Basket.self, from: Data(buffer: try await client.execute(uri: "/basket/ann", method: .get).body))
                #expect(basket.items.first?.price == Decimal(string: "17.49") && basket.items.first?.previousPrice == Decimal(string: "19.99"))
            }
        }
    }
}

extension BasketRouterTests {
    /// Counts the catalog's calls.
    final class CountingCatalog: ProductCatalog, Sendable {
        let batches = Mutex<[Int]>([])
        func product(id: UUID) async throws -> CatalogProduct? {
            batches.withLock { $0.append(1) }
            return id == BasketRouterTests.phone.id ? BasketRouterTests.phone : nil
        }
        func products(ids: Set<UUID>) async throws -> [UUID: CatalogProduct] {
            batches.withLock { $0.append(ids.count) }
            return ids.contains(BasketRouterTests.phone.id) ? [BasketRouterTests.phone.id: BasketRouterTests.phone] : [:]
        }
    }

    /// A basket naming a hundred products the basket has not heard of costs one catalog call, not a hundred.
    @Test func unknownProductsAreLookedUpInOneCall() async throws {
        let catalog = CountingCatalog()
        let verifier = TokenVerifier(configuration: TestTokens.configuration, httpClient: .shared, logger: Logger(label: "basket-router"))
        let router = buildRouter(repository: InMemoryBasketRepository(), catalog: catalog, verifier: verifier)
        let token = try await TestTokens.token("ann")
        try await Application(router: router).test(.router) { client in
            let items = ([Self.phone.id] + (0..<99).map { _ in UUID() }).map { #"{"productId":"\#($0)","quantity":1}"# }.joined(separator: ",")
            let response = try await SignedClient(client, token: token).execute(uri: "/basket", method: .post, body: ByteBuffer(string: #"{"userName":"ann","items":[\#(items)]}"#))
            #expect(response.status == .unprocessableContent)
        }
        #expect(catalog.batches.withLock { $0 } == [100], "one call for every id")
    }
}
