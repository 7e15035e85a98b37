import GatewayService
import ServiceKit
import Testing

/// The gateway's replica list of one service: parsing, round-robin, ejection, names with several addresses.
struct GatewayUpstreamsTests {
    @Test func aListIsSpreadRoundRobinAndAnEjectedReplicaIsSkippedUntilProbedBack() {
        let replicas = Replicas(configured: " http://10.0.0.1:8081/ ,http://10.0.0.2:8081,")
        #expect(replicas.bases == ["http://10.0.0.1:8081", "http://10.0.0.2:8081"])
        #expect(Set((0..<4).compactMap { _ in replicas.pick() }) == Set(replicas.bases))
        #expect(replicas.eject("http://10.0.0.2:8081"))
        #expect(!replicas.eject("http://10.0.0.2:8081"), "already out")
        #expect((0..<4).compactMap { _ in replicas.pick() } == Array(repeating: "http://10.0.0.1:8081", count: 4))
        // A retry avoids the replica that just failed when there is another, healthy or not.
        #expect(replicas.pick(avoiding: "http://10.0.0.1:8081") == "http://10.0.0.2:8081")
        // None healthy: every replica is tried rather than none.
        replicas.eject("http://10.0.0.1:8081")
        #expect(Set((0..<4).compactMap { _ in replicas.pick() }) == Set(replicas.bases))
        replicas.probed("http://10.0.0.2:8081", healthy: true)
        #expect(replicas.pick() == "http://10.0.0.2:8081")
        #expect(replicas.hasAnother(than: "http://10.0.0.2:8081"))
        #expect(!Replicas(configured: "http://a:1").hasAnother(than: "http://a:1"))
    }

    @Test func aNameWithSeveralAddressesStandsForOneReplicaEach() async {
        let replicas = Replicas(configured: "http://product-service:8081,https://api.example.com,http://localhost:8081,http://10.0.0.9:8081")
        let resolved = await replicas.resolve { host in
            host == "product-service" ? ["10.89.0.7", "10.89.0.5"] : ["192.0.2.1"]
        }
        #expect(resolved == [
            "http://10.89.0.7:8081", "http://10.89.0.5:8081", "https://api.example.com", "http://localhost:8081", "http://10.0.0.9:8081",
        ])
        // One address: the name stays (the HTTP client resolves it); a name that does not resolve keeps the last list.
        #expect(await Replicas(configured: "http://basket-service:8082").resolve { _ in ["10.89.0.3"] } == ["http://basket-service:8082"])
        #expect(await Replicas(configured: "http://gone:8082").resolve { _ in nil } == nil)
        // A replica that stays keeps its ejection across a re-resolution; a new one starts in rotation.
        replicas.update(["http://10.89.0.7:8081", "http://10.89.0.5:8081"])
        replicas.eject("http://10.89.0.5:8081")
        replicas.update(["http://10.89.0.5:8081", "http://10.89.0.8:8081"])
        #expect(Set((0..<4).compactMap { _ in replicas.pick() }) == ["http://10.89.0.8:8081"])
    }

    @Test func theSystemResolverAnswersForLocalhost() async {
        let addresses = await systemResolve("localhost")
        #expect(addresses?.contains("127.0.0.1") == true)
    }
}
