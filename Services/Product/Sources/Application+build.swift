import Auth
import Contracts
import EventBus
import Hummingbird
import Logging
import PostgresNIO
import ServiceKit

/// Builds `product-service`; `main` and the tests both call this.
package func buildApplication(_ config: ProductServiceConfig, logger: Logger) async throws -> some ApplicationProtocol {
    let host = try BusServiceHost(service: "product-service", database: config.database, bus: config.bus, topology: config.bus.shopTopology, logger: logger)
    let cache = config.cacheTimeToLive > .zero ? ProductReadCache(timeToLive: config.cacheTimeToLive) : nil
    let repository = PostgresProductRepository(client: host.client, logger: logger, cache: cache)
    let router = buildRouter(
        repository: repository, verifier: TokenVerifier(configuration: config.tokens, httpClient: host.http.client, logger: logger),
        readiness: host.readiness, cache: cache
    )
    return host.application(
        name: "product-service", host: config.host, port: config.port, database: config.database, migrations: ProductMigrations.all,
        router: router,
        services: [host.consumer(ShopQueues.productStock, StockCommandHandler(repository: repository, logger: logger, maxReservedPerCustomer: config.maxReservedPerCustomer))],
        afterStart: {
            if config.seedDemoCatalog {
                if try await repository.count() == 0 {
                    for product in DemoCatalog.products { _ = try await repository.create(product) }
                    logger.info("loaded the demo catalog", metadata: ["products": "\(DemoCatalog.products.count)"])
                }
                // Its pictures, also for a demo catalog loaded before there were pictures.
                for product in try await repository.list(ProductFilter(), after: nil, limit: 500) where product.imageUrl == nil {
                    guard let index = DemoCatalog.products.firstIndex(where: { $0.name == product.name }) else { continue }
                    _ = try await repository.setImage(try ProductImage(data: DemoPictures.picture(index)), of: product.id)
                }
            }
        }
    )
}

/// The catalog routes on any repository (Postgres in the service, an in-memory fake in tests).
package func buildRouter(
    repository: some ProductRepository, verifier: TokenVerifier, readiness: [ReadinessCheck] = [], cache: ProductReadCache? = nil
) -> Router<AppRequestContext> {
    let router = Router.service(readiness: readiness)
    router.add(middleware: TokenMiddleware(verifier: verifier))
    ProductController(repository: repository, cache: cache).addRoutes(to: router.routes(of: .product, under: "product"))
    return router
}
