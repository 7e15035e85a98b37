import Auth
import Foundation
import JWTKit
import ServiceKit
import Testing
import TestSupport

@testable import IdentityService

/// The attacks of the trust-boundary review, each refused: through the gateway, and straight at
/// the services' ports.
@Suite(.serialized) struct TrustBoundaryTests {
    /// A token from the pool for any name, as a pool with laxer name rules (a real Cognito pool) could issue.
    static func token(_ shop: ShopUnderGateway, _ user: String, groups: [String]? = nil) async throws -> String {
        let key = try await GatewayAuthTests.signingKey(shop)
        return try await GatewayAuthTests.sign(GatewayAuthTests.claims(shop) { $0.cognitoUsername = user; $0.groups = groups }, with: key)
    }

    static func json(_ response: HTTP.Response) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: response.body) as? [String: Any]) ?? [:]
    }

    /// A product and a filled basket for `victim`, written by an admin.
    static func victimBasket(_ shop: ShopUnderGateway, admin: String, price: String = "10.00") async throws -> String {
        let created = try await shop.call(.POST, "/product", token: admin, json: #"{"name":"Lamp","price":\#(price),"category":"Home"}"#)
        let productId = json(created)["id"] as? String ?? ""
        let stored = try await shop.call(.POST, "/basket", token: admin, json: #"{"userName":"victim","items":[{"productId":"\#(productId)","quantity":2}]}"#)
        #expect(stored.status == 200)
        return productId
    }

    static func victimItemCount(_ shop: ShopUnderGateway, admin: String) async throws -> Int {
        (json(try await shop.call(.GET, "/basket/victim", token: admin))["items"] as? [Any])?.count ?? -1
    }

    @Test func aFragmentInThePathNeverReachesAnotherPath() async throws {
        try await ShopUnderGateway.run { shop in
            let admin = try await Self.token(shop, "admin", groups: ["admin"])
            _ = try await Self.victimBasket(shop, admin: admin)
            for (user, target) in [("#x", "/order/#x"), ("#x", "/basket/#x"), ("victim#", "/basket/victim#"), ("victim#", "/order/victim#x")] {
                let token = try await Self.token(shop, user)
                let status = try await HTTP.raw(port: shop.gatewayPort, ["GET \(target) HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(token)\r\nConnection: close\r\n\r\n"])
                #expect(status == 400, "\(target) as \(user)")
                // Encoded, '#' is part of the name: the caller's own (empty) data, nobody else's.
                let encoded = target.replacingOccurrences(of: "#", with: "%23")
                let own = try await shop.call(.GET, encoded, token: token)
                #expect(own.status == 200 || own.status == 403, "\(encoded) as \(user)")
                #expect(!String(decoding: own.body, as: UTF8.self).contains("victim\""), "\(encoded) as \(user) leaks nothing")
            }
            // Straight at the services: without admin, the list routes stay closed whatever the path.
            let hash = try await Self.token(shop, "#x")
            #expect(try await HTTP.send(.GET, "\(shop.ordering)/order/", token: hash).status == 403)
            #expect(try await HTTP.send(.GET, "\(shop.basket)/basket/", token: hash).status == 403)
            #expect(try await Self.victimItemCount(shop, admin: admin) == 1)
        }
    }

    @Test func bodiesThatParsersReadDifferentlyCannotActForAnotherUser() async throws {
        try await ShopUnderGateway.run { shop in
            let admin = try await Self.token(shop, "admin", groups: ["admin"])
            let productId = try await Self.victimBasket(shop, admin: admin)
            let me = try await Self.token(shop, "mallory")
            let items = #""items":[{"productId":"\#(productId)","quantity":1}]"#
            let checkout = #""firstName":"M","lastName":"M","email":"m@example.com","address":"x","paymentMethod":"card","cardInfo":"4111111111111111""#
            let bodies = [
                #"{"userName":"victim","userName":"mallory",\#(items)}"#,
                #"{"userName":"mallory","userName":"victim",\#(items)}"#,
                #"{"userName":"victim",\#(items),"x":1e999}"#,
                #"{"userName":"victim",\#(items),"x":"\q"}"#,
                #"{"userName":"victim",\#(items),"x":"\udc00"}"#,
                #"{"userName":"victim",\#(items),"x":1.2.3}"#,
            ]
            for body in bodies {
                let response = try await shop.call(.POST, "/basket", token: me, json: body)
                #expect(response.status != 200 || (Self.json(response)["userName"] as? String) == "mallory", "\(body) → \(response.status)")
                let direct = try await HTTP.send(.POST, "\(shop.basket)/basket", body, token: me)
                #expect(direct.status != 200 || (Self.json(direct)["userName"] as? String) == "mallory", "direct \(body) → \(direct.status)")
                for variant in [body.replacingOccurrences(of: items, with: checkout)] {
                    let response = try await shop.call(.POST, "/basket/checkout", token: me, json: variant)
                    #expect(response.status != 202 || (Self.json(response)["userName"] as? String) == "mallory", "\(variant) → \(response.status)")
                }
            }
            #expect(try await Self.victimItemCount(shop, admin: admin) == 1, "the victim's basket is untouched")
        }
    }

    @Test func lookAlikeSpacedAndEncodedNamesAreOtherUsers() async throws {
        try await ShopUnderGateway.run { shop in
            let admin = try await Self.token(shop, "admin", groups: ["admin"])
            _ = try await Self.victimBasket(shop, admin: admin)
            let cases: [(user: String, path: String)] = [
                ("\u{212A}helga", "/basket/Khelga"), ("Khelga", "/basket/%E2%84%AAhelga"),
                ("victim ", "/basket/victim"), ("victim", "/basket/victim%20"),
                ("p%41x", "/basket/pAx"), ("pAx", "/basket/p%2541x"), ("VICTIM", "/basket/victim"),
                ("victim\u{200B}", "/basket/victim"), ("e\u{301}", "/basket/%C3%A9"),
            ]
            for (user, path) in cases {
                let token = try await Self.token(shop, user)
                // 403 (another user), or 400 where the path's name is no valid user name at all.
                #expect([400, 403].contains(try await shop.call(.GET, path, token: token).status), "\(user.debugDescription) on \(path)")
                #expect([400, 403].contains(try await shop.call(.DELETE, path, token: token).status), "\(user.debugDescription) deleting \(path)")
                let order = path.replacingOccurrences(of: "/basket/", with: "/order/")
                #expect([400, 403].contains(try await shop.call(.GET, order, token: token).status), "\(user.debugDescription) on \(order)")
                let body = #"{"userName":"\#(path.dropFirst("/basket/".count).removingPercentEncoding ?? "")","items":[]}"#
                #expect(try await HTTP.send(.POST, "\(shop.basket)/basket", body, token: token).status == 403, "\(user.debugDescription) writing \(body)")
            }
            #expect(try await Self.victimItemCount(shop, admin: admin) == 1)

            // A name with non-ASCII letters reaches its own basket through its percent-encoded path.
            let jose = try await Self.token(shop, "josé")
            let productId = Self.json(try await shop.call(.POST, "/product", token: admin, json: #"{"name":"Mug","price":3,"category":"Home"}"#))["id"] as? String ?? ""
            #expect(try await shop.call(.POST, "/basket", token: jose, json: #"{"userName":"josé","items":[{"productId":"\#(productId)","quantity":1}]}"#).status == 200)
            let own = try await shop.call(.GET, "/basket/jos%C3%A9", token: jose)
            #expect(own.status == 200)
            #expect((Self.json(own)["items"] as? [Any])?.count == 1)
            for target in ["/basket/jos%E9", "/basket/jos%C3%A", "/order/%ZZ"] {
                let status = try await HTTP.raw(port: shop.gatewayPort, ["GET \(target) HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(jose)\r\nConnection: close\r\n\r\n"])
                #expect(status == 400, "\(target) is not a validly encoded name: \(status)")
            }
        }
    }

    @Test func theServicesTrustTokensNotHeadersOrPaths() async throws {
        try await ShopUnderGateway.run { shop in
            let forged = [("X-Swn-User", "admin"), ("X-Swn-Groups", "admin")]
            #expect(try await HTTP.send(.GET, "\(shop.ordering)/order", headers: forged).status == 401)
            #expect(try await HTTP.send(.GET, "\(shop.basket)/basket/victim", headers: forged).status == 401)
            #expect(try await HTTP.send(.POST, "\(shop.product)/product", #"{"name":"X","price":1,"category":"c"}"#, headers: forged).status == 401)
            let swn = try await Self.token(shop, "swn")
            #expect(try await HTTP.send(.GET, "\(shop.ordering)/order/victim", token: swn, headers: forged).status == 403)
            #expect(try await HTTP.send(.DELETE, "\(shop.product)/product/\(UUID())", token: swn).status == 403)
            #expect(try await HTTP.send(.GET, "\(shop.basket)/basket/swn", token: "garbage").status == 401)
            #expect(try await HTTP.send(.GET, "\(shop.basket)/basket/swn", token: swn).status == 200)
        }
    }

    @Test func adminActionsNeedAValidSignatureWithTheConfiguredKeys() async throws {
        try await ShopUnderGateway.run { shop in
            // The old check: any header naming the key id. Now refused, and so is no signature at all.
            let fake = [("Authorization", "AWS4-HMAC-SHA256 Credential=\(ShopUnderGateway.adminKeyID)/20260101/us-east-1/cognito-idp/aws4_request, SignedHeaders=host, Signature=00")]
            let body: [String: Any] = ["UserPoolId": "local_swn", "Username": "swn", "GroupName": "admin"]
            let forged = try await shop.cognito("AdminAddUserToGroup", body, headers: fake)
            #expect(forged.status >= 400)
            #expect(["IncompleteSignatureException", "InvalidSignatureException"].contains(forged.json["__type"] as? String ?? ""), "\(forged.json)")
            let unsigned = try await shop.cognito("AdminSetUserPassword", ["UserPoolId": "local_swn", "Username": "admin", "Password": "Taken-0ver!", "Permanent": true])
            #expect(unsigned.json["__type"] as? String == "AccessDeniedException")

            func aws(_ arguments: [String], key: String = ShopUnderGateway.adminKeyID, secret: String = ShopUnderGateway.adminSecret, fails: Bool = false) async throws -> String {
                try await runTool("aws", ["cognito-idp"] + arguments + ["--endpoint-url", shop.identity, "--region", "us-east-1", "--output", "json"],
                            expectFailure: fails, accessKeyID: key, secretAccessKey: secret)
            }
            let wrongSecret = try await aws(["admin-add-user-to-group", "--user-pool-id", "local_swn", "--username", "swn", "--group-name", "admin"], secret: "guess", fails: true)
            #expect(wrongSecret.contains("InvalidSignatureException"), "\(wrongSecret)")
            let wrongKey = try await aws(["admin-add-user-to-group", "--user-pool-id", "local_swn", "--username", "swn", "--group-name", "admin"], key: "local", fails: true)
            #expect(wrongKey.contains("UnrecognizedClientException"), "\(wrongKey)")
            let swnBefore = try await shop.signIn("swn", "Swn-Passw0rd!")
            #expect(try await shop.call(.GET, "/order", token: swnBefore.id).status == 403, "swn is no admin")

            // With the configured keys, awscli runs the admin flow.
            _ = try await aws(["admin-create-user", "--user-pool-id", "local_swn", "--username", "carol", "--temporary-password", "Temp-Passw0rd!"])
            _ = try await aws(["admin-set-user-password", "--user-pool-id", "local_swn", "--username", "carol", "--password", "Carol-Passw0rd!", "--permanent"])
            _ = try await aws(["admin-add-user-to-group", "--user-pool-id", "local_swn", "--username", "carol", "--group-name", "admin"])
            let badGroup = try await aws(["admin-add-user-to-group", "--user-pool-id", "local_swn", "--username", "carol", "--group-name", "bad\tgroup"], fails: true)
            #expect(badGroup.contains("InvalidParameterException"), "\(badGroup)")
            let described = try await aws(["admin-get-user", "--user-pool-id", "local_swn", "--username", "carol"])
            #expect(described.contains("\"Username\": \"carol\""))
            let carol = try await shop.signIn("carol", "Carol-Passw0rd!")
            #expect(try await shop.call(.GET, "/order", token: carol.id).status == 200, "carol is admin now")

            // A password reset ends the sessions of the old password.
            let refreshBefore = try await shop.cognito("InitiateAuth", [
                "AuthFlow": "REFRESH_TOKEN_AUTH", "ClientId": "swnshoplocalclient", "AuthParameters": ["REFRESH_TOKEN": swnBefore.refresh],
            ])
            #expect(refreshBefore.status == 200)
            _ = try await aws(["admin-set-user-password", "--user-pool-id", "local_swn", "--username", "swn", "--password", "Swn-Passw0rd-2!", "--permanent"])
            let refreshAfter = try await shop.cognito("InitiateAuth", [
                "AuthFlow": "REFRESH_TOKEN_AUTH", "ClientId": "swnshoplocalclient", "AuthParameters": ["REFRESH_TOKEN": swnBefore.refresh],
            ])
            #expect(refreshAfter.json["__type"] as? String == "NotAuthorizedException")
        }
    }

    @Test func signUpRefusesNamesThatAreNotPlainOrAlreadyTakenInAnyCase() async throws {
        try await ShopUnderGateway.run(identitySettings: ["SIGN_IN_BURST": "100"]) { shop in
            func signUp(_ name: String) async throws -> (status: Int, json: [String: Any]) {
                try await shop.cognito("SignUp", ["ClientId": "swnshoplocalclient", "Username": name, "Password": "Good-Passw0rd!"])
            }
            let refused = ["a b", "a\tb", "a\nb", "a\u{0}b", "a\u{200B}b", "a\u{2028}b", "a\u{202E}b", String(repeating: "x", count: 129),
                           "#x", "victim#", "a/b", "p%41x", "\u{212A}helga", "ｆｕｌｌ", "e\u{301}", "Checkout"]
            for name in refused {
                let result = try await signUp(name)
                #expect(result.json["__type"] as? String == "InvalidParameterException", "\(name.debugDescription) → \(result.json)")
            }
            for name in ["SWN", "Swn", "ADMIN"] {
                #expect(try await signUp(name).json["__type"] as? String == "UsernameExistsException", "\(name)")
            }
            for name in ["josé", "ann.lee+shop@example.com", "user_1-2", String(repeating: "x", count: 128)] {
                #expect(try await signUp(name).status == 200, "\(name)")
            }
            // Names are case-insensitive at sign-in, and the token carries the stored name.
            let token = try await shop.signIn("SWN", "Swn-Passw0rd!").id
            #expect(try await shop.call(.GET, "/basket/swn", token: token).status == 200)
        }
    }

    @Test func failedSignInsLockTheUserOutAndFloodsAreThrottled() async throws {
        try await ShopUnderGateway.run { shop in
            func attempt(_ user: String, _ password: String) async throws -> (status: Int, json: [String: Any]) {
                try await shop.cognito("InitiateAuth", [
                    "AuthFlow": "USER_PASSWORD_AUTH", "ClientId": "swnshoplocalclient", "AuthParameters": ["USERNAME": user, "PASSWORD": password],
                ])
            }
            for _ in 0..<4 { #expect(try await attempt("swn", "wrong").json["message"] as? String == "Incorrect username or password.") }
            #expect(try await attempt("swn", "wrong").json["message"] as? String == "Password attempts exceeded")
            let locked = try await attempt("swn", "Swn-Passw0rd!")
            #expect(locked.json["message"] as? String == "Password attempts exceeded", "even the right password, while locked")
            try await Task.sleep(for: .milliseconds(1200))
            #expect(try await attempt("swn", "Swn-Passw0rd!").status == 200, "the first lockout lasts a second")
            #expect(try await attempt("nobody-here", "x").json["message"] as? String == "Incorrect username or password.", "unknown users look the same")
            #expect(try await attempt("sw\u{0}n", "x").json["__type"] as? String == "NotAuthorizedException", "a NUL in a name is nobody, not a 500")

            // A flood from one address: TooManyRequestsException, well before 200 attempts.
            var throttled = 0
            for _ in 0..<60 where try await attempt("admin", "wrong-\(UUID())").json["__type"] as? String == "TooManyRequestsException" { throttled += 1 }
            #expect(throttled > 0)
        }
    }

    @Test func inputThatCannotBeStoredIsA422AndNoCheckoutIsLost() async throws {
        try await ShopUnderGateway.run { shop in
            let admin = try await Self.token(shop, "admin", groups: ["admin"])
            let swn = try await Self.token(shop, "swn")
            let expensive = Self.json(try await shop.call(.POST, "/product", token: admin, json: #"{"name":"Yacht","price":9999999999.99,"category":"Boats"}"#))["id"] as? String ?? ""
            let cheap = Self.json(try await shop.call(.POST, "/product", token: admin, json: #"{"name":"Rope","price":1.50,"category":"Boats"}"#))["id"] as? String ?? ""

            let tooMuch = try await shop.call(.POST, "/basket", token: swn, json: #"{"userName":"swn","items":[{"productId":"\#(expensive)","quantity":1000}]}"#)
            #expect(tooMuch.status == 422)
            #expect(Self.json(tooMuch)["field"] as? String == "items[0].quantity")
            let twoLines = try await shop.call(.POST, "/basket", token: swn, json: #"{"userName":"swn","items":[{"productId":"\#(expensive)","quantity":1},{"productId":"\#(cheap)","quantity":1}]}"#)
            #expect(twoLines.status == 422)
            #expect(Self.json(twoLines)["field"] as? String == "totalPrice")
            let nulColor = try await shop.call(.POST, "/basket", token: swn, json: #"{"userName":"swn","items":[{"productId":"\#(cheap)","quantity":1,"color":"red\u0000"}]}"#)
            #expect(nulColor.status == 422)
            #expect(Self.json(nulColor)["field"] as? String == "items[0].color")
            let productName = try await shop.call(.POST, "/product", token: admin, json: #"{"name":"Bad\u0000","price":1,"category":"c"}"#)
            #expect(productName.status == 422)
            #expect(Self.json(productName)["field"] as? String == "name")

            #expect(try await shop.call(.POST, "/basket", token: swn, json: #"{"userName":"swn","items":[{"productId":"\#(cheap)","quantity":2}]}"#).status == 200)
            for (field, value) in [("firstName", #"Ada\u0000"#), ("lastName", #"L\u202Eace"#), ("address", #"a\u2028b"#), ("email", #"a\u0000@example.com"#)] {
                let body = #"{"userName":"swn","firstName":"Ada","lastName":"L","email":"a@example.com","address":"1 St","paymentMethod":"card","cardInfo":"4111111111111111"}"#
                    .replacingOccurrences(of: #""\#(field)":"#, with: #""\#(field)":"\#(value)","ignored":"#)
                let response = try await shop.call(.POST, "/basket/checkout", token: swn, json: body)
                #expect(response.status == 422, "\(field)")
                #expect(Self.json(response)["field"] as? String == field)
            }
            let basket = Self.json(try await shop.call(.GET, "/basket/swn", token: swn))
            #expect((basket["items"] as? [Any])?.count == 1, "a refused checkout leaves the basket as it was")
        }
    }

    @Test func theGatewayThrottlesPerUserAndPerAddress() async throws {
        try await ShopUnderGateway.run(gatewaySettings: [
            "RATE_LIMIT_USER_PER_SECOND": "5", "RATE_LIMIT_USER_BURST": "10",
            "RATE_LIMIT_ADDRESS_PER_SECOND": "5", "RATE_LIMIT_ADDRESS_BURST": "10",
        ]) { shop in
            let swn = try await Self.token(shop, "swn")
            var statuses: [Int] = []
            var retryAfter: String?
            for _ in 0..<30 {
                let response = try await shop.call(.GET, "/basket/swn", token: swn)
                statuses.append(response.status)
                if response.status == 429 { retryAfter = response.header("Retry-After") }
            }
            #expect(statuses.prefix(10).allSatisfy { $0 == 200 }, "a burst goes through")
            #expect(statuses.contains(429))
            #expect(retryAfter.flatMap(Int.init).map { $0 >= 1 } == true)
            // Another user has their own bucket; anonymous calls are counted per address.
            let other = try await Self.token(shop, "ann")
            #expect(try await shop.call(.GET, "/basket/ann", token: other).status == 200)
            var anonymous: [Int] = []
            for _ in 0..<30 { anonymous.append(try await shop.call(.GET, "/product").status) }
            #expect(anonymous.contains(429))
            try await Task.sleep(for: .milliseconds(1100))
            #expect(try await shop.call(.GET, "/basket/swn", token: swn).status == 200, "the bucket refills")
            // A refused token is no way around the address's limit: 401s, then 429.
            var junk: [Int] = []
            for _ in 0..<30 { junk.append(try await shop.call(.GET, "/product", token: "junk").status) }
            #expect(junk.contains(401) && junk.contains(429), "junk tokens are counted per address: \(junk)")
        }
    }

    @Test func slowClientsCannotStarveTheCatalog() async throws {
        try await ShopUnderGateway.run(gatewaySettings: ["BODY_TIMEOUT_MS": "2000", "HEADER_TIMEOUT_MS": "2000", "UPSTREAM_CONNECTIONS": "4"]) { shop in
            // Twelve signed-in clients announce a large body and trickle it; others keep reading the catalog.
            var tokens: [String] = []
            for n in 0..<12 { tokens.append(try await Self.token(shop, "slow\(n)")) }
            let slow = Task { [tokens] in
                try await withThrowingTaskGroup(of: Int.self) { group in
                    for token in tokens {
                        group.addTask {
                            try await HTTP.raw(port: shop.gatewayPort, [
                                "POST /basket HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(token)\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n",
                                "a", "b", "c", "d", "e", "f",
                            ], delays: 1)
                        }
                    }
                    var statuses: [Int] = []
                    for try await status in group { statuses.append(status) }
                    return statuses
                }
            }
            try await Task.sleep(for: .milliseconds(300))
            let start = ContinuousClock.now
            for _ in 0..<10 { #expect(try await shop.call(.GET, "/product").status == 200) }
            #expect(ContinuousClock.now - start < .seconds(2), "the catalog answers while slow clients wait")
            let statuses = try await slow.value
            #expect(statuses.allSatisfy { $0 == 408 || $0 == 0 }, "slow bodies time out: \(statuses)")
            // A request head trickled byte by byte is cut off too.
            let head = try await HTTP.raw(port: shop.gatewayPort, ["GET /pro", "duct HT", "TP/1.1\r\n", "Host: x\r\n"], delays: 1, readTimeout: 10)
            #expect(head == 0, "the connection is closed without an answer")
        }
    }

    @Test func unsupportedMethodsAre405WithAllowAndOddInputIs4xx() async throws {
        try await ShopUnderGateway.run { shop in
            let swn = try await Self.token(shop, "swn")
            let admin = try await Self.token(shop, "admin", groups: ["admin"])
            for (method, path) in [("TRACE", "/health"), ("POST", "/ready"), ("DELETE", "/openapi.yaml")] {
                let response = try await HTTP.send(.init(rawValue: method), shop.gateway + path)
                #expect(response.status == 405, "\(method) \(path)")
                #expect(response.headers.contains { $0.0.lowercased() == "allow" && $0.1.contains("GET") }, "\(method) \(path)")
            }
            let head = try await HTTP.send(.HEAD, shop.gateway + "/product")
            #expect(head.status == 200 && head.body.isEmpty)
            for path in ["/health", "/ready", "/openapi.yaml"] {
                #expect(try await HTTP.send(.HEAD, shop.gateway + path).status == 200, "HEAD \(path)")
            }
            let spaced = try await shop.call(.GET, "/basket/a%20b", token: admin)
            #expect(spaced.status == 400)
            #expect(Self.json(spaced)["field"] as? String == "userName")
            #expect(try await HTTP.send(.HEAD, shop.gateway + "/basket/swn", token: swn).status == 200)
            for path in ["/product?category=%00", "/basket?cursor=%00", "/order?cursor=a%0Ab", "/product?category=%E9"] {
                let response = try await shop.call(.GET, path, token: admin)
                #expect(response.status == 400, "\(path)")
                #expect(Self.json(response)["field"] != nil, "\(path) names the parameter")
            }
            let long = String(repeating: "a", count: 129)
            #expect(try await shop.call(.GET, "/basket/\(long)", token: admin).status == 400)
            #expect(try await shop.call(.DELETE, "/basket/\(long)", token: admin).status == 400)
            #expect(try await shop.call(.GET, "/order/a%20b", token: admin).status == 400)
            let marks = "e" + String(repeating: "\u{301}", count: 300)
            let body = #"{"name":"\#(marks)","price":1,"category":"c"}"#
            let product = try await shop.call(.POST, "/product", token: admin, json: body)
            #expect(product.status == 422, "length counts code points, not grapheme clusters")

            for (method, path) in [("TRACE", "/product"), ("PATCH", "/product/\(UUID())"), ("PUT", "/basket"), ("GET", "/basket/checkout")] {
                let response = try await HTTP.send(.init(rawValue: method), shop.gateway + path)
                #expect(response.status == 405, "\(method) \(path)")
                #expect(response.headers.contains { $0.0.lowercased() == "allow" }, "\(method) \(path)")
            }
        }
    }
}
