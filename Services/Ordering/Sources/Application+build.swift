import Auth
import Contracts
import EventBus
import Hummingbird
import Logging
import PostgresNIO
import ServiceKit

/// Builds `ordering-service`; `main` and the tests both call this.
package func buildApplication(_ config: OrderingServiceConfig, logger: Logger) async throws -> some ApplicationProtocol {
    let host = try BusServiceHost(service: "ordering-service", database: config.database, bus: config.bus, topology: config.bus.shopTopology, logger: logger)
    let repository = PostgresOrderRepository(client: host.client, logger: logger)
    let saga = SagaRunner(
        repository: repository, stepTimeout: config.stepTimeout, paymentTimeout: config.paymentTimeout,
        returnWindow: config.returnWindow, engine: config.sagaEngine
    )
    let router = buildRouter(
        saga: saga, verifier: TokenVerifier(configuration: config.tokens, httpClient: host.http.client, logger: logger),
        readiness: host.readiness
    )
    return host.application(
        name: "ordering-service", host: config.host, port: config.port, database: config.database, migrations: OrderingMigrations.all,
        router: router,
        services: [
            SagaTimeouts.task(saga, every: config.timeoutScanInterval, gate: host.started, logger: logger),
            OrderMetrics.task(client: host.client, every: config.bus.metricsInterval, gate: host.started, logger: logger),
            host.consumer(ShopQueues.orderingSaga, SagaReplyHandler(saga: saga, logger: logger), baseBackoff: config.retryBaseDelay, maximumBackoff: config.retryMaximumDelay),
            host.consumer(config.checkoutQueue, CheckoutHandler(saga: saga, logger: logger), baseBackoff: config.retryBaseDelay, maximumBackoff: config.retryMaximumDelay),
        ]
    )
}

/// The order routes on any repository (Postgres in the service, an in-memory fake in tests).
package func buildRouter<Repository: OrderRepository>(saga: SagaRunner<Repository>, verifier: TokenVerifier, readiness: [ReadinessCheck] = []) -> Router<AppRequestContext> {
    let router = Router.service(readiness: readiness)
    router.add(middleware: TokenMiddleware(verifier: verifier))
    OrderController(saga: saga).addRoutes(to: router.routes(of: .ordering, under: "order"))
    return router
}

/// The same with the saga's default settings (tests of the routes).
package func buildRouter(repository: some OrderRepository, verifier: TokenVerifier, readiness: [ReadinessCheck] = []) -> Router<AppRequestContext> {
    buildRouter(saga: SagaRunner(repository: repository, stepTimeout: .seconds(10), paymentTimeout: .seconds(10)), verifier: verifier, readiness: readiness)
}
