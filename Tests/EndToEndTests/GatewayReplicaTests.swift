import Foundation
import Synchronization
import Testing
import TestSupport

/// The gateway in front of two product-service replicas: requests spread over both, a replica killed
/// under load costs (almost) nothing and nothing after its ejection, and it is taken back once it answers.
@Suite(.serialized) struct GatewayReplicaTests {
    @Test func aKilledReplicaIsEjectedAndTakenBackWithoutFailedReads() async throws {
        try await SagaTests.withShop(shipping: true) { shop in
            let common = SagaTests.sagaSettings.merging(["BUS_MODE": "local", "BUS_DATABASE_URL": shop.databases["bus"]!]) { $1 }
            let second = try await ServiceProcess("product-service", port: try freePort(), environment: common.merging(["DATABASE_URL": shop.databases["product"]!]) { $1 })
            defer { second.terminate() }
            let metricsPort = try freePort()
            let gateway = try await ServiceProcess("gateway", port: try freePort(), environment: shop.upstreams.merging([
                "PRODUCT_SERVICE_URL": "\(shop.product.baseURL), \(second.baseURL)/",
                "READY_REFRESH_MS": "200", "RATE_LIMIT_USER_PER_SECOND": "0", "RATE_LIMIT_ADDRESS_PER_SECOND": "0", "METRICS_PORT": "\(metricsPort)",
            ]) { $1 })
            defer { gateway.terminate() }
            let lamp = try await SagaTests.createProduct(shop, stock: 5)
            let url = "\(gateway.baseURL)/product/\(lamp)"

            // Both replicas answer reads through the gateway.
            for _ in 0..<20 { #expect(try await HTTP.send(.GET, url).status == 200) }
            for replica in [shop.product, second] {
                #expect(try await Self.reads(replica) > 0, "replica on port \(replica.port) got no read")
            }

            // Eight clients read without pause; one replica is killed after a second, then the load goes on for two.
            let load = Load()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<8 {
                    group.addTask {
                        while !load.stop.load(ordering: .relaxed) {
                            let status = (try? await HTTP.send(.GET, url).status) ?? 0
                            load.results.withLock { $0.append((.now, status)) }
                        }
                    }
                }
                try await Task.sleep(for: .seconds(1))
                second.kill()
                let kill = ContinuousClock.now
                load.killedAt.withLock { $0 = kill }
                try await Task.sleep(for: .seconds(2))
                load.stop.store(true, ordering: .relaxed)
                try await group.waitForAll()
            }
            let all = load.results.withLock { $0 }
            let kill = load.killedAt.withLock { $0 }!
            let failed = all.filter { $0.status != 200 }
            let afterEjection = failed.filter { $0.at > kill + .milliseconds(500) }
            print("gateway replicas: \(all.count) reads, \(failed.count) failed, \(afterEjection.count) more than 0.5 s after the kill")
            #expect(all.count > 20, "the load went on through the kill (a full swift test on two cores makes it slow, not stop)")
            #expect(failed.count <= 3, "a handful at most: \(failed.map(\.status))")
            #expect(afterEjection.isEmpty)
            let metrics = try await MetricsTests.parse("http://127.0.0.1:\(metricsPort)/metrics")
            #expect((metrics["gateway_upstream_ejections"] ?? []).contains { $0.labels["upstream"] == "product" && $0.value >= 1 })

            // Restarted on the same port, the replica is probed back within a few refreshes and reads reach it again.
            let restarted = try await second.restarted()
            defer { restarted.terminate() }
            try await CheckoutToOrderTests.waitFor("the restarted replica to get reads") {
                for _ in 0..<10 { _ = try await HTTP.send(.GET, url) }
                return try await Self.reads(restarted) > 0
            }

            // A write with no Idempotency-Key is not repeated after it may have reached a replica, but one
            // whose connection failed goes to the other replica: with one replica down, every write lands.
            restarted.kill()
            let token = try await TestTokens.admin()
            for n in 0..<4 {
                let created = try await HTTP.send(.POST, "\(gateway.baseURL)/product", #"{"name":"Lamp \#(n)","price":1.00,"category":"Home","stock":1}"#, token: token)
                #expect(created.status == 201, "write \(n): \(created.status)")
            }
        }
    }

    final class Load: Sendable {
        let results = Mutex<[(at: ContinuousClock.Instant, status: Int)]>([])
        let stop = Atomic(false)
        let killedAt = Mutex<ContinuousClock.Instant?>(nil)
    }

    /// `GET /product/{id}` requests the replica answered (Hummingbird's `hb_requests`).
    static func reads(_ process: ServiceProcess) async throws -> Double {
        let families = try await MetricsTests.parse("\(process.baseURL)/metrics")
        return (families["hb_requests"] ?? []).filter { $0.labels["http_route"] == "/product/{id}" }.reduce(0) { $0 + $1.value }
    }
}
