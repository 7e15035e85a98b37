import AsyncHTTPClient
import Auth
import Contracts
import EventBus
import Hummingbird
import Logging
import PostgresNIO
import ServiceKit

/// Builds `basket-service`; `main` and the tests both call this.
package func buildApplication(_ config: BasketServiceConfig, logger: Logger) async throws -> some ApplicationProtocol {
    let client = PostgresClient(settings: config.database, logger: logger)
    let http = HTTPClientService()
    let repository = PostgresBasketRepository(client: client, logger: logger)
    let catalog = HTTPProductCatalog(httpClient: http.client, baseURL: config.productServiceURL, timeout: config.catalogTimeout)
    let bus = try EventBusConnection(config.bus, topology: config.bus.shopTopology, logger: logger)

    let router = buildRouter(
        repository: repository, catalog: catalog, eventBusName: config.bus.eventBusName,
        verifier: TokenVerifier(configuration: config.tokens, httpClient: http.client, logger: logger),
        readiness: [.postgres(client, logger: logger)] + bus.readinessChecks
    )
    var app = Application(
        router: router,
        configuration: .init(address: .hostname(config.host, port: config.port), serverName: "basket-service"),
        logger: logger
    )
    app.addServices(client, http)
    app.addServices(bus.services)
    let started = StartupGate()
    app.addServices(OutboxRelay(client: client, publisher: bus.publisher, logger: logger, gate: started))
    app.addServices(QueueConsumer(
        queue: bus.queue(ShopQueues.basketCatalog),
        handler: CatalogEventHandler(repository: repository, logger: logger),
        logger: logger,
        gate: started
    ))
    app.beforeServerStarts {
        try await withTimeout(.seconds(30)) {
            try await DatabaseBootstrap.createIfMissing(config.database, logger: logger)
            try await Migrator(BasketMigrations.all).migrate(client: client, logger: logger)
            try await bus.prepare()
        }
        await started.open()
    }
    return app
}

/// The basket's routes on any repository and catalog (Postgres and HTTP in the service, in-memory
/// fakes in tests).
package func buildRouter(
    repository: some BasketRepository, catalog: some ProductCatalog, eventBusName: String,
    verifier: TokenVerifier, readiness: [ReadinessCheck] = []
) -> Router<AppRequestContext> {
    let router = Router.service(readiness: readiness)
    router.add(middleware: TokenMiddleware(verifier: verifier))
    BasketController(repository: repository, catalog: catalog, eventBusName: eventBusName).addRoutes(to: router.group("basket"))
    return router
}
