import CryptoExtras
import Foundation
import JWTKit
import Logging
import PostgresNIO
import ServiceKit

/// The pool's RS256 signing key, created once and kept in the database so that tokens stay valid
/// across restarts and replicas.
package struct SigningKeys: Sendable {
    package let kid: String
    package let privateKey: JWTKit.Insecure.RSA.PrivateKey

    /// Loads the first key, creating one if there is none (two instances racing agree on the first).
    package static func load(client: DatabasePool, logger: Logger) async throws -> SigningKeys {
        if let existing = try await first(client: client, logger: logger) { return existing }
        let key = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        let kid = UUID().uuidString.lowercased()
        try await client.query(
            "INSERT INTO signing_keys (kid, private_key_pem) VALUES (\(kid), \(key.pemRepresentation))",
            logger: logger
        )
        return try await first(client: client, logger: logger)!
    }

    private static func first(client: DatabasePool, logger: Logger) async throws -> SigningKeys? {
        let rows = try await client.query(
            "SELECT kid, private_key_pem FROM signing_keys ORDER BY created_at, kid LIMIT 1",
            logger: logger
        )
        for try await (kid, pem) in rows.decode((String, String).self) {
            return SigningKeys(kid: kid, privateKey: try JWTKit.Insecure.RSA.PrivateKey(pem: pem))
        }
        return nil
    }

    /// The public half as a JWKS document.
    package func jwks() throws -> [String: [[String: String]]] {
        let primitives = try privateKey.publicKey.getKeyPrimitives()
        return ["keys": [[
            "kty": "RSA", "alg": "RS256", "use": "sig", "kid": kid,
            "n": primitives.modulus.base64URLEncoded, "e": primitives.publicExponent.base64URLEncoded,
        ]]]
    }
}
