import Auth
import Contracts
import EventBus
import Hummingbird
import Logging
import PostgresNIO
import ServiceKit

/// Builds `product-service`; `main` and the tests both call this.
package func buildApplication(_ config: ProductServiceConfig, logger: Logger) async throws -> some ApplicationProtocol {
    let client = PostgresClient(settings: config.database, logger: logger)
    let repository = PostgresProductRepository(client: client, logger: logger, eventBusName: config.bus.eventBusName)
    let bus = try EventBusConnection(config.bus, topology: config.bus.shopTopology, logger: logger)
    let http = HTTPClientService()

    let router = buildRouter(
        repository: repository, verifier: TokenVerifier(configuration: config.tokens, httpClient: http.client, logger: logger),
        readiness: [.postgres(client, logger: logger)] + bus.readinessChecks
    )

    var app = Application(
        router: router,
        configuration: .init(address: .hostname(config.host, port: config.port), serverName: "product-service"),
        logger: logger
    )
    let started = StartupGate()
    app.addServices(client, http)
    app.addServices(bus.services)
    app.addServices(OutboxRelay(client: client, publisher: bus.publisher, logger: logger, gate: started))
    app.addServices(QueueConsumer(
        queue: bus.queue(ShopQueues.productStock),
        handler: StockCommandHandler(repository: repository, eventBusName: config.bus.eventBusName, logger: logger),
        logger: logger,
        gate: started
    ))
    app.beforeServerStarts {
        try await withTimeout(.seconds(30)) {
            try await DatabaseBootstrap.createIfMissing(config.database, logger: logger)
            try await Migrator(ProductMigrations.all).migrate(client: client, logger: logger)
            try await bus.prepare()
        }
        await started.open()
        if config.seedDemoCatalog, try await repository.count() == 0 {
            for product in DemoCatalog.products { _ = try await repository.create(product) }
            logger.info("loaded the demo catalog", metadata: ["products": "\(DemoCatalog.products.count)"])
        }
    }
    return app
}

/// The catalog routes on any repository (Postgres in the service, an in-memory fake in tests).
package func buildRouter(repository: some ProductRepository, verifier: TokenVerifier, readiness: [ReadinessCheck] = []) -> Router<AppRequestContext> {
    let router = Router.service(readiness: readiness)
    router.add(middleware: TokenMiddleware(verifier: verifier))
    ProductController(repository: repository).addRoutes(to: router.group("product"))
    return router
}
