import ServiceKit

/// Everything `identity` reads from its environment. Defaults are the local pool of the contract.
package struct IdentityConfig: Sendable {
    package var host: String
    package var port: Int
    package var database: DatabaseSettings
    package var userPoolID: String
    package var clientID: String
    /// The `iss` of the tokens; also where clients find `/.well-known/jwks.json`.
    package var issuer: String
    package var region: String
    /// Admin actions need a SigV4 `Authorization` header naming this access key id.
    package var adminAccessKeyID: String
    package var createDemoUsers: Bool
    package var tokenLifetime: Duration
    /// scrypt cost (N); lower only in tests.
    package var passwordHashCost: Int

    package init(settings: Settings = Settings()) throws {
        host = settings.string("HOST", default: "127.0.0.1")
        port = try settings.int("PORT", default: 9229)
        database = try DatabaseSettings(settings: settings, default: "postgres://swn:swn@localhost:5432/identity")
        userPoolID = settings.string("USER_POOL_ID", default: "local_swn")
        clientID = settings.string("USER_POOL_CLIENT_ID", default: "swnshoplocalclient")
        issuer = settings.string("TOKEN_ISSUER", default: "http://localhost:\(port)/\(userPoolID)")
        region = settings.string("AWS_REGION", default: "us-east-1")
        adminAccessKeyID = settings.string("IDENTITY_ADMIN_ACCESS_KEY_ID", default: "local")
        createDemoUsers = try settings.bool("CREATE_DEMO_USERS", default: true)
        tokenLifetime = .seconds(try settings.int("TOKEN_LIFETIME_SECONDS", default: 3600))
        passwordHashCost = try settings.int("PASSWORD_HASH_COST", default: 16384)
    }
}
