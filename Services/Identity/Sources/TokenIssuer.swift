import Auth
import Crypto
import Foundation
import JWTKit

/// Issues Cognito-shaped ID, access and refresh tokens.
package struct TokenIssuer: Sendable {
    let keys: JWTKeyCollection
    let kid: String
    let issuer: String
    let clientID: String
    let lifetime: Duration

    package init(signingKeys: SigningKeys, issuer: String, clientID: String, lifetime: Duration) async {
        let keys = JWTKeyCollection()
        await keys.add(rsa: signingKeys.privateKey, digestAlgorithm: .sha256, kid: JWKIdentifier(string: signingKeys.kid))
        self.keys = keys
        self.kid = signingKeys.kid
        self.issuer = issuer
        self.clientID = clientID
        self.lifetime = lifetime
    }

    package struct Tokens: Sendable {
        package var idToken: String
        package var accessToken: String
        package var expiresIn: Int
    }

    package func issue(for user: PoolUser, authTime: Date = Date(), now: Date = Date()) async throws -> Tokens {
        let iat = now.timeIntervalSince1970.rounded(.down)
        let exp = iat + Double(lifetime.components.seconds)
        let groups = user.groups.isEmpty ? nil : user.groups
        let auth = authTime.timeIntervalSince1970.rounded(.down)
        let id = CognitoClaims(
            iss: issuer, sub: user.sub.uuidString.lowercased(), exp: exp, iat: iat, authTime: auth, tokenUse: "id",
            aud: .one(clientID), cognitoUsername: user.username, groups: groups, jti: UUID().uuidString.lowercased(), email: user.email
        )
        let access = CognitoClaims(
            iss: issuer, sub: user.sub.uuidString.lowercased(), exp: exp, iat: iat, authTime: auth, tokenUse: "access",
            clientId: clientID, username: user.username, groups: groups, jti: UUID().uuidString.lowercased(),
            scope: "aws.cognito.signin.user.admin"
        )
        let kid = JWKIdentifier(string: kid)
        return Tokens(
            idToken: try await keys.sign(id, kid: kid),
            accessToken: try await keys.sign(access, kid: kid),
            expiresIn: Int(lifetime.components.seconds)
        )
    }

    /// The claims of an access token this pool issued, or nil.
    package func verifiedAccessToken(_ token: String) async -> CognitoClaims? {
        guard let claims = try? await keys.verify(token, as: CognitoClaims.self),
              claims.iss == issuer, claims.tokenUse == "access", claims.exp > Date().timeIntervalSince1970
        else { return nil }
        return claims
    }

    /// A random opaque refresh token and the hash kept of it.
    package static func makeRefreshToken() -> (token: String, hash: String) {
        var bytes = [UInt8](repeating: 0, count: 48)
        var generator = SystemRandomNumberGenerator()
        for index in bytes.indices { bytes[index] = UInt8.random(in: 0...255, using: &generator) }
        let token = Data(bytes).base64URLEncoded
        return (token, hash(token))
    }

    package static func hash(_ refreshToken: String) -> String {
        SHA256.hash(data: Data(refreshToken.utf8)).map { String(format: "%02x", $0) }.joined()
    }
}
