import Contracts
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
    /// Admin actions (`Admin*`) need a valid SigV4 signature made with this key pair; without one
    /// configured they are refused.
    package var adminAccessKeyID: String?
    package var adminSecretAccessKey: String?
    package var createDemoUsers: Bool
    package var tokenLifetime: Duration
    /// scrypt cost (N); lower only in tests.
    package var passwordHashCost: Int
    /// Threads that hash passwords at once, and how many sign-ins may wait for one.
    package var hashingThreads: Int
    package var hashingQueueLimit: Int
    /// Sign-in and sign-up attempts per client address (`TooManyRequestsException` beyond).
    package var signInRate: RateLimiter.Rule
    /// Browser origins that may call the pool directly (the storefront signs in here).
    package var corsOrigins: [String]

    package init(settings: Settings = Settings()) throws {
        host = settings.string("HOST", default: "127.0.0.1")
        port = try settings.int("PORT", default: ShopService.identity.port)
        database = try DatabaseSettings(settings: settings, default: "postgres://swn:swn@localhost:5432/identity")
        userPoolID = settings.string("USER_POOL_ID", default: "local_swn")
        clientID = settings.string("USER_POOL_CLIENT_ID", default: "swnshoplocalclient")
        issuer = settings.string("TOKEN_ISSUER", default: "http://localhost:\(port)/\(userPoolID)")
        region = settings.string("AWS_REGION", default: "us-east-1")
        adminAccessKeyID = settings.optionalString("IDENTITY_ADMIN_ACCESS_KEY_ID")
        adminSecretAccessKey = settings.optionalString("IDENTITY_ADMIN_SECRET_ACCESS_KEY")
        createDemoUsers = try settings.bool("CREATE_DEMO_USERS", default: true)
        tokenLifetime = .seconds(try settings.int("TOKEN_LIFETIME_SECONDS", default: 3600))
        passwordHashCost = try settings.int("PASSWORD_HASH_COST", default: 16384)
        hashingThreads = try settings.int("PASSWORD_HASH_THREADS", default: 1)
        hashingQueueLimit = try settings.int("PASSWORD_HASH_QUEUE", default: 32)
        corsOrigins = settings.list("CORS_ALLOWED_ORIGINS", default: "http://localhost:8080,http://127.0.0.1:8080")
        signInRate = RateLimiter.Rule(
            rate: Double(try settings.int("SIGN_IN_RATE_PER_MINUTE", default: 120)) / 60,
            burst: Double(try settings.int("SIGN_IN_BURST", default: 20))
        )
    }
}
