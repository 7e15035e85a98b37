import Hummingbird
import JWTKit
import Logging
import PostgresNIO
import ServiceKit

/// Builds `identity`; `main` and the tests both call this. The schema, the signing key and the demo
/// users are set up first, so the routes are built with the key in hand.
package func buildApplication(_ config: IdentityConfig, logger: Logger) async throws -> some ApplicationProtocol {
    let hasher = PasswordHasher(cost: config.passwordHashCost)
    try await DatabaseBootstrap.createIfMissing(config.database, logger: logger)
    let keys = try await withTemporaryPostgresClient(config.database, logger: logger) { client in
        try await Migrator(IdentityMigrations.all).migrate(client: client, logger: logger)
        if config.createDemoUsers {
            try await DemoUsers.create(in: UserStore(client: client, poolID: config.userPoolID, logger: logger), hasher: hasher, logger: logger)
        }
        return try await SigningKeys.load(client: client, logger: logger)
    }

    let client = DatabasePool(settings: config.database, logger: logger)
    let users = UserStore(client: client, poolID: config.userPoolID, logger: logger)
    let issuer = await TokenIssuer(signingKeys: keys, issuer: config.issuer, clientID: config.clientID, lifetime: config.tokenLifetime)

    let router = Router.service(readiness: [.postgres(client, logger: logger)])
    router.add(middleware: CORS(
        origins: config.corsOrigins,
        allowHeaders: ["Content-Type", "X-Amz-Target", "X-Amz-User-Agent", "Authorization", "X-Amz-Date"],
        allowMethods: [.get, .post],
        exposeHeaders: ["x-amzn-ErrorType", "x-amzn-RequestId"]
    ))
    try CognitoController(users: users, issuer: issuer, hasher: hasher, config: config, signingKeys: keys).addRoutes(to: router)

    var app = Application(
        router: router, server: ServerTimeouts.current.http1,
        configuration: .init(address: .hostname(config.host, port: config.port), serverName: "identity"),
        logger: logger
    )
    app.addServices(client, PeriodicTask("forgetting full rate-limit buckets", every: .seconds(60), logger: logger) {
        try await SharedRateLimiter.deleteFullBuckets(client: client, logger: logger)
    })
    return app
}
