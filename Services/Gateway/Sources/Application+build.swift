import AsyncHTTPClient
import Foundation
import Auth
import Contracts
import Hummingbird
import Logging
import NIOCore
import ServiceKit

/// Builds `gateway`; `main` and the tests both call this.
package func buildApplication(_ config: GatewayConfig, logger: Logger) async throws -> some ApplicationProtocol {
    var clientConfiguration = HTTPClientService.defaultConfiguration()
    clientConfiguration.connectionPool.idleTimeout = .seconds(60)
    clientConfiguration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = config.upstreamConnections
    // A replica that refuses or does not answer a connection fails the requests waiting for it at
    // once (no connection retries, `defaultConfiguration`): they go to another replica.
    clientConfiguration.timeout.connect = TimeAmount(config.upstreamConnectTimeout)
    let http = HTTPClientService(client: HTTPClient(eventLoopGroupProvider: .singleton, configuration: clientConfiguration))
    let verifier = TokenVerifier(configuration: config.tokens, httpClient: http.client, logger: logger)
    let upstreams = Upstreams(urls: config.upstreamURLs)
    let proxy = ReverseProxy(httpClient: http.client, upstreams: upstreams, timeout: config.upstreamTimeout)
    let policy = AccessPolicy()
    // The rate limits' buckets, shared by every gateway replica when the gateway has a database.
    var limits: DatabasePool?
    if let database = config.database {
        try await DatabaseBootstrap.createIfMissing(database, logger: logger)
        try await withTemporaryPostgresClient(database, logger: logger) { client in
            try await Migrator([SharedRateLimiter.migration]).migrate(client: client, logger: logger)
        }
        limits = DatabasePool(settings: database, logger: logger)
    } else {
        logger.notice("no DATABASE_URL: the rate limits hold per gateway process, not across replicas")
    }

    let router = Router(context: AppRequestContext.self)
    // Outermost: every answer over HTTPS (errors too) carries it.
    router.add(middleware: StrictTransportSecurity())
    router.add(middleware: ProblemMiddleware())
    // The gateway's own paths answer 405 by template from the policy (`ownDecision`), not here.
    router.add(middleware: RequestHygiene(getOnlyPaths: []))
    router.add(middleware: CORS(
        origins: config.corsOrigins,
        allowHeaders: ["Accept", "Authorization", "Content-Type", "Idempotency-Key", "X-Request-Id"],
        allowMethods: [.get, .post, .put, .delete],
        exposeHeaders: ["Location", "Retry-After", "X-Request-Id", "Idempotent-Replayed"]
    ))
    router.add(middleware: GatewayMiddleware(
        verifier: verifier, proxy: proxy,
        throttle: Throttle(user: config.userRate, anonymous: config.anonymousRate, shared: limits, logger: logger),
        bodyTimeout: config.bodyTimeout,
        policy: policy, trustedProxies: config.trustedProxies
    ))
    // Only the gateway's own routes reach this point (it answers every other request itself).
    router.add(middleware: MetricsMiddleware())
    // Public: says up or down only, from the view the timer keeps (no upstream call per request).
    let health = UpstreamHealth(http: http.client, upstreams: upstreams, interval: config.readyRefresh, logger: logger)
    router.addHealthRoutes([ReadinessCheck("upstreams") {
        guard health.isReady else { throw Problem(.serviceUnavailable, detail: "an upstream is not healthy") }
    }])

    let openAPI: @Sendable (Request, AppRequestContext) async throws -> Response = { _, _ in
        guard let data = FileManager.default.contents(atPath: config.openAPIFile) else {
            throw Problem.notFound("no OpenAPI description at \(config.openAPIFile)")
        }
        return Response(
            status: .ok,
            headers: [.contentType: "application/yaml", .contentLength: String(data.count)],
            body: .init(byteBuffer: ByteBuffer(bytes: data))
        )
    }
    router.get("/openapi.yaml", use: openAPI)
    router.head("/openapi.yaml", use: openAPI)
    Storefront(directory: config.storefrontDirectory, configuration: config.storefront, logger: logger).addRoutes(to: router)
    logger.info("the storefront is at \(config.storefrontURL)", metadata: ["storefront": "\(config.storefrontURL)"])

    var app = Application(
        router: router,
        server: ServerTimeouts(header: config.headerTimeout, body: config.bodyTimeout, idle: config.idleTimeout).http1,
        configuration: .init(address: .hostname(config.host, port: config.port), serverName: "gateway"),
        logger: logger
    )
    // The gateway's metrics on an internal port of their own (Prometheus scrapes it; the public port has none).
    let metricsRouter = Router(context: AppRequestContext.self)
    metricsRouter.addMetrics()
    let metrics = Application(
        router: metricsRouter, configuration: .init(address: .hostname(config.host, port: config.metricsPort), serverName: "gateway-metrics"),
        onServerRunning: { channel in
            logger.info("the gateway's metrics are served here only", metadata: ["metricsPort": "\(channel.localAddress?.port ?? 0)"])
        },
        logger: logger
    )
    app.addServices(http, health, metrics)
    if let limits {
        app.addServices(limits, PeriodicTask("forgetting full rate-limit buckets", every: .seconds(60), logger: logger) {
            try await SharedRateLimiter.deleteFullBuckets(client: limits, logger: logger)
        })
    }
    return app
}
