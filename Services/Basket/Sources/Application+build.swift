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
    let host = try BusServiceHost(service: "basket-service", database: config.database, bus: config.bus, topology: config.bus.shopTopology, logger: logger)
    let repository = PostgresBasketRepository(client: host.client, logger: logger)
    // product-service's replicas, re-resolved and probed every 2 s.
    let products = Replicas(configured: config.productServiceURL)
    let catalog = HTTPProductCatalog(httpClient: host.http.client, replicas: products, timeout: config.catalogTimeout)
    let router = buildRouter(
        repository: repository, catalog: catalog,
        verifier: TokenVerifier(configuration: config.tokens, httpClient: host.http.client, logger: logger),
        readiness: host.readiness, fingerprintKey: config.fingerprintKey
    )
    return host.application(
        name: "basket-service", host: config.host, port: config.port, database: config.database, migrations: BasketMigrations.all,
        router: router,
        services: [
            host.consumer(ShopQueues.basketCatalog, CatalogEventHandler(repository: repository, logger: logger)),
            PeriodicTask("probing product-service's replicas", every: .seconds(2), logger: logger) { [http = host.http.client] in
                await products.refresh(http: http, name: ShopService.product.name, logger: logger)
            },
        ]
    )
}

/// The basket's routes on any repository and catalog (Postgres and HTTP in the service, in-memory
/// fakes in tests).
package func buildRouter(
    repository: some BasketRepository, catalog: some ProductCatalog, verifier: TokenVerifier, readiness: [ReadinessCheck] = [], fingerprintKey: String = BasketServiceConfig.localFingerprintKey
) -> Router<AppRequestContext> {
    let router = Router.service(readiness: readiness)
    router.add(middleware: TokenMiddleware(verifier: verifier))
    BasketController(repository: repository, catalog: catalog, fingerprintKey: fingerprintKey).addRoutes(to: router.routes(of: .basket, under: "basket"))
    return router
}
