import Auth
import Contracts
import EventBus
import Foundation
import Hummingbird
import Logging
import ServiceKit

/// Builds `shipping-service`; `main` and the tests both call this.
package func buildApplication(_ config: ShippingServiceConfig, logger: Logger) async throws -> some ApplicationProtocol {
    let host = try BusServiceHost(service: "shipping-service", database: config.database, bus: config.bus, topology: config.bus.shopTopology, logger: logger)
    let repository = PostgresShipmentRepository(client: host.client, logger: logger)
    let router = buildRouter(
        repository: repository, verifier: TokenVerifier(configuration: config.tokens, httpClient: host.http.client, logger: logger),
        readiness: host.readiness
    )
    return host.application(
        name: "shipping-service", host: config.host, port: config.port, database: config.database, migrations: ShippingMigrations.all,
        router: router,
        services: [
            host.consumer(ShopQueues.shippingOrders, ShippingCommandHandler(
                repository: repository, delays: config.delays, logger: logger
            )),
            ShipmentMoves.task(repository, delays: config.delays, every: config.scanInterval, gate: host.started, logger: logger),
        ]
    )
}

/// The shipment routes (admin) on any repository.
package func buildRouter(repository: some ShipmentRepository, verifier: TokenVerifier, readiness: [ReadinessCheck] = []) -> Router<AppRequestContext> {
    let router = Router.service(readiness: readiness)
    router.add(middleware: TokenMiddleware(verifier: verifier))
    let shipments = router.routes(of: .shipping, under: "shipment")
    shipments.get { request, context -> Response in
        let page = try PageRequest<TimeCursor>(request, defaultLimit: 50, maximumLimit: 200)
        let shipments = try await repository.shipments(before: page.cursor, limit: page.fetchLimit)
        return try JSONOutput.response(page.page(shipments) { TimeCursor(date: $0.createdAt, id: $0.orderId) })
    }
    shipments.get(":orderId") { _, context -> Response in
        let raw = context.parameters.get("orderId") ?? ""
        guard let id = UUID(uuidString: raw) else { throw Problem.badRequest("orderId must be a UUID, got '\(raw)'", field: "orderId") }
        guard let shipment = try await repository.shipment(orderId: id) else { throw Problem.notFound("order \(id) has no shipment") }
        return try JSONOutput.response(shipment)
    }
    return router
}
