import Auth
import Contracts
import EventBus
import Foundation
import Hummingbird
import Logging
import PostgresNIO
import ServiceKit

/// Builds `payment-service`; `main` and the tests both call this.
package func buildApplication(_ config: PaymentServiceConfig, logger: Logger) async throws -> some ApplicationProtocol {
    let host = try BusServiceHost(service: "payment-service", database: config.database, bus: config.bus, topology: config.bus.shopTopology, logger: logger)
    let repository = PostgresPaymentRepository(client: host.client, logger: logger)
    let router = buildRouter(
        repository: repository, verifier: TokenVerifier(configuration: config.tokens, httpClient: host.http.client, logger: logger),
        readiness: host.readiness
    )
    return host.application(
        name: "payment-service", host: config.host, port: config.port, database: config.database, migrations: PaymentMigrations.all,
        router: router,
        services: [
            host.consumer(ShopQueues.paymentCommands, PaymentCommandHandler(
                repository: repository, slowDelay: config.slowDelay, logger: logger
            )),
            SlowPayments.task(repository, every: config.scanInterval, gate: host.started, logger: logger),
        ]
    )
}

/// The payment routes on any repository.
package func buildRouter(repository: some PaymentRepository, verifier: TokenVerifier, readiness: [ReadinessCheck] = []) -> Router<AppRequestContext> {
    let router = Router.service(readiness: readiness)
    router.add(middleware: TokenMiddleware(verifier: verifier))
    let payments = router.routes(of: .payment, under: "payment")
    payments.get(":orderId") { _, context -> Response in
        let raw = context.parameters.get("orderId") ?? ""
        guard let id = UUID(uuidString: raw) else { throw Problem.badRequest("orderId must be a UUID, got '\(raw)'", field: "orderId") }
        guard let payment = try await repository.payment(orderId: id) else { throw Problem.notFound("order \(id) was never charged") }
        return try JSONOutput.response(payment)
    }
    return router
}
