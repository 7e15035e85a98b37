import Auth
import Contracts
import ServiceKit

/// Everything `gateway` reads from its environment.
package struct GatewayConfig: Sendable {
    package var host: String
    package var port: Int
    /// Where each service of the route table is (`<NAME>_SERVICE_URL`, e.g. `PRODUCT_SERVICE_URL`):
    /// one base URL or a comma-separated list of replicas (see `Upstreams`).
    package var upstreamURLs: [ShopService: String]
    package var upstreamTimeout: Duration
    /// A connection to a replica must be made within this time, or the replica is ejected.
    package var upstreamConnectTimeout: Duration
    /// Connections kept per upstream service; requests beyond wait for one.
    package var upstreamConnections: Int
    package var tokens: TokenVerifier.Configuration
    /// The OpenAPI description served at `/openapi.yaml`.
    package var openAPIFile: String
    /// The storefront's files (`STOREFRONT_DIR`) and where its pages sign users in.
    package var storefrontDirectory: String
    /// Where people open the storefront (`STOREFRONT_URL`), printed at start.
    package var storefrontURL: String
    package var storefront: Storefront.Configuration
    /// Requests per signed-in user, and per client address for anonymous calls (rate 0: no limit).
    package var userRate: RateLimiter.Rule
    package var anonymousRate: RateLimiter.Rule
    /// Where the rate limits' buckets are shared by every gateway replica (`DATABASE_URL`, the
    /// gateway's own database); unset, each gateway process limits on its own.
    package var database: DatabaseSettings?
    /// Browser origins allowed to call the API (`CORS_ALLOWED_ORIGINS`, comma-separated; `*` for any).
    package var corsOrigins: [String]
    /// A request's head must arrive within this time of the connection opening (or of the end of
    /// the previous request on a kept-alive connection, within `idleTimeout`).
    package var headerTimeout: Duration
    /// A request body must arrive whole within this time.
    package var bodyTimeout: Duration
    /// A connection with nothing read or written for this long is closed.
    package var idleTimeout: Duration
    /// How often `/ready`'s view of the upstreams is refreshed (`READY_REFRESH_MS`).
    package var readyRefresh: Duration
    /// Where the gateway's own `/metrics` are served (`METRICS_PORT`; 0: a free port, logged at start):
    /// an internal port, never the public one.
    package var metricsPort: Int
    /// The load balancers whose `X-Forwarded-For` names the client (`TRUSTED_PROXIES`, CIDRs).
    package var trustedProxies: TrustedProxies

    package init(settings: Settings = Settings()) throws {
        host = settings.string("HOST", default: "127.0.0.1")
        port = try settings.int("PORT", default: ShopService.gateway.port)
        upstreamURLs = Dictionary(uniqueKeysWithValues: ShopRoutes.upstreams.map { service in
            (service, settings.string(service.urlSetting, default: service.defaultURL))
        })
        upstreamTimeout = try settings.milliseconds("UPSTREAM_TIMEOUT_MS", default: 10_000)
        upstreamConnectTimeout = try settings.milliseconds("UPSTREAM_CONNECT_TIMEOUT_MS", default: 1_000)
        upstreamConnections = try settings.int("UPSTREAM_CONNECTIONS", default: 64)
        tokens = try TokenVerifier.Configuration(settings: settings)
        openAPIFile = settings.string("OPENAPI_FILE", default: "deploy/openapi.yaml")
        storefrontDirectory = settings.string("STOREFRONT_DIR", default: "Services/Gateway/Storefront")
        storefrontURL = settings.string("STOREFRONT_URL", default: "http://localhost:\(port)/")
        // The issuer is `<endpoint>/<pool id>` for Cognito and for `identity` alike.
        let issuer = tokens.issuer.hasSuffix("/") ? String(tokens.issuer.dropLast()) : tokens.issuer
        let poolID = issuer.split(separator: "/").last.map(String.init) ?? ""
        storefront = Storefront.Configuration(
            identityEndpoint: settings.string("STOREFRONT_IDENTITY_ENDPOINT", default: String(issuer.dropLast(poolID.count))),
            userPoolId: poolID,
            clientId: tokens.clientID,
            region: settings.string("AWS_REGION", default: "us-east-1")
        )
        userRate = RateLimiter.Rule(
            rate: Double(try settings.int("RATE_LIMIT_USER_PER_SECOND", default: 20)),
            burst: Double(try settings.int("RATE_LIMIT_USER_BURST", default: 100))
        )
        anonymousRate = RateLimiter.Rule(
            rate: Double(try settings.int("RATE_LIMIT_ADDRESS_PER_SECOND", default: 50)),
            burst: Double(try settings.int("RATE_LIMIT_ADDRESS_BURST", default: 200))
        )
        database = try settings.optionalString("DATABASE_URL").map { _ in try DatabaseSettings(settings: settings, default: "") }
        corsOrigins = settings.list("CORS_ALLOWED_ORIGINS", default: "http://localhost:8080,http://127.0.0.1:8080")
        headerTimeout = try settings.milliseconds("HEADER_TIMEOUT_MS", default: 10_000)
        bodyTimeout = try settings.milliseconds("BODY_TIMEOUT_MS", default: 10_000)
        idleTimeout = try settings.milliseconds("IDLE_TIMEOUT_MS", default: 60_000)
        readyRefresh = try settings.milliseconds("READY_REFRESH_MS", default: 2_000)
        metricsPort = try settings.int("METRICS_PORT", default: 0)
        trustedProxies = try TrustedProxies(settings.string("TRUSTED_PROXIES", default: ""))
    }
}
