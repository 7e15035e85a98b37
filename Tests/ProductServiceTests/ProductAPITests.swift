import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import ServiceKit
import Testing
import TestSupport

@testable import ProductService

/// HTTP tests through the same `buildApplication` that `main` uses, on a real Postgres.
@Suite struct ProductAPITests {
    static func withApp(seed: Bool = false, _ test: @escaping @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        try await TestDatabase.with { database in
            try await TestDatabase.with { busDatabase in
                var config = try ProductServiceConfig(settings: Settings([:]))
                config.database = database.settings
                config.bus.database = busDatabase.settings
                config.seedDemoCatalog = seed
                config.tokens = TestTokens.configuration
                let app = try await buildApplication(config, logger: TestDatabase.logger)
                let admin = try await TestTokens.admin()
                try await app.test(.router) { client in try await test(SignedClient(client, token: admin)) }
            }
        }
    }

    static func json(_ string: String) -> ByteBuffer { ByteBuffer(string: string) }

    static func decode<T: Decodable>(_ type: T.Type, _ response: TestResponse) throws -> T {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try decoder.decode(T.self, from: Data(buffer: response.body))
    }

    static func expectProblem(_ response: TestResponse, _ status: HTTPResponse.Status, field: String? = nil) throws {
        #expect(response.status == status)
        #expect(response.headers[.contentType] == "application/problem+json")
        let problem = try decode(Problem.Body.self, response)
        #expect(problem.status == status.code)
        #expect(problem.detail?.isEmpty == false)
        if let field { #expect(problem.field == field) }
    }

    @Test func createReadUpdateDelete() async throws {
        try await Self.withApp { client in
            let body = #"{"name":"Pixel 9","description":"A phone","imageFile":"p9.png","price":799.99,"category":"Smart Phone"}"#
            let created = try await client.execute(uri: "/product", method: .post, body: Self.json(body))
            #expect(created.status == .created)
            let product = try Self.decode(Product.self, created)
            #expect(created.headers[.location] == "/product/\(product.id)")
            #expect(product.price == Decimal(string: "799.99"))
            #expect(product.version == 1)

            let fetched = try await client.execute(uri: "/product/\(product.id)", method: .get)
            #expect(fetched.status == .ok)
            #expect(try Self.decode(Product.self, fetched).name == "Pixel 9")

            let update = #"{"name":"Pixel 9 Pro","price":"899.10","category":"Smart Phone"}"#
            let badType = try await client.execute(uri: "/product/\(product.id)", method: .put, body: Self.json(update))
            try Self.expectProblem(badType, .badRequest, field: "price")

            let updated = try await client.execute(
                uri: "/product/\(product.id)", method: .put,
                body: Self.json(#"{"name":"Pixel 9 Pro","price":899.1,"category":"Smart Phone"}"#)
            )
            #expect(updated.status == .ok)
            let after = try Self.decode(Product.self, updated)
            #expect(after.name == "Pixel 9 Pro")
            #expect(after.price == Decimal(string: "899.10"))
            #expect(after.version == 2)

            let deleted = try await client.execute(uri: "/product/\(product.id)", method: .delete)
            #expect(deleted.status == .noContent)
            try Self.expectProblem(try await client.execute(uri: "/product/\(product.id)", method: .get), .notFound)
            try Self.expectProblem(try await client.execute(uri: "/product/\(product.id)", method: .delete), .notFound)
            try Self.expectProblem(
                try await client.execute(uri: "/product/\(product.id)", method: .put, body: Self.json(#"{"name":"x","price":1,"category":"c"}"#)),
                .notFound
            )
        }
    }

    @Test func pricesKeepEveryCent() async throws {
        try await Self.withApp { client in
            for price in ["0", "0.01", "0.1", "19.99", "1234567.89", "9999999999.99"] {
                let response = try await client.execute(
                    uri: "/product", method: .post,
                    body: Self.json(#"{"name":"p","price":\#(price),"category":"c"}"#)
                )
                #expect(response.status == .created, "price \(price)")
                let product = try Self.decode(Product.self, response)
                #expect(product.price == Decimal(string: price), "price \(price)")
                let stored = try Self.decode(Product.self, try await client.execute(uri: "/product/\(product.id)", method: .get))
                #expect(stored.price == Decimal(string: price), "stored price \(price)")
            }
        }
    }

    @Test func badInputIsA4xxProblemNamingTheField() async throws {
        try await Self.withApp { client in
            let cases: [(String, HTTPResponse.Status, String?)] = [
                (#"{"name":"a","price":1,"category":"c""#, .badRequest, nil),          // malformed JSON
                (#"[1,2]"#, .badRequest, nil),                                         // wrong top-level type
                (#"{"price":1,"category":"c"}"#, .badRequest, "name"),                 // missing field
                (#"{"name":null,"price":1,"category":"c"}"#, .badRequest, "name"),     // null
                (#"{"name":5,"price":1,"category":"c"}"#, .badRequest, "name"),        // wrong type
                (#"{"name":"a","price":true,"category":"c"}"#, .badRequest, "price"),
                (#"{"name":"  ","price":1,"category":"c"}"#, .unprocessableContent, "name"),
                (#"{"name":"a","price":-1,"category":"c"}"#, .unprocessableContent, "price"),
                (#"{"name":"a","price":1.999,"category":"c"}"#, .unprocessableContent, "price"),
                (#"{"name":"a","price":10000000000,"category":"c"}"#, .unprocessableContent, "price"),
                (#"{"name":"a","price":1,"category":""}"#, .unprocessableContent, "category"),
                ("", .badRequest, nil),
            ]
            for (body, status, field) in cases {
                let response = try await client.execute(uri: "/product", method: .post, body: Self.json(body))
                try Self.expectProblem(response, status, field: field)
            }
            let oversized = String(repeating: "x", count: 2 * 1024 * 1024)
            let big = try await client.execute(
                uri: "/product", method: .post,
                body: Self.json(#"{"name":"a","price":1,"category":"c","description":"\#(oversized)"}"#)
            )
            try Self.expectProblem(big, .contentTooLarge)
            try Self.expectProblem(try await client.execute(uri: "/product/not-a-uuid", method: .get), .badRequest, field: "id")
            try Self.expectProblem(try await client.execute(uri: "/product/\(UUID())", method: .get), .notFound)
            try Self.expectProblem(try await client.execute(uri: "/product?limit=0", method: .get), .badRequest, field: "limit")
            try Self.expectProblem(try await client.execute(uri: "/product?cursor=@@", method: .get), .badRequest, field: "cursor")
        }
    }

    @Test func listFiltersByCategoryAndPagesInAStableOrder() async throws {
        try await Self.withApp { client in
            for index in 0..<7 {
                let category = index % 2 == 0 ? "even" : "odd"
                let response = try await client.execute(
                    uri: "/product", method: .post,
                    body: Self.json(#"{"name":"item \#(index)","price":\#(index),"category":"\#(category)"}"#)
                )
                #expect(response.status == .created)
            }
            var names: [String] = []
            var cursor: String?
            repeat {
                let uri = "/product?limit=3" + (cursor.map { "&cursor=\($0)" } ?? "")
                let page = try Self.decode(ProductPage.self, try await client.execute(uri: uri, method: .get))
                #expect(page.items.count <= 3)
                names += page.items.map(\.name)
                cursor = page.nextCursor
            } while cursor != nil
            #expect(names == (0..<7).map { "item \($0)" })

            let odd = try Self.decode(ProductPage.self, try await client.execute(uri: "/product?category=odd", method: .get))
            #expect(odd.items.map(\.name) == ["item 1", "item 3", "item 5"])
            #expect(odd.nextCursor == nil)
        }
    }

    @Test func demoCatalogLoadsOnlyIntoAnEmptyCatalog() async throws {
        try await Self.withApp(seed: true) { client in
            let page = try Self.decode(ProductPage.self, try await client.execute(uri: "/product", method: .get))
            #expect(page.items.count == 6)
            #expect(Set(page.items.map(\.category)).count >= 3)
        }
    }

    @Test func healthAndReadiness() async throws {
        try await Self.withApp { client in
            let health = try await client.execute(uri: "/health", method: .get)
            #expect(health.status == .ok)
            // Each check has 2 s: on a machine loaded by the whole suite one may take longer, so the
            // service is given a few tries to answer ready (it must, its database being there).
            var ready = try await client.execute(uri: "/ready", method: .get)
            for _ in 0..<10 where ready.status != .ok {
                try await Task.sleep(for: .seconds(1))
                ready = try await client.execute(uri: "/ready", method: .get)
            }
            #expect(ready.status == .ok, "\(String(buffer: ready.body))")
        }
    }
}

extension ProductAPITests {
    /// `GET /product/{id}` carries an `ETag` that changes with every edit and every sale; `PUT` with a
    /// stale `If-Match` is a 412 that changes nothing; stock set outright needs `If-Match` (428 without);
    /// `stockDelta` adds to (or takes from) the stock as it is, never below 0 — so an edit made from a
    /// page read before a sale cannot put the sold units back on sale.
    @Test func editsCannotUndoSales() async throws {
        try await Self.withApp { client in
            let created = try await client.execute(uri: "/product", method: .post, body: Self.json(#"{"name":"Lamp","price":10,"category":"Home","stock":5}"#))
            let product = try Self.decode(Product.self, created)
            let read = try await client.execute(uri: "/product/\(product.id)", method: .get)
            let etag = try #require(read.headers[.eTag])
            #expect(etag == "\"1.5\"")
            #expect(try await client.execute(uri: "/product/\(product.id)", method: .get).headers[.eTag] == etag, "the cached answer has it too")

            // A sale meanwhile (the saga takes stock off): the ETag moves.
            _ = try await client.execute(uri: "/product/\(product.id)", method: .put, headers: [.ifMatch: etag], body: Self.json(#"{"name":"Lamp","price":10,"category":"Home","stockDelta":-2}"#))
            let afterSale = try await client.execute(uri: "/product/\(product.id)", method: .get)
            #expect(try Self.decode(Product.self, afterSale).stock == 3)
            #expect(afterSale.headers[.eTag] != etag)

            // The admin page read before the sale: its edit is refused and changes nothing.
            let stale = try await client.execute(uri: "/product/\(product.id)", method: .put, headers: [.ifMatch: etag], body: Self.json(#"{"name":"Lamp","price":12,"category":"Home","stock":5}"#))
            try Self.expectProblem(stale, .preconditionFailed, field: "If-Match")
            let garbage = try await client.execute(uri: "/product/\(product.id)", method: .put, headers: [.ifMatch: "0"], body: Self.json(#"{"name":"Lamp","price":12,"category":"Home"}"#))
            try Self.expectProblem(garbage, .preconditionFailed, field: "If-Match")
            #expect(stale.headers[.eTag] == afterSale.headers[.eTag])
            let unchanged = try Self.decode(Product.self, try await client.execute(uri: "/product/\(product.id)", method: .get))
            #expect(unchanged.stock == 3 && unchanged.price == 10)

            // Stock outright without If-Match: 428; a price-only edit keeps the stock; a relative one adds.
            try Self.expectProblem(try await client.execute(uri: "/product/\(product.id)", method: .put, body: Self.json(#"{"name":"Lamp","price":12,"category":"Home","stock":5}"#)), .preconditionRequired, field: "stock")
            let priceOnly = try await client.execute(uri: "/product/\(product.id)", method: .put, body: Self.json(#"{"name":"Lamp","price":12,"category":"Home"}"#))
            #expect(try Self.decode(Product.self, priceOnly).stock == 3)
            #expect(priceOnly.headers[.eTag] != nil)
            let added = try await client.execute(uri: "/product/\(product.id)", method: .put, body: Self.json(#"{"name":"Lamp","price":12,"category":"Home","stockDelta":4}"#))
            #expect(try Self.decode(Product.self, added).stock == 7)
            try Self.expectProblem(try await client.execute(uri: "/product/\(product.id)", method: .put, body: Self.json(#"{"name":"Lamp","price":12,"category":"Home","stockDelta":-8}"#)), .conflict, field: "stockDelta")
            try Self.expectProblem(try await client.execute(uri: "/product/\(product.id)", method: .put, body: Self.json(#"{"name":"Lamp","price":12,"category":"Home","stock":1,"stockDelta":1}"#)), .badRequest, field: "stockDelta")

            // With the current ETag, stock may be set outright.
            let current = try #require(try await client.execute(uri: "/product/\(product.id)", method: .get).headers[.eTag])
            let set = try await client.execute(uri: "/product/\(product.id)", method: .put, headers: [.ifMatch: current], body: Self.json(#"{"name":"Lamp","price":12,"category":"Home","stock":20}"#))
            #expect(set.status == .ok)
            #expect(try Self.decode(Product.self, set).stock == 20)
        }
    }
}
