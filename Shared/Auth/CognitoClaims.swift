import Foundation
import JWTKit

/// The claims of a Cognito ID or access token. Checks beyond the signature are `TokenVerifier`'s,
/// so that each failure has its own reason.
package struct CognitoClaims: JWTPayload, Equatable {
    package var iss: String
    package var sub: String
    package var exp: Double
    package var iat: Double?
    package var nbf: Double?
    package var authTime: Double?
    package var tokenUse: String
    package var aud: Audience?
    package var clientId: String?
    package var cognitoUsername: String?
    package var username: String?
    package var groups: [String]?
    package var jti: String?
    package var email: String?
    package var scope: String?

    enum CodingKeys: String, CodingKey {
        case iss, sub, exp, iat, nbf, aud, jti, email, scope, username
        case authTime = "auth_time", tokenUse = "token_use", clientId = "client_id"
        case cognitoUsername = "cognito:username", groups = "cognito:groups"
    }

    package init(
        iss: String, sub: String, exp: Double, iat: Double? = nil, nbf: Double? = nil, authTime: Double? = nil,
        tokenUse: String, aud: Audience? = nil, clientId: String? = nil, cognitoUsername: String? = nil,
        username: String? = nil, groups: [String]? = nil, jti: String? = nil, email: String? = nil, scope: String? = nil
    ) {
        self.iss = iss; self.sub = sub; self.exp = exp; self.iat = iat; self.nbf = nbf; self.authTime = authTime
        self.tokenUse = tokenUse; self.aud = aud; self.clientId = clientId; self.cognitoUsername = cognitoUsername
        self.username = username; self.groups = groups; self.jti = jti; self.email = email; self.scope = scope
    }

    package func verify(using algorithm: some JWTAlgorithm) async throws {}

    /// `aud` is a string in Cognito tokens, but may be a list in others.
    package enum Audience: Codable, Sendable, Equatable {
        case one(String)
        case many([String])

        package init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let one = try? container.decode(String.self) { self = .one(one) } else { self = .many(try container.decode([String].self)) }
        }

        package func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            switch self {
            case .one(let value): try container.encode(value)
            case .many(let values): try container.encode(values)
            }
        }

        package func contains(_ value: String) -> Bool {
            switch self {
            case .one(let one): one == value
            case .many(let many): many.contains(value)
            }
        }
    }
}
