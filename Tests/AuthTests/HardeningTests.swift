import Foundation
import NIOHTTP1
import ServiceKit
import Testing
import TestSupport

/// What the review of issue 25 found at the edges, through the gateway and straight at a service.
@Suite struct HardeningTests {
    /// Every answer says `nosniff`; JSON and problem+json answers also forbid loading and framing anything.
    @Test func answersCarryNosniffAndJSONAnswersACSP() async throws {
        try await ShopUnderGateway.run { shop in
            for (url, json) in [
                ("\(shop.gateway)/product", true), ("\(shop.gateway)/product/not-a-uuid", true), ("\(shop.product)/product", true),
                ("\(shop.basket)/basket/swn", true), ("\(shop.gateway)/health", true), ("\(shop.gateway)/", false),
            ] {
                let response = try await HTTP.send(.GET, url)
                #expect(response.header("X-Content-Type-Options") == "nosniff", "\(url)")
                if json {
                    #expect(response.header("Content-Security-Policy") == "default-src 'none'; frame-ancestors 'none'", "\(url)")
                } else {
                    #expect(response.header("Content-Security-Policy") != "default-src 'none'; frame-ancestors 'none'", "the storefront's page keeps its own")
                }
            }
        }
    }

    /// GET, HEAD and DELETE take no body: refused (400 naming `body`) before anything is read or forwarded.
    @Test func bodiesOnGETAndDELETEAreRefused() async throws {
        try await ShopUnderGateway.run { shop in
            let admin = try await TrustBoundaryTests.token(shop, "admin", groups: ["admin"])
            for (method, path) in [(HTTPMethod.GET, "/product"), (.DELETE, "/basket/admin"), (.GET, "/order")] {
                let through = try await shop.call(method, path, token: admin, json: #"{"x":1}"#)
                #expect(through.status == 400, "\(method) \(path) through the gateway")
                #expect(String(decoding: through.body, as: UTF8.self).contains(#""field":"body""#))
            }
            #expect(try await HTTP.send(.GET, "\(shop.product)/product", #"{"x":1}"#).status == 400, "straight at the service")
            let status = try await HTTP.raw(port: shop.gatewayPort, ["GET /product HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n"])
            #expect(status == 400, "a chunked body too")
            #expect(try await HTTP.send(.GET, "\(shop.gateway)/product").status == 200)
        }
    }

    /// A cursor not in the list's form (a time beyond 16 digits, JSON, an over-long value) is a 400,
    /// never a 500; one in the form is a position, even a crafted one at the ends of time (200).
    @Test func craftedCursorsAreA400AndWellFormedOnesAPage() async throws {
        try await ShopUnderGateway.run { shop in
            let admin = try await TrustBoundaryTests.token(shop, "admin", groups: ["admin"])
            let id = String(repeating: "f", count: 32)
            for raw in ["99999999999999999.\(id)", "1e17.\(id)", "eyJvcmRlckRhdGUiOjF9", "1.\(id.dropLast())", String(repeating: "A", count: 600)] {
                let response = try await shop.call(.GET, "/order?cursor=\(raw)", token: admin)
                #expect(response.status == 400, "\(raw.prefix(40))")
            }
            for raw in ["9999999999999999.\(id)", "-9999999999999999.\(id)", "0.\(id)", ""] {
                let response = try await shop.call(.GET, "/order?cursor=\(raw)", token: admin)
                #expect(response.status == 200, "\(raw.prefix(40))")
            }
            // Product and basket cursors carry text: any base64url is some position.
            for path in ["/product?cursor=\(id)AA", "/product?cursor=\(id)_w", "/basket?cursor=AA", "/basket?cursor=_-_-"] {
                #expect(try await shop.call(.GET, path, token: admin).status == 200, "\(path)")
            }
        }
    }

    /// Behind the load balancer's TLS the gateway tells browsers to stay on HTTPS; over plain HTTP it does not.
    @Test func theGatewaySendsHSTSOnlyForHTTPS() async throws {
        try await ShopUnderGateway.run { shop in
            let secure = try await HTTP.send(.GET, "\(shop.gateway)/product", headers: [("X-Forwarded-Proto", "https")])
            #expect(secure.header("Strict-Transport-Security") == "max-age=31536000; includeSubDomains")
            let plain = try await HTTP.send(.GET, "\(shop.gateway)/product")
            #expect(plain.header("Strict-Transport-Security") == nil)
        }
    }
}

import Auth

extension HardeningTests {
    /// In aws mode a process without the pool's issuer or client id stops at start: it never trusts the
    /// local pool's defaults (`http://localhost:9229/local_swn`).
    @Test func awsModeNeedsThePoolsSettings() throws {
        #expect(throws: SettingsError.self) { try TokenVerifier.Configuration(settings: Settings(["BUS_MODE": "aws"])) }
        #expect(throws: SettingsError.self) {
            try TokenVerifier.Configuration(settings: Settings(["BUS_MODE": "aws", "COGNITO_ISSUER": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_x"]))
        }
        let configured = try TokenVerifier.Configuration(settings: Settings([
            "BUS_MODE": "aws", "COGNITO_ISSUER": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_x", "COGNITO_CLIENT_ID": "abc",
        ]))
        #expect(configured.issuer == "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_x")
        #expect(try TokenVerifier.Configuration(settings: Settings([:])).issuer == "http://localhost:9229/local_swn", "local mode keeps its defaults")
    }
}

extension HardeningTests {
    /// Straight at a service (and identity): a request head that never completes is cut off after
    /// HEADER_TIMEOUT_MS (10 s by default) as at the gateway, instead of holding the connection for ever.
    @Test func servicesCloseAHeadThatNeverCompletes() async throws {
        try await ShopUnderGateway.run { shop in
            for url in [shop.product, shop.identity] {
                let port = try #require(URL(string: url)?.port)
                let start = ContinuousClock.now
                let status = try await HTTP.raw(port: port, ["GET /pro"], readTimeout: 25)
                let waited = ContinuousClock.now - start
                #expect(status == 0, "no answer to half a head")
                #expect(waited < .seconds(16), "\(url): closed after \(waited), not left open until the client gave up (25 s)")
            }
        }
    }
}

extension HardeningTests {
    /// How many `GET /health` product-service has answered (its own `/metrics`).
    static func healthChecksAnswered(_ product: String) async throws -> Int {
        let metrics = String(decoding: try await HTTP.send(.GET, "\(product)/metrics").body, as: UTF8.self)
        return metrics.split(separator: "\n").filter {
            $0.hasPrefix("hb_requests{") && $0.contains(#"http_route="/health""#) && $0.contains(#"http_request_method="GET""#)
        }.reduce(0) { $0 + (Int(Double($1.split(separator: " ").last ?? "0") ?? 0)) }
    }

    /// The gateway's `/ready` answers from a view its timer keeps: fifty calls make no call upstream, and
    /// the answer says up or down only, naming no upstream.
    @Test func theGatewaysReadyMakesNoUpstreamCallPerRequest() async throws {
        try await ShopUnderGateway.run(gatewaySettings: ["READY_REFRESH_MS": "5000"]) { shop in
            var ready = try await HTTP.send(.GET, "\(shop.gateway)/ready")
            for _ in 0..<50 where ready.status != 200 {
                try await Task.sleep(for: .milliseconds(100))
                ready = try await HTTP.send(.GET, "\(shop.gateway)/ready")
            }
            #expect(ready.status == 200)
            let before = try await Self.healthChecksAnswered(shop.product)
            for _ in 0..<50 { _ = try await HTTP.send(.GET, "\(shop.gateway)/ready") }
            let after = try await Self.healthChecksAnswered(shop.product)
            #expect(after - before <= 2, "50 readiness calls made \(after - before) upstream health calls")
            let body = String(decoding: ready.body, as: UTF8.self)
            for name in ["product", "basket", "ordering", "payment"] { #expect(!body.contains(name), "\(body)") }
        }
    }

    /// The gateway's own routes count against the address's limit too: an anonymous flood of them is a 429.
    @Test func theGatewaysOwnRoutesAreRateLimited() async throws {
        try await ShopUnderGateway.run(gatewaySettings: ["RATE_LIMIT_ADDRESS_PER_SECOND": "1", "RATE_LIMIT_ADDRESS_BURST": "5"]) { shop in
            try await Task.sleep(for: .seconds(6))  // the start-up's readiness polls spent the bucket: let it refill
            var statuses: [Int] = []
            let started = ContinuousClock.now
            for path in Array(repeating: "/openapi.yaml", count: 8) + Array(repeating: "/ready", count: 4) + ["/", "/health"] {
                let response = try await HTTP.send(.GET, shop.gateway + path)
                statuses.append(response.status)
                if response.status == 429 { #expect(response.header("Retry-After") != nil) }
            }
            // The burst, plus what the bucket refilled (1/s) while the requests ran (slowly, on a loaded machine).
            let refilled = Int((ContinuousClock.now - started).timeInterval.rounded(.up))
            #expect(statuses.prefix(5).allSatisfy { $0 == 200 }, "\(statuses)")
            #expect(statuses.filter { $0 == 200 }.count <= 5 + refilled, "\(statuses) in \(refilled) s")
            #expect(statuses.suffix(from: 5).contains(429), "\(statuses)")
        }
    }
}

extension HardeningTests {
    @Test func xForwardedForIsBelievedFromTrustedProxiesOnly() throws {
        let proxies = try TrustedProxies("10.0.0.0/8, 192.168.1.7, fd00::/8")
        #expect(proxies.trusts("10.20.30.40") && proxies.trusts("192.168.1.7") && proxies.trusts("fd00::1"))
        #expect(!proxies.trusts("192.168.1.8") && !proxies.trusts("11.0.0.1") && !proxies.trusts("nonsense"))
        // From the balancer: the right-most address that is not a proxy of ours; what is left of it is the client's to forge.
        #expect(proxies.client(peer: "10.0.0.5", forwardedFor: ["1.2.3.4, 203.0.113.9"]) == "203.0.113.9")
        #expect(proxies.client(peer: "10.0.0.5", forwardedFor: ["1.2.3.4", "203.0.113.9, 10.0.0.9"]) == "203.0.113.9")
        #expect(proxies.client(peer: "10.0.0.5", forwardedFor: []) == "10.0.0.5")
        #expect(proxies.client(peer: "10.0.0.5", forwardedFor: ["evil, 203.0.113.9"]) == "203.0.113.9")
        #expect(proxies.client(peer: "10.0.0.5", forwardedFor: ["203.0.113.9, junk"]) == "10.0.0.5", "an unreadable hop is not believed")
        // From anyone else the header means nothing.
        #expect(proxies.client(peer: "198.51.100.1", forwardedFor: ["203.0.113.9"]) == "198.51.100.1")
        #expect(TrustedProxies.none.client(peer: "10.0.0.5", forwardedFor: ["203.0.113.9"]) == "10.0.0.5")
        #expect(throws: SettingsError.self) { try TrustedProxies("10.0.0.0/33") }
        #expect(throws: SettingsError.self) { try TrustedProxies("ten.0.0.0/8") }
    }

    /// Behind a trusted proxy each visitor has a bucket of their own; without trust, X-Forwarded-For opens none.
    @Test func perAddressLimitsKeyOnTheVisitorBehindATrustedProxy() async throws {
        let limits = ["RATE_LIMIT_ADDRESS_PER_SECOND": "1", "RATE_LIMIT_ADDRESS_BURST": "3"]
        try await ShopUnderGateway.run(gatewaySettings: limits.merging(["TRUSTED_PROXIES": "127.0.0.1/32"]) { $1 }) { shop in
            // Eight at once: a burst of 3, then refusals (a loaded machine may refill a token or two meanwhile).
            let first = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<8 { group.addTask { try await HTTP.send(.GET, "\(shop.gateway)/product", headers: [("X-Forwarded-For", "203.0.113.1")]).status } }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(first.filter { $0 == 429 }.count >= 3, "one visitor's flood: \(first)")
            #expect(try await HTTP.send(.GET, "\(shop.gateway)/product", headers: [("X-Forwarded-For", "203.0.113.2")]).status == 200, "another visitor is not held up")
        }
        try await ShopUnderGateway.run(gatewaySettings: limits) { shop in
            var statuses: [Int] = []
            for n in 0..<8 { statuses.append(try await HTTP.send(.GET, "\(shop.gateway)/product", headers: [("X-Forwarded-For", "203.0.113.\(n)")]).status) }
            #expect(statuses.suffix(3).allSatisfy { $0 == 429 }, "forged X-Forwarded-For opens no new bucket: \(statuses)")
        }
    }
}
