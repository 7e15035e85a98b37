import Auth
import Crypto
import Foundation
import HTTPTypes
import HummingbirdTesting
import JWTKit
import NIOCore
import ServiceKit
import CryptoExtras

/// A user pool for tests that do not run `identity`: one RSA key, its JWKS (given to services as
/// `COGNITO_JWKS`), and tokens signed with it for any user and groups.
package enum TestTokens {
    package static let issuer = "http://127.0.0.1:9/test_pool"
    package static let clientID = "swnshoplocalclient"
    static let kid = "test-key"
    static let privateKey = try! Insecure.RSA.PrivateKey(backing: _RSA.Signing.PrivateKey(keySize: .bits2048))

    /// The pool's public keys as a JWKS document.
    package static let jwks: String = {
        let primitives = try! privateKey.publicKey.getKeyPrimitives()
        let key: [String: String] = [
            "kty": "RSA", "alg": "RS256", "use": "sig", "kid": kid,
            "n": primitives.modulus.base64URLEncoded, "e": primitives.publicExponent.base64URLEncoded,
        ]
        return String(decoding: try! JSONSerialization.data(withJSONObject: ["keys": [key]]), as: UTF8.self)
    }()

    /// What a service needs to trust these tokens.
    package static var configuration: TokenVerifier.Configuration {
        var configuration = TokenVerifier.Configuration(issuer: issuer, jwksURL: "\(issuer)/.well-known/jwks.json", clientID: clientID)
        configuration.staticJWKS = jwks
        return configuration
    }

    /// The same, as the environment of a service process.
    package static var environment: [String: String] {
        ["COGNITO_ISSUER": issuer, "COGNITO_CLIENT_ID": clientID, "COGNITO_JWKS": jwks]
    }

    /// An ID token for `user` in `groups`.
    package static func token(_ user: String, groups: [String] = [], lifetime: TimeInterval = 600) async throws -> String {
        let now = Date().timeIntervalSince1970
        let claims = CognitoClaims(
            iss: issuer, sub: UUID().uuidString, exp: now + lifetime, iat: now, authTime: now, tokenUse: "id",
            aud: .one(clientID), cognitoUsername: user, groups: groups.isEmpty ? nil : groups, jti: UUID().uuidString
        )
        let keys = JWTKeyCollection()
        await keys.add(rsa: privateKey, digestAlgorithm: .sha256, kid: JWKIdentifier(string: kid))
        return try await keys.sign(claims, kid: JWKIdentifier(string: kid))
    }

    package static func admin() async throws -> String { try await token("admin", groups: ["admin"]) }
}

/// A test client that sends every request with `Authorization: Bearer <token>` unless the request
/// sets its own.
package struct SignedClient: TestClientProtocol {
    package let base: any TestClientProtocol
    package let token: String?

    package init(_ base: any TestClientProtocol, token: String?) {
        self.base = base
        self.token = token
    }

    package func executeRequest(uri: String, method: HTTPRequest.Method, headers: HTTPFields, body: ByteBuffer?) async throws -> TestResponse {
        var headers = headers
        if let token, headers[.authorization] == nil { headers[.authorization] = "Bearer \(token)" }
        return try await base.executeRequest(uri: uri, method: method, headers: headers, body: body)
    }

    package var port: Int? { base.port }

    /// The same client acting as someone else (nil: anonymous).
    package func signed(_ token: String?) -> SignedClient { SignedClient(base, token: token) }
}
