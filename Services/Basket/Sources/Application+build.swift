import AsyncHTTPClient
import Auth
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
    let bus = try EventBusConnection(config.bus, logger: logger)

    let router = Router.service(readiness: [.postgres(client, logger: logger)] + bus.readinessChecks)
    router.addTokenMiddleware(config.tokens, httpClient: http.client, logger: logger)
    BasketController(repository: repository, catalog: catalog, eventBusName: config.bus.eventBusName)
        .addRoutes(to: router.group("basket"))

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
        queue: bus.queue(BusTopology.Names.catalogQueue),
        handler: CatalogEventHandler(repository: repository, logger: logger),
        logger: logger,
        gate: started
    ))
    app.beforeServerStarts {
        try await withTimeout(.seconds(30)) {
            try await Migrator(BasketMigrations.all).migrate(client: client, logger: logger)
            try await bus.prepare()
        }
        await started.open()
    }
    return app
}
