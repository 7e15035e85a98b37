import Auth
import AsyncHTTPClient
import Contracts
import EventBus
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import PostgresNIO
import ServiceKit
import Synchronization
import Testing
import TestSupport

@testable import ProductService

/// How many times a list was read.
final class Reads: Sendable {
    let count = Mutex(0)
}

/// `GET /product/{id}` answered from memory: never older than this process's last change.
@Suite struct ProductReadCacheTests {
    /// The answers stay until a drop or their time is up; a read that began before a drop keeps nothing.
    @Test func aReadThatBeganBeforeADropKeepsNothing() async throws {
        let cache = ProductReadCache(timeToLive: .seconds(60))
        let id = UUID()
        cache.store(ByteBuffer(string: "v1"), for: id, readSince: cache.beginRead())
        #expect(cache.body(for: id) == ByteBuffer(string: "v1"))

        let before = cache.beginRead()   // a read of Postgres starts ...
        cache.drop([id])                 // ... a change commits and drops the product ...
        cache.store(ByteBuffer(string: "v1"), for: id, readSince: before)  // ... the read ends with the old row
        #expect(cache.body(for: id) == nil, "what a read saw before a change is not kept")

        cache.store(ByteBuffer(string: "v2"), for: id, readSince: cache.beginRead())
        #expect(cache.body(for: id) == ByteBuffer(string: "v2"))

        let short = ProductReadCache(timeToLive: .milliseconds(30))
        short.store(ByteBuffer(string: "v1"), for: id, readSince: short.beginRead())
        try await Task.sleep(for: .milliseconds(60))
        #expect(short.body(for: id) == nil, "no answer is served past its time to live")

        let small = ProductReadCache(timeToLive: .seconds(60), capacity: 2)
        for _ in 0..<3 { small.store(ByteBuffer(string: "x"), for: UUID(), readSince: small.beginRead()) }
        let kept = UUID()
        small.store(ByteBuffer(string: "y"), for: kept, readSince: small.beginRead())
        #expect(small.body(for: kept) == nil, "a full cache of live answers keeps no more")
    }

    /// Lists (pages, searches, facets): identical misses at the same time read Postgres once; the
    /// answer stays until a drop; a read that began before a drop is neither kept nor joined; a failed
    /// read is not kept.
    @Test func identicalListMissesReadOnceAndADropForgetsEveryList() async throws {
        let cache = ProductReadCache(timeToLive: .seconds(60))
        let key = ProductReadCache.ListKey(.list, ProductFilter(words: ["lamp"]), limit: 50)
        let reads = Reads()
        let answer = { @Sendable (text: String, delay: Duration) -> @Sendable () async throws -> ByteBuffer in
            { @Sendable in
                reads.count.withLock { $0 += 1 }
                try await Task.sleep(for: delay)
                return ByteBuffer(string: text)
            }
        }
        let bodies = try await withThrowingTaskGroup(of: ByteBuffer.self) { group in
            for _ in 0..<20 { group.addTask { try await cache.list(key, load: answer("v1", .milliseconds(100))) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(bodies.count == 20 && bodies.allSatisfy { $0 == ByteBuffer(string: "v1") })
        #expect(reads.count.withLock { $0 } == 1, "twenty identical misses, one read")
        #expect(try await cache.list(key, load: answer("v2", .zero)) == ByteBuffer(string: "v1"), "kept")
        let other = ProductReadCache.ListKey(.facets, ProductFilter(words: ["lamp"]))
        #expect(try await cache.list(other, load: answer("f1", .zero)) == ByteBuffer(string: "f1"), "another key is another answer")

        cache.drop([])  // any change of the catalog
        #expect(try await cache.list(key, load: answer("v2", .zero)) == ByteBuffer(string: "v2"), "a drop forgets every list")

        cache.drop([])
        let early = Task { try await cache.list(key, load: answer("old", .milliseconds(200))) }
        try await Task.sleep(for: .milliseconds(50))
        cache.drop([])  // a change commits while that read runs
        #expect(try await cache.list(key, load: answer("new", .zero)) == ByteBuffer(string: "new"), "a read from before the drop is not joined")
        #expect(try await early.value == ByteBuffer(string: "old"))
        #expect(try await cache.list(key, load: answer("newer", .zero)) == ByteBuffer(string: "new"), "nor kept over the newer answer")

        cache.drop([])
        struct Failed: Error {}
        let failing: @Sendable () async throws -> ByteBuffer = { throw Failed() }
        await #expect(throws: Failed.self) { try await cache.list(key, load: failing) }
        #expect(try await cache.list(key, load: answer("after", .zero)) == ByteBuffer(string: "after"), "a failed read is not kept")

        // Refresh ahead: in the last quarter of its time the kept answer is served and reread behind it.
        // (4 s, read again after 3.2 s: the refresh window is 3–4 s, room for a sleep that overshoots.)
        let fresh = ProductReadCache(timeToLive: .seconds(4))
        _ = try await fresh.list(key, load: answer("r1", .zero))
        try await Task.sleep(for: .milliseconds(3_200))
        let readsBefore = reads.count.withLock { $0 }
        #expect(try await fresh.list(key, load: answer("r2", .zero)) == ByteBuffer(string: "r1"), "still within its time: served")
        for _ in 0..<100 where reads.count.withLock({ $0 }) == readsBefore { try await Task.sleep(for: .milliseconds(20)) }
        #expect(reads.count.withLock { $0 } == readsBefore + 1, "and reread in the background")
        // The count moves when the reread starts; its answer is kept once it returns. Until then the
        // kept one is served at once (the loader passed here must not run: no second read).
        var served = try await fresh.list(key, load: answer("r3", .zero))
        for _ in 0..<50 where served == ByteBuffer(string: "r1") {
            try await Task.sleep(for: .milliseconds(10))
            served = try await fresh.list(key, load: answer("r3", .zero))
        }
        #expect(served == ByteBuffer(string: "r2"), "the reread answer, no wait")
        #expect(reads.count.withLock { $0 } == readsBefore + 1, "one reread, however often it was asked for meanwhile")

        let small = ProductReadCache(timeToLive: .seconds(60), listCapacityBytes: 10)
        _ = try await small.list(key, load: answer("12345678", .zero))
        _ = try await small.list(other, load: answer("abcdefgh", .zero))
        #expect(try await small.list(other, load: answer("again", .zero)) == ByteBuffer(string: "again"), "over the byte capacity nothing more is kept")
    }

    /// Through the service's router on a real Postgres: the admin's update and delete and the saga's
    /// stock changes (a reservation and a release, whose products only the order's record names) are
    /// in the very next answer, although the product was answered from memory before each.
    @Test func everyChangeIsInTheNextAnswer() async throws {
        try await TestDatabase.with { database in
            try await database.withClient { client in
                try await Migrator(ProductMigrations.all).migrate(client: client, logger: TestDatabase.logger)
                let cache = ProductReadCache(timeToLive: .seconds(60))
                let repository = PostgresProductRepository(client: client, logger: TestDatabase.logger, cache: cache)
                let verifier = TokenVerifier(configuration: TestTokens.configuration, httpClient: .shared, logger: TestDatabase.logger)
                let router = buildRouter(repository: repository, verifier: verifier, cache: cache)
                let admin = try await TestTokens.admin()
                try await Application(router: router).test(.router) { raw in
                    let client = SignedClient(raw, token: admin)
                    let created = try await client.execute(
                        uri: "/product", method: .post,
                        body: ByteBuffer(string: #"{"name":"Lamp","price":10,"category":"Home","stock":5}"#)
                    )
                    let id = try ProductAPITests.decode(Product.self, created).id
                    func read() async throws -> Product? {
                        let response = try await client.execute(uri: "/product/\(id)", method: .get)
                        return response.status == .ok ? try ProductAPITests.decode(Product.self, response) : nil
                    }
                    #expect(try await read()?.stock == 5)
                    #expect(cache.body(for: id) != nil, "the answer is kept")
                    struct Found: Decodable { var items: [Product] }
                    func search() async throws -> [Product] {
                        try ProductAPITests.decode(Found.self, try await client.execute(uri: "/product?q=lamp", method: .get)).items
                    }
                    #expect(try await search().map(\.stock) == [5])
                    _ = try await client.execute(
                        uri: "/product", method: .post, body: ByteBuffer(string: #"{"name":"Lamp Two","price":20,"category":"Home","stock":1}"#)
                    )
                    #expect(try await search().count == 2, "a new product is in the next search")

                    _ = try await client.execute(uri: "/product/\(id)", method: .put, body: ByteBuffer(string: #"{"name":"Lamp","price":12.5,"category":"Home"}"#))
                    #expect(try await read()?.price == Decimal(string: "12.50"))

                    let order = UUID()
                    let line = ReserveStock.Line(productId: id, quantity: 2)
                    try await repository.withReservation(orderId: order, productIds: [id], userName: nil) { store in
                        try await store.save(Reservation(orderId: order, status: .reserved, lines: [line]), stockChanges: [id: -2], reply: nil)
                    }
                    #expect(try await read()?.stock == 3)
                    #expect(try await search().first { $0.id == id }?.stock == 3, "a sale is in the next search")

                    try await repository.withReservation(orderId: order, productIds: [], userName: nil) { store in
                        try await store.save(Reservation(orderId: order, status: .released, lines: [line]), stockChanges: [id: 2], reply: nil)
                    }
                    #expect(try await read()?.stock == 5)

                    #expect(try await client.execute(uri: "/product/\(id)", method: .delete).status == .noContent)
                    #expect(try await read() == nil)
                }
            }
        }
    }
}
