import Auth
import Contracts
import EventBus
import Hummingbird
import Logging
import PostgresNIO
import ServiceKit

/// Builds `ordering-service`; `main` and the tests both call this.
package func buildApplication(_ config: OrderingServiceConfig, logger: Logger) async throws -> some ApplicationProtocol {
    let client = PostgresClient(settings: config.database, logger: logger)
    let repository = PostgresOrderRepository(client: client, logger: logger)
    let bus = try EventBusConnection(config.bus, topology: config.bus.shopTopology, logger: logger)
    let http = HTTPClientService()

    let router = buildRouter(
        repository: repository, verifier: TokenVerifier(configuration: config.tokens, httpClient: http.client, logger: logger),
        readiness: [.postgres(client, logger: logger)] + bus.readinessChecks
    )

    var app = Application(
        router: router,
        configuration: .init(address: .hostname(config.host, port: config.port), serverName: "ordering-service"),
        logger: logger
    )
    let started = StartupGate()
    app.addServices(client, http)
    app.addServices(bus.services)
    let saga = SagaRunner(
        repository: repository, eventBusName: config.bus.eventBusName, stepTimeout: config.stepTimeout, paymentTimeout: config.paymentTimeout
    )
    app.addServices(OutboxRelay(client: client, publisher: bus.publisher, logger: logger, gate: started))
    app.addServices(SagaTimeouts(saga: saga, interval: config.timeoutScanInterval, logger: logger, gate: started))
    app.addServices(QueueConsumer(
        queue: bus.queue(ShopQueues.orderingSaga),
        handler: SagaReplyHandler(saga: saga, logger: logger),
        logger: logger,
        baseBackoff: config.retryBaseDelay,
        maximumBackoff: config.retryMaximumDelay,
        gate: started
    ))
    app.addServices(QueueConsumer(
        queue: bus.queue(config.checkoutQueue),
        handler: CheckoutHandler(saga: saga, logger: logger),
        logger: logger,
        baseBackoff: config.retryBaseDelay,
        maximumBackoff: config.retryMaximumDelay,
        gate: started
    ))
    app.beforeServerStarts {
        try await withTimeout(.seconds(30)) {
            try await DatabaseBootstrap.createIfMissing(config.database, logger: logger)
            try await Migrator(OrderingMigrations.all).migrate(client: client, logger: logger)
            try await bus.prepare()
        }
        await started.open()
    }
    return app
}

/// The order routes on any repository (Postgres in the service, an in-memory fake in tests).
package func buildRouter(repository: some OrderRepository, verifier: TokenVerifier, readiness: [ReadinessCheck] = []) -> Router<AppRequestContext> {
    let router = Router.service(readiness: readiness)
    router.add(middleware: TokenMiddleware(verifier: verifier))
    OrderController(repository: repository).addRoutes(to: router.group("order"))
    return router
}
