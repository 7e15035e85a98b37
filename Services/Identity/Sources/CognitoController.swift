import Auth
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import ServiceKit

/// The Cognito Identity Provider JSON protocol on `POST /`, the action named by `X-Amz-Target`.
package struct CognitoController: Sendable {
    let users: UserStore
    let issuer: TokenIssuer
    let hasher: PasswordHasher
    let config: IdentityConfig
    let signingKeys: SigningKeys

    package init(users: UserStore, issuer: TokenIssuer, hasher: PasswordHasher, config: IdentityConfig, signingKeys: SigningKeys) {
        self.users = users
        self.issuer = issuer
        self.hasher = hasher
        self.config = config
        self.signingKeys = signingKeys
    }

    static let targetPrefix = "AWSCognitoIdentityProviderService."
    static let refreshTokenLifetime: TimeInterval = 30 * 86_400

    package func addRoutes(to router: Router<AppRequestContext>) {
        router.post("/", use: dispatch)
        router.get("/\(config.userPoolID)/.well-known/jwks.json") { _, _ in
            try Self.json(try signingKeys.jwks(), contentType: "application/json")
        }
        router.get("/\(config.userPoolID)/.well-known/openid-configuration") { _, _ in
            try Self.json([
                "issuer": config.issuer,
                "jwks_uri": "\(config.issuer)/.well-known/jwks.json",
                "id_token_signing_alg_values_supported": ["RS256"],
                "subject_types_supported": ["public"],
                "response_types_supported": ["code", "token"],
            ] as [String: Any], contentType: "application/json")
        }
    }

    @Sendable func dispatch(_ request: Request, context: AppRequestContext) async throws -> Response {
        guard let target = request.headers[HTTPField.Name("X-Amz-Target")!], target.hasPrefix(Self.targetPrefix) else {
            throw CognitoError("UnknownOperationException", "missing or unknown X-Amz-Target")
        }
        let buffer = try await request.body.collect(upTo: 64 * 1024)
        guard let body = try? JSONSerialization.jsonObject(with: Data(buffer: buffer)) as? [String: Any] else {
            throw CognitoError.invalidParameter("request body is not a JSON object")
        }
        let input = Input(body)
        let action = String(target.dropFirst(Self.targetPrefix.count))
        switch action {
        case "InitiateAuth": return try Self.json(try await initiateAuth(input))
        case "SignUp": return try Self.json(try await signUp(input))
        case "GetUser": return try Self.json(try await getUser(input))
        case "AdminCreateUser", "AdminSetUserPassword", "AdminAddUserToGroup", "AdminGetUser":
            try requireAdmin(request)
            try input.requirePool(config.userPoolID)
            switch action {
            case "AdminCreateUser": return try Self.json(try await adminCreateUser(input))
            case "AdminSetUserPassword": return try Self.json(try await adminSetUserPassword(input))
            case "AdminAddUserToGroup": return try Self.json(try await adminAddUserToGroup(input))
            default: return try Self.json(try await adminGetUser(input))
            }
        default:
            throw CognitoError("UnknownOperationException", "\(action) is not supported by this local user pool")
        }
    }

    // MARK: actions

    func initiateAuth(_ input: Input) async throws -> [String: Any] {
        try requireClient(input)
        let parameters = input.dictionary("AuthParameters")
        switch try input.string("AuthFlow") {
        case "USER_PASSWORD_AUTH":
            guard let username = parameters["USERNAME"] as? String, let password = parameters["PASSWORD"] as? String else {
                throw CognitoError.invalidParameter("Missing required parameter USERNAME or PASSWORD")
            }
            guard let user = try await users.find(username) else { throw CognitoError.notAuthorized() }
            guard let hash = user.passwordHash, hasher.verify(password, against: hash) else { throw CognitoError.notAuthorized() }
            if user.status == "FORCE_CHANGE_PASSWORD" {
                return [
                    "ChallengeName": "NEW_PASSWORD_REQUIRED", "Session": UUID().uuidString,
                    "ChallengeParameters": ["USER_ID_FOR_SRP": user.username, "requiredAttributes": "[]", "userAttributes": "{}"],
                ]
            }
            let tokens = try await issuer.issue(for: user)
            let refresh = TokenIssuer.makeRefreshToken()
            try await users.storeRefreshToken(
                hash: refresh.hash, username: user.username, clientID: config.clientID,
                expiresAt: Date().addingTimeInterval(Self.refreshTokenLifetime)
            )
            return Self.authenticationResult(tokens, refreshToken: refresh.token)
        case "REFRESH_TOKEN_AUTH", "REFRESH_TOKEN":
            guard let token = parameters["REFRESH_TOKEN"] as? String else {
                throw CognitoError.invalidParameter("Missing required parameter REFRESH_TOKEN")
            }
            guard let username = try await users.refreshTokenOwner(hash: TokenIssuer.hash(token), clientID: config.clientID),
                  let user = try await users.find(username)
            else { throw CognitoError.notAuthorized("Invalid Refresh Token") }
            return Self.authenticationResult(try await issuer.issue(for: user), refreshToken: nil)
        case let flow:
            throw CognitoError.invalidParameter("AuthFlow \(flow) is not supported; use USER_PASSWORD_AUTH or REFRESH_TOKEN_AUTH")
        }
    }

    func signUp(_ input: Input) async throws -> [String: Any] {
        try requireClient(input)
        let username = try input.string("Username")
        let password = try input.string("Password")
        if let violation = PasswordPolicy.violation(password) { throw CognitoError.invalidPassword(violation) }
        let email = input.attributes["email"]
        guard try await users.create(username: username, passwordHash: try hasher.hash(password), email: email, status: "CONFIRMED") else {
            throw CognitoError.userExists()
        }
        let user = try await users.find(username)
        // A local pool confirms sign-ups at once: there is no mail to confirm with.
        return ["UserConfirmed": true, "UserSub": user?.sub.uuidString.lowercased() ?? ""]
    }

    func getUser(_ input: Input) async throws -> [String: Any] {
        let token = try input.string("AccessToken")
        guard let claims = await issuer.verifiedAccessToken(token), let name = claims.username,
              let user = try await users.find(name)
        else { throw CognitoError.notAuthorized("Invalid Access Token") }
        return ["Username": user.username, "UserAttributes": Self.attributes(of: user)]
    }

    func adminCreateUser(_ input: Input) async throws -> [String: Any] {
        let username = try input.string("Username")
        var hash: String?
        if let temporary = input.optionalString("TemporaryPassword") {
            if let violation = PasswordPolicy.violation(temporary) { throw CognitoError.invalidPassword(violation) }
            hash = try hasher.hash(temporary)
        }
        guard try await users.create(username: username, passwordHash: hash, email: input.attributes["email"], status: "FORCE_CHANGE_PASSWORD") else {
            throw CognitoError.userExists()
        }
        guard let user = try await users.find(username) else { throw CognitoError.userNotFound() }
        return ["User": Self.describe(user)]
    }

    func adminSetUserPassword(_ input: Input) async throws -> [String: Any] {
        let username = try input.string("Username")
        let password = try input.string("Password")
        if let violation = PasswordPolicy.violation(password) { throw CognitoError.invalidPassword(violation) }
        let permanent = input.body["Permanent"] as? Bool ?? false
        guard try await users.setPassword(username, hash: try hasher.hash(password), status: permanent ? "CONFIRMED" : "FORCE_CHANGE_PASSWORD") else {
            throw CognitoError.userNotFound()
        }
        return [:]
    }

    func adminAddUserToGroup(_ input: Input) async throws -> [String: Any] {
        let username = try input.string("Username")
        let group = try input.string("GroupName")
        guard try await users.find(username) != nil else { throw CognitoError.userNotFound() }
        try await users.addToGroup(username, group: group)
        return [:]
    }

    func adminGetUser(_ input: Input) async throws -> [String: Any] {
        guard let user = try await users.find(try input.string("Username")) else { throw CognitoError.userNotFound() }
        var description = Self.describe(user)
        description["UserAttributes"] = description.removeValue(forKey: "Attributes")
        return description
    }

    // MARK: helpers

    func requireClient(_ input: Input) throws {
        let client = try input.string("ClientId")
        guard client == config.clientID else { throw CognitoError.resourceNotFound("User pool client \(client) does not exist.") }
    }

    /// Admin actions are for operators: a SigV4 `Authorization` header with the configured access key id.
    func requireAdmin(_ request: Request) throws {
        let authorization = request.headers[.authorization] ?? ""
        guard authorization.contains("Credential=\(config.adminAccessKeyID)/") else {
            throw CognitoError("AccessDeniedException", "admin actions need credentials with access key id \(config.adminAccessKeyID)", status: .forbidden)
        }
    }

    static func authenticationResult(_ tokens: TokenIssuer.Tokens, refreshToken: String?) -> [String: Any] {
        var result: [String: Any] = [
            "AccessToken": tokens.accessToken, "IdToken": tokens.idToken, "ExpiresIn": tokens.expiresIn, "TokenType": "Bearer",
        ]
        if let refreshToken { result["RefreshToken"] = refreshToken }
        return ["AuthenticationResult": result, "ChallengeParameters": [String: String]()]
    }

    static func attributes(of user: PoolUser) -> [[String: String]] {
        var attributes = [["Name": "sub", "Value": user.sub.uuidString.lowercased()]]
        if let email = user.email { attributes.append(["Name": "email", "Value": email]) }
        return attributes
    }

    static func describe(_ user: PoolUser) -> [String: Any] {
        [
            "Username": user.username, "Attributes": attributes(of: user), "Enabled": true, "UserStatus": user.status,
            "UserCreateDate": user.createdAt.timeIntervalSince1970, "UserLastModifiedDate": user.updatedAt.timeIntervalSince1970,
        ]
    }

    static func json(_ object: Any, contentType: String = "application/x-amz-json-1.1") throws -> Response {
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        return Response(
            status: .ok,
            headers: [.contentType: contentType, .contentLength: String(data.count)],
            body: .init(byteBuffer: ByteBuffer(bytes: data))
        )
    }

    /// A loosely typed request body with Cognito-style parameter errors.
    struct Input {
        let body: [String: Any]

        init(_ body: [String: Any]) {
            self.body = body
        }

        func string(_ key: String) throws -> String {
            guard let value = body[key] as? String, !value.isEmpty else {
                throw CognitoError.invalidParameter("1 validation error detected: Value at '\(key.prefix(1).lowercased() + key.dropFirst())' failed to satisfy constraint: Member must not be null")
            }
            return value
        }

        func optionalString(_ key: String) -> String? {
            body[key] as? String
        }

        func dictionary(_ key: String) -> [String: Any] {
            body[key] as? [String: Any] ?? [:]
        }

        var attributes: [String: String] {
            var result: [String: String] = [:]
            for attribute in body["UserAttributes"] as? [[String: Any]] ?? [] {
                if let name = attribute["Name"] as? String, let value = attribute["Value"] as? String { result[name] = value }
            }
            return result
        }

        func requirePool(_ poolID: String) throws {
            let pool = try string("UserPoolId")
            guard pool == poolID else { throw CognitoError.resourceNotFound("User pool \(pool) does not exist.") }
        }
    }
}
