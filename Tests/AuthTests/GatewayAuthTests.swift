import Auth
import Crypto
import CryptoExtras
import Foundation
import JWTKit
import PostgresNIO
import ServiceKit
import Testing
import TestSupport

@testable import IdentityService

/// Attacks on the gateway's token checks, the contract's authorization rules, and tokens from a
/// Cognito-protocol peer (awscli) and from a pool nobody here wrote (moto).
@Suite(.serialized) struct GatewayAuthTests {
    /// The identity service's real signing key, to forge tokens that differ in one claim only.
    static func signingKey(_ shop: ShopUnderGateway) async throws -> SigningKeys {
        try await withTemporaryPostgresClient(shop.identityDatabase, logger: TestDatabase.logger) { client in
            try await SigningKeys.load(client: client, logger: TestDatabase.logger)
        }
    }

    static func claims(_ shop: ShopUnderGateway, change: (inout CognitoClaims) -> Void = { _ in }) -> CognitoClaims {
        let now = Date().timeIntervalSince1970
        var claims = CognitoClaims(
            iss: shop.issuer, sub: UUID().uuidString, exp: now + 600, iat: now, authTime: now, tokenUse: "id",
            aud: .one("swnshoplocalclient"), cognitoUsername: "swn", jti: UUID().uuidString
        )
        change(&claims)
        return claims
    }

    static func sign(_ claims: CognitoClaims, with key: SigningKeys, kid: String? = nil) async throws -> String {
        let keys = JWTKeyCollection()
        await keys.add(rsa: key.privateKey, digestAlgorithm: .sha256, kid: JWKIdentifier(string: kid ?? key.kid))
        return try await keys.sign(claims, kid: JWKIdentifier(string: kid ?? key.kid))
    }

    static func encode(_ object: [String: Any]) throws -> String {
        try JSONSerialization.data(withJSONObject: object).base64URLEncoded
    }

    @Test func everyForgedOrInvalidTokenIs401() async throws {
        try await ShopUnderGateway.run { shop in
            let key = try await Self.signingKey(shop)
            let valid = try await Self.sign(Self.claims(shop), with: key)
            #expect(try await shop.call(.GET, "/basket/swn", token: valid).status == 200, "the control token works")

            var attacks: [(String, String?)] = [("no token", nil), ("garbage", "not.a.jwt"), ("empty", "")]
            attacks.append(("expired", try await Self.sign(Self.claims(shop) { $0.exp = Date().timeIntervalSince1970 - 3600 }, with: key)))
            attacks.append(("not yet valid", try await Self.sign(Self.claims(shop) { $0.nbf = Date().timeIntervalSince1970 + 3600 }, with: key)))
            attacks.append(("wrong issuer", try await Self.sign(Self.claims(shop) { $0.iss = "http://evil.example/local_swn" }, with: key)))
            attacks.append(("wrong client", try await Self.sign(Self.claims(shop) { $0.aud = .one("someoneelse") }, with: key)))
            attacks.append(("wrong token_use", try await Self.sign(Self.claims(shop) { $0.tokenUse = "refresh" }, with: key)))
            attacks.append(("access token of another client", try await Self.sign(Self.claims(shop) { $0.tokenUse = "access"; $0.aud = nil; $0.clientId = "other" }, with: key)))

            let parts = valid.split(separator: ".").map(String.init)
            let tamperedPayload = try Self.encode(["iss": shop.issuer, "sub": "x", "exp": Date().timeIntervalSince1970 + 600,
                                                   "token_use": "id", "aud": "swnshoplocalclient", "cognito:username": "admin",
                                                   "cognito:groups": ["admin"]])
            attacks.append(("tampered payload", "\(parts[0]).\(tamperedPayload).\(parts[2])"))

            let stranger = try SigningKeys(kid: "unknown-kid", privateKey: JWTKit.Insecure.RSA.PrivateKey(backing: _RSA.Signing.PrivateKey(keySize: .bits2048)))
            attacks.append(("unknown kid", try await Self.sign(Self.claims(shop), with: stranger)))
            attacks.append(("right kid, other key", try await Self.sign(Self.claims(shop), with: stranger, kid: key.kid)))

            let noneHeader = try Self.encode(["alg": "none", "kid": key.kid, "typ": "JWT"])
            attacks.append(("alg none", "\(noneHeader).\(parts[1])."))

            let hsHeader = try Self.encode(["alg": "HS256", "kid": key.kid, "typ": "JWT"])
            let publicPEM = key.privateKey.publicKey.pemRepresentation
            let mac = HMAC<SHA256>.authenticationCode(for: Data("\(hsHeader).\(parts[1])".utf8), using: SymmetricKey(data: Data(publicPEM.utf8)))
            attacks.append(("HS256 signed with the public key", "\(hsHeader).\(parts[1]).\(Data(mac).base64URLEncoded)"))

            for (name, token) in attacks {
                let response = try await shop.call(.GET, "/basket/swn", token: token)
                #expect(response.status == 401, "\(name)")
                #expect(response.headers.contains { $0.0.lowercased() == "content-type" && $0.1 == "application/problem+json" }, "\(name)")
            }
        }
    }

    @Test func customersReachOnlyTheirOwnDataAndAdminsReachAll() async throws {
        try await ShopUnderGateway.run { shop in
            let swn = try await shop.signIn("swn", "Swn-Passw0rd!")
            let admin = try await shop.signIn("admin", "Admin-Passw0rd!")

            #expect(try await shop.call(.GET, "/product").status == 200, "product reads are public")
            let openAPI = try await shop.call(.GET, "/openapi.yaml")
            #expect(openAPI.status == 200)
            #expect(String(decoding: openAPI.body, as: UTF8.self).hasPrefix("openapi: 3.1"))
            let created = try await shop.call(.POST, "/product", token: admin.id, json: #"{"name":"Lamp","price":12.50,"category":"Home"}"#)
            #expect(created.status == 201)
            let productId = (try JSONSerialization.jsonObject(with: created.body) as? [String: Any])?["id"] as? String ?? ""
            #expect(try await shop.call(.POST, "/product", token: swn.id, json: #"{"name":"X","price":1,"category":"c"}"#).status == 403)
            #expect(try await shop.call(.DELETE, "/product/\(productId)", token: swn.access).status == 403)
            #expect(try await shop.call(.POST, "/product", json: #"{"name":"X","price":1,"category":"c"}"#).status == 401)

            let basket = #"{"userName":"swn","items":[{"productId":"\#(productId)","quantity":2}]}"#
            #expect(try await shop.call(.POST, "/basket", token: swn.access, json: basket).status == 200, "access tokens work too")
            #expect(try await shop.call(.GET, "/basket/swn", token: swn.id).status == 200)
            #expect(try await shop.call(.GET, "/basket/admin", token: swn.id).status == 403)
            #expect(try await shop.call(.POST, "/basket", token: swn.id, json: basket.replacingOccurrences(of: "\"swn\"", with: "\"admin\"")).status == 403)
            #expect(try await shop.call(.GET, "/basket", token: swn.id).status == 403)
            #expect(try await shop.call(.GET, "/order", token: swn.id).status == 403)
            #expect(try await shop.call(.GET, "/order/admin", token: swn.id).status == 403)
            #expect(try await shop.call(.GET, "/order/swn", token: swn.id).status == 200)

            #expect(try await shop.call(.GET, "/basket", token: admin.id).status == 200)
            #expect(try await shop.call(.GET, "/order", token: admin.id).status == 200)
            #expect(try await shop.call(.GET, "/basket/swn", token: admin.id).status == 200)

            let checkout = try await shop.call(.POST, "/basket/checkout", token: swn.id, json: """
                {"userName":"swn","firstName":"S","lastName":"W","email":"swn@example.com","address":"a","paymentMethod":"card","cardInfo":"4111111111111111"}
                """)
            #expect(checkout.status == 202)
            #expect(checkout.headers.contains { $0.0.lowercased() == "x-request-id" })
        }
    }

    @Test func identityHeadersFromClientsAreIgnored() async throws {
        try await ShopUnderGateway.run { shop in
            let forged = [("X-Swn-User", "admin"), ("X-Swn-Groups", "admin")]
            #expect(try await shop.call(.GET, "/order", headers: forged).status == 401)
            let swn = try await shop.signIn("swn", "Swn-Passw0rd!")
            #expect(try await shop.call(.GET, "/order", token: swn.id, headers: forged).status == 403)
            #expect(try await shop.call(.GET, "/basket/admin", token: swn.id, headers: forged).status == 403)
        }
    }

    @Test func refreshTokensAndAwsCliSignInWork() async throws {
        try await ShopUnderGateway.run { shop in
            let output = try await runTool("aws", [
                "cognito-idp", "initiate-auth", "--endpoint-url", shop.identity, "--region", "us-east-1",
                "--client-id", "swnshoplocalclient", "--auth-flow", "USER_PASSWORD_AUTH",
                "--auth-parameters", "USERNAME=swn,PASSWORD=Swn-Passw0rd!", "--output", "json",
            ])
            let result = (try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any])?["AuthenticationResult"] as? [String: Any]
            let idToken = try #require(result?["IdToken"] as? String)
            #expect(try await shop.call(.GET, "/basket/swn", token: idToken).status == 200)

            let refresh = try #require(result?["RefreshToken"] as? String)
            let refreshed = try await runTool("aws", [
                "cognito-idp", "initiate-auth", "--endpoint-url", shop.identity, "--region", "us-east-1",
                "--client-id", "swnshoplocalclient", "--auth-flow", "REFRESH_TOKEN_AUTH",
                "--auth-parameters", "REFRESH_TOKEN=\(refresh)", "--output", "json",
            ])
            #expect(refreshed.contains("AccessToken"))

            let wrong = try await runTool("aws", [
                "cognito-idp", "initiate-auth", "--endpoint-url", shop.identity, "--region", "us-east-1",
                "--client-id", "swnshoplocalclient", "--auth-flow", "USER_PASSWORD_AUTH",
                "--auth-parameters", "USERNAME=swn,PASSWORD=nope",
            ], expectFailure: true)
            #expect(wrong.contains("NotAuthorizedException"))
        }
    }

    @Test func tokensFromAMotoCognitoPoolVerifyWhenTheGatewayIsConfiguredForIt() async throws {
        try await withMotoServer { endpoint in
            let script = repositoryRoot.appendingPathComponent("scripts/moto_cognito_tokens.py").path
            let output = try await runTool("python3", [script, endpoint])
            let pool = try #require(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: String])

            try await ShopUnderGateway.run(gatewayTokens: { _ in
                .init(issuer: pool["issuer"]!, jwksURL: pool["jwksURL"]!, clientID: pool["clientId"]!)
            }) { shop in
                #expect(try await shop.call(.GET, "/basket/motouser", token: pool["idToken"]).status == 200)
                #expect(try await shop.call(.GET, "/order", token: pool["accessToken"]).status == 200, "moto's user is in group admin")
                let local = try await shop.signIn("swn", "Swn-Passw0rd!")
                #expect(try await shop.call(.GET, "/basket/swn", token: local.id).status == 401, "the local pool is not trusted now")
            }
        }
    }
}

extension GatewayAuthTests {
    /// `RevokeToken` and `GlobalSignOut` as Cognito has them, through the AWS CLI: a revoked refresh token
    /// (and, after a global sign-out, every one of the user's) no longer gets tokens.
    @Test func refreshTokensCanBeRevoked() async throws {
        try await ShopUnderGateway.run { shop in
            func signIn() async throws -> [String: Any] {
                let output = try await runTool("aws", [
                    "cognito-idp", "initiate-auth", "--endpoint-url", shop.identity, "--region", "us-east-1",
                    "--client-id", "swnshoplocalclient", "--auth-flow", "USER_PASSWORD_AUTH",
                    "--auth-parameters", "USERNAME=swn,PASSWORD=Swn-Passw0rd!", "--output", "json",
                ])
                return try #require((try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any])?["AuthenticationResult"] as? [String: Any])
            }
            func refresh(_ token: String) async throws -> String {
                try await runTool("aws", [
                    "cognito-idp", "initiate-auth", "--endpoint-url", shop.identity, "--region", "us-east-1",
                    "--client-id", "swnshoplocalclient", "--auth-flow", "REFRESH_TOKEN_AUTH",
                    "--auth-parameters", "REFRESH_TOKEN=\(token)", "--output", "json",
                ], expectFailure: true)
            }
            let first = try await signIn()
            let second = try await signIn()
            let firstRefresh = try #require(first["RefreshToken"] as? String)
            let secondRefresh = try #require(second["RefreshToken"] as? String)
            #expect(try await refresh(firstRefresh).contains("AccessToken"))

            _ = try await runTool("aws", [
                "cognito-idp", "revoke-token", "--endpoint-url", shop.identity, "--region", "us-east-1",
                "--client-id", "swnshoplocalclient", "--token", firstRefresh,
            ])
            #expect(try await refresh(firstRefresh).contains("NotAuthorizedException"), "the revoked one")
            #expect(try await refresh(secondRefresh).contains("AccessToken"), "another device's stays")

            let access = try #require(second["AccessToken"] as? String)
            _ = try await runTool("aws", [
                "cognito-idp", "global-sign-out", "--endpoint-url", shop.identity, "--region", "us-east-1", "--access-token", access,
            ])
            #expect(try await refresh(secondRefresh).contains("NotAuthorizedException"), "every device after a global sign-out")
        }
    }
}
