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
            let ready = try await client.execute(uri: "/ready", method: .get)
            #expect(ready.status == .ok)
        }
    }
}
