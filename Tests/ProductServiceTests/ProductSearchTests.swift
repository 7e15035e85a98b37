import Foundation
import Hummingbird
import HummingbirdTesting
import ServiceKit
import Testing
import TestSupport

@testable import ProductService

/// `GET /product?q=` and `GET /product/facets` on a real Postgres: typos and prefixes, ranking, the
/// filters, a stable cursor, and bad input.
@Suite struct ProductSearchTests {
    struct Found: Decodable {
        struct Item: Decodable {
            var name: String
            var price: Decimal
            var category: String
            var stock: Int
        }

        var items: [Item]
        var nextCursor: String?
    }

    static let catalog = [
        #"{"name":"IPhone X","description":"A smart phone with a large screen","price":950,"category":"Smart Phone","stock":5}"#,
        #"{"name":"Samsung 10","description":"An android smart phone","price":840,"category":"Smart Phone","stock":0}"#,
        #"{"name":"Huawei Plus","description":"Phone for everyday use","price":650,"category":"White Appliances","stock":3}"#,
        #"{"name":"Xiaomi Mi 9","description":"Budget phone with a great camera","price":470,"category":"White Appliances","stock":2}"#,
        #"{"name":"HTC U11+ Plus","description":"Headphones included","price":380,"category":"Smart Phone","stock":7}"#,
        #"{"name":"LG G7 ThinQ","description":"An iphone rival","price":240,"category":"Home Kitchen","stock":1}"#,
    ]

    static func withCatalog(_ test: @escaping @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        try await ProductAPITests.withApp { client in
            for body in catalog {
                let created = try await client.execute(uri: "/product", method: .post, body: ByteBuffer(string: body))
                #expect(created.status == .created)
            }
            try await test(client)
        }
    }

    static func search(_ client: some TestClientProtocol, _ query: String) async throws -> Found {
        let response = try await client.execute(uri: "/product?\(query)", method: .get)
        #expect(response.status == .ok, "\(query): \(String(buffer: response.body))")
        return try ProductAPITests.decode(Found.self, response)
    }

    static func names(_ client: some TestClientProtocol, _ query: String) async throws -> [String] {
        try await search(client, query).items.map(\.name)
    }

    @Test func typosAndPrefixesFindTheProductsBestFirst() async throws {
        try await Self.withCatalog { client in
            let typo = try await Self.names(client, "q=iphnoe")
            #expect(typo.first == "IPhone X", "a typo")
            let prefix = try await Self.names(client, "q=sams")
            #expect(prefix == ["Samsung 10"], "a prefix")
            let capitals = try await Self.names(client, "q=SAMSNUG")
            #expect(capitals == ["Samsung 10"], "a typo in capitals")
            // The name weighs most: the IPhone before the LG that mentions an iphone in its description.
            let ranked = try await Self.names(client, "q=iphone")
            #expect(ranked == ["IPhone X", "LG G7 ThinQ"])
            // Every word must match.
            let allWords = try await Self.names(client, "q=smart%20phone%20samsung")
            #expect(allWords == ["Samsung 10"])
            let inCategory = try await Self.names(client, "q=kitchen")
            #expect(inCategory == ["LG G7 ThinQ"], "the category is searched")
            let nothing = try await Self.names(client, "q=zzzzqqq")
            #expect(nothing.isEmpty)
            let noWords = try await Self.names(client, "q=%21%21%21")
            #expect(noWords.isEmpty, "a query without words finds nothing")
        }
    }

    @Test func filtersCombineWithTheSearchAndTheCursorIsStable() async throws {
        try await Self.withCatalog { client in
            let phones = try await Self.search(client, "q=phone&category=Smart%20Phone&minPrice=300&maxPrice=900.50&inStock=true")
            #expect(phones.items.map(\.name) == ["HTC U11+ Plus"], "Samsung has no stock, the IPhone costs too much")
            let all = try await Self.search(client, "q=phone").items.map(\.name)
            #expect(all.count == 5, "every product with a word starting with phone (not the LG's iphone: a prefix, not a substring)")
            // Page by page, two at a time: the same products in the same order, none twice.
            var paged: [String] = []
            var cursor: String?
            repeat {
                let page = try await Self.search(client, "q=phone&limit=2" + (cursor.map { "&cursor=\($0)" } ?? ""))
                paged += page.items.map(\.name)
                cursor = page.nextCursor
            } while cursor != nil && paged.count < 20
            #expect(paged == all)
            // Without q: the catalog by name, with the same filters.
            // As a form sends it: `+` is a space.
            let form = try await Self.search(client, "q=smart+phone&category=Smart+Phone&inStock=true")
            #expect(Set(form.items.map(\.name)) == ["HTC U11+ Plus", "IPhone X"], "\(form.items.map(\.name))")
            let cheap = try await Self.search(client, "maxPrice=400&inStock=true")
            #expect(cheap.items.map(\.name) == ["HTC U11+ Plus", "LG G7 ThinQ"])
        }
    }

    @Test func facetsCountTheCategoriesAndThePriceRangeOfTheSameFilter() async throws {
        try await Self.withCatalog { client in
            let response = try await client.execute(uri: "/product/facets?q=phone&category=Smart%20Phone", method: .get)
            #expect(response.status == .ok)
            let facets = try ProductAPITests.decode(ProductFacets.self, response)
            #expect(facets.categories == [.init(name: "Smart Phone", count: 3), .init(name: "White Appliances", count: 2)], "most first")
            #expect(facets.price.min == 380 && facets.price.max == 950, "the range within the chosen category")
            let none = try ProductAPITests.decode(ProductFacets.self, try await client.execute(uri: "/product/facets?q=zzzzqqq", method: .get))
            #expect(none.categories.isEmpty && none.price.min == nil && none.price.max == nil)
        }
    }

    @Test func badInputIsA400NamingTheParameter() async throws {
        try await Self.withCatalog { client in
            for (query, field) in [
                ("q=" + String(repeating: "a", count: 201), "q"), ("q=a%00b", "q"), ("minPrice=abc", "minPrice"), ("maxPrice=1e3", "maxPrice"),
                ("minPrice=10&maxPrice=5", "minPrice"), ("inStock=yes", "inStock"), ("q=phone&cursor=zz", "cursor"), ("minPrice=-1", "minPrice"),
            ] {
                let response = try await client.execute(uri: "/product?\(query)", method: .get)
                try ProductAPITests.expectProblem(response, .badRequest, field: field)
                let facets = try await client.execute(uri: "/product/facets?\(query)", method: .get)
                if field != "cursor" { try ProductAPITests.expectProblem(facets, .badRequest, field: field) }
            }
        }
    }
}
