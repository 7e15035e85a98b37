import Foundation
import Testing
import TestSupport

/// Two gateways on one database: the per-address limit holds in total across both, within 10 %.
@Suite(.serialized) struct SharedRateLimitTests {
    @Test func twoGatewaysAdmitWhatOneWouldInTotal() async throws {
        try await SagaTests.withShop(shipping: true) { shop in
            try await TestDatabase.with { gatewayDB in
                let rate = 10.0, burst = 10.0
                let settings = shop.upstreams.merging([
                    "DATABASE_URL": gatewayDB.url, "RATE_LIMIT_ADDRESS_PER_SECOND": "\(Int(rate))", "RATE_LIMIT_ADDRESS_BURST": "\(Int(burst))",
                ]) { $1 }
                let first = try await ServiceProcess("gateway", port: try freePort(), environment: settings)
                defer { first.terminate() }
                let second = try await ServiceProcess("gateway", port: try freePort(), environment: settings)
                defer { second.terminate() }
                // Start from full buckets: the readiness polls above spent some tokens.
                try await Task.sleep(for: .seconds(burst / rate + 0.5))

                // One client address, eight connections alternating between the gateways, as fast as
                // they answer, for 4 s.
                let start = ContinuousClock.now
                let counts = try await withThrowingTaskGroup(of: (admitted: Int, refused: Int).self) { group in
                    for worker in 0..<8 {
                        group.addTask {
                            var admitted = 0, refused = 0, n = worker
                            while ContinuousClock.now - start < .seconds(4) {
                                let gateway = n % 2 == 0 ? first : second
                                n += 1
                                let status = try await HTTP.send(.GET, "\(gateway.baseURL)/health").status
                                if status == 200 { admitted += 1 } else if status == 429 { refused += 1 } else { Issue.record("status \(status)") }
                            }
                            return (admitted, refused)
                        }
                    }
                    return try await group.reduce(into: (admitted: 0, refused: 0)) { $0.admitted += $1.admitted; $0.refused += $1.refused }
                }
                let (admitted, refused) = counts
                // The window in which requests were sent (the last answers may come later).
                let allowed = burst + rate * 4
                print("shared rate limit: \(admitted) admitted, \(refused) refused in 4 s; the limit allows \(Int(allowed))")
                // A loaded machine (the suites run in parallel) may answer so slowly that the clients ask for
                // little more than the limit: a refusal is expected once they clearly asked for more.
                let asked = Double(admitted + refused)
                if asked > allowed * 1.2 { #expect(refused > 0) }
                #expect(Double(admitted) <= allowed * 1.1, "at most the limit (within 10 %) across both gateways")
                // Strict by design (tokens a replica took and did not spend are lost); the clients' and
                // gateways' own pauses leave tokens unused.
                #expect(Double(admitted) >= min(allowed, asked) * 0.6, "and not much less")
            }
        }
    }
}
