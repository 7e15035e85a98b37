import AWS
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
    /// Where the slow hashing runs, bounded.
    let hashing: HashingPool
    /// Sign-in and sign-up attempts per client address, shared by every identity replica.
    let attempts: SharedRateLimiter
    /// A hash to check passwords of unknown users against, so that they cost what a known user's does.
    let decoyHash: String

    package init(users: UserStore, issuer: TokenIssuer, hasher: PasswordHasher, config: IdentityConfig, signingKeys: SigningKeys) throws {
        self.users = users
        self.issuer = issuer
        self.hasher = hasher
        self.config = config
        self.signingKeys = signingKeys
        self.hashing = HashingPool(maximumRunning: config.hashingThreads, maximumWaiting: config.hashingQueueLimit)
        self.attempts = SharedRateLimiter(config.signInRate, scope: "sign-in", client: users.client, logger: users.logger)
        self.decoyHash = try hasher.hash(UUID().uuidString)
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
        if action == "InitiateAuth" || action == "SignUp", await attempts.acquire(context.clientAddress) != nil {
            throw CognitoError("TooManyRequestsException", "Too many requests")
        }
        switch action {
        case "InitiateAuth": return try Self.json(try await initiateAuth(input))
        case "SignUp": return try Self.json(try await signUp(input))
        case "GetUser": return try Self.json(try await getUser(input))
        case "RevokeToken": return try Self.json(try await revokeToken(input))
        case "GlobalSignOut": return try Self.json(try await globalSignOut(input))
        case "AdminCreateUser", "AdminSetUserPassword", "AdminAddUserToGroup", "AdminGetUser":
            try requireAdminSignature(request, body: buffer)
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
            guard let user = try await users.find(username) else {
                // The same work as for a known user, so that timing does not tell which names exist.
                _ = try await verify(password, against: decoyHash)
                throw CognitoError.notAuthorized()
            }
            if let lockedUntil = user.lockedUntil, lockedUntil > Date() {
                throw CognitoError.notAuthorized("Password attempts exceeded")
            }
            guard let hash = user.passwordHash, try await verify(password, against: hash) else {
                let failures = try await users.recordFailedSignIn(user.username)
                throw CognitoError.notAuthorized(SignInLockout.lock(afterFailures: failures) != nil ? "Password attempts exceeded" : "Incorrect username or password.")
            }
            try await users.recordSuccessfulSignIn(user.username)
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
        if let violation = UserNamePolicy.violation(username) { throw CognitoError.invalidParameter(violation) }
        let password = try input.string("Password")
        if let violation = PasswordPolicy.violation(password) { throw CognitoError.invalidPassword(violation) }
        let email = try input.email()
        guard try await users.create(username: username, passwordHash: try await hash(password), email: email, status: "CONFIRMED") else {
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

    /// Cognito's `RevokeToken`: the refresh token (of this app client) can no longer get tokens. An
    /// unknown or already revoked token is not an error, as in Cognito.
    func revokeToken(_ input: Input) async throws -> [String: Any] {
        try requireClient(input)
        let token = try input.string("Token")
        try await users.revokeRefreshToken(hash: TokenIssuer.hash(token), clientID: config.clientID)
        return [:]
    }

    /// Cognito's `GlobalSignOut`: every refresh token of the access token's user is revoked (every device).
    func globalSignOut(_ input: Input) async throws -> [String: Any] {
        let token = try input.string("AccessToken")
        guard let claims = await issuer.verifiedAccessToken(token), let name = claims.username else {
            throw CognitoError.notAuthorized("Invalid Access Token")
        }
        try await users.revokeRefreshTokens(name)
        return [:]
    }

    func adminCreateUser(_ input: Input) async throws -> [String: Any] {
        let username = try input.string("Username")
        if let violation = UserNamePolicy.violation(username) { throw CognitoError.invalidParameter(violation) }
        var hash: String?
        if let temporary = input.optionalString("TemporaryPassword") {
            if let violation = PasswordPolicy.violation(temporary) { throw CognitoError.invalidPassword(violation) }
            hash = try await self.hash(temporary)
        }
        guard try await users.create(username: username, passwordHash: hash, email: try input.email(), status: "FORCE_CHANGE_PASSWORD") else {
            throw CognitoError.userExists()
        }
        guard let user = try await users.find(username) else { throw CognitoError.userNotFound() }
        return ["User": Self.describe(user)]
    }

    func adminSetUserPassword(_ input: Input) async throws -> [String: Any] {
        guard let user = try await users.find(try input.string("Username")) else { throw CognitoError.userNotFound() }
        let password = try input.string("Password")
        if let violation = PasswordPolicy.violation(password) { throw CognitoError.invalidPassword(violation) }
        let permanent = input.body["Permanent"] as? Bool ?? false
        guard try await users.setPassword(user.username, hash: try await hash(password), status: permanent ? "CONFIRMED" : "FORCE_CHANGE_PASSWORD") else {
            throw CognitoError.userNotFound()
        }
        // A new password ends the sessions of the old one.
        try await users.revokeRefreshTokens(user.username)
        return [:]
    }

    func adminAddUserToGroup(_ input: Input) async throws -> [String: Any] {
        guard let user = try await users.find(try input.string("Username")) else { throw CognitoError.userNotFound() }
        let group = try input.string("GroupName")
        guard TextRules.isWord(group, maximumLength: 128) else {
            throw CognitoError.invalidParameter("1 validation error detected: Value at 'groupName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\p{L}\\p{M}\\p{S}\\p{N}\\p{P}]+")
        }
        try await users.addToGroup(user.username, group: group)
        return [:]
    }

    func adminGetUser(_ input: Input) async throws -> [String: Any] {
        guard let user = try await users.find(try input.string("Username")) else { throw CognitoError.userNotFound() }
        var description = Self.describe(user)
        description["UserAttributes"] = description.removeValue(forKey: "Attributes")
        return description
    }

    // MARK: helpers

    func hash(_ password: String) async throws -> String {
        let hasher = self.hasher
        do {
            return try await hashing.run { try hasher.hash(password) }
        } catch is HashingPool.Saturated {
            throw CognitoError("TooManyRequestsException", "Too many requests")
        }
    }

    func verify(_ password: String, against stored: String) async throws -> Bool {
        let hasher = self.hasher
        do {
            return try await hashing.run { hasher.verify(password, against: stored) }
        } catch is HashingPool.Saturated {
            throw CognitoError("TooManyRequestsException", "Too many requests")
        }
    }

    func requireClient(_ input: Input) throws {
        let client = try input.string("ClientId")
        guard client == config.clientID else { throw CognitoError.resourceNotFound("User pool client \(client) does not exist.") }
    }

    /// Admin actions are for operators: a valid SigV4 signature (service `cognito-idp`, the pool's
    /// region) made with the configured admin key pair, as Cognito requires IAM credentials.
    func requireAdminSignature(_ request: Request, body: ByteBuffer) throws {
        guard let keyID = config.adminAccessKeyID, let secret = config.adminSecretAccessKey else {
            throw CognitoError("AccessDeniedException", "admin actions are disabled: no IDENTITY_ADMIN_ACCESS_KEY_ID / IDENTITY_ADMIN_SECRET_ACCESS_KEY configured", status: .forbidden)
        }
        let verifier = SigV4Verifier(accessKeyID: keyID, secretAccessKey: secret, region: config.region, service: "cognito-idp")
        let headers = request.headers
        do {
            try verifier.verify(
                method: request.method.rawValue, rawPath: request.uri.path, rawQuery: request.uri.query,
                header: { name in
                    if name == "host" { return request.head.authority.map { [$0] } ?? [] }
                    guard let field = HTTPField.Name(name) else { return [] }
                    return headers[values: field]
                },
                body: Data(buffer: body)
            )
        } catch {
            switch error {
            case .missing:
                throw CognitoError("AccessDeniedException", "admin actions need a request signed with AWS Signature Version 4", status: .forbidden)
            case .unrecognizedClient:
                throw CognitoError("UnrecognizedClientException", "The security token included in the request is invalid.")
            case .incomplete(let message):
                throw CognitoError("IncompleteSignatureException", message)
            case .invalidSignature(let message):
                throw CognitoError("InvalidSignatureException", message)
            }
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

        /// The `email` attribute, if any, checked for control characters and length.
        func email() throws -> String? {
            guard let email = attributes["email"] else { return nil }
            guard email.count <= 254, !email.unicodeScalars.contains(where: TextRules.isForbidden), email.contains("@") else {
                throw CognitoError.invalidParameter("Invalid email address format.")
            }
            return email
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
