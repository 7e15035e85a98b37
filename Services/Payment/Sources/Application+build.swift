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
    let client = PostgresClient(settings: config.database, logger: logger)
    let repository = PostgresPaymentRepository(client: client, logger: logger)
    let bus = try EventBusConnection(config.bus, topology: config.bus.shopTopology, logger: logger)
    let http = HTTPClientService()

    let router = buildRouter(
        repository: repository, verifier: TokenVerifier(configuration: config.tokens, httpClient: http.client, logger: logger),
        readiness: [.postgres(client, logger: logger)] + bus.readinessChecks
    )
    var app = Application(
        router: router,
        configuration: .init(address: .hostname(config.host, port: config.port), serverName: "payment-service"),
        logger: logger
    )
    let started = StartupGate()
    app.addServices(client, http)
    app.addServices(bus.services)
    app.addServices(OutboxRelay(client: client, publisher: bus.publisher, logger: logger, gate: started))
    app.addServices(QueueConsumer(
        queue: bus.queue(ShopQueues.paymentCommands),
        handler: PaymentCommandHandler(repository: repository, eventBusName: config.bus.eventBusName, slowDelay: config.slowDelay, logger: logger),
        logger: logger,
        gate: started
    ))
    app.addServices(SlowPayments(repository: repository, eventBusName: config.bus.eventBusName, interval: config.scanInterval, logger: logger, gate: started))
    app.beforeServerStarts {
        try await withTimeout(.seconds(30)) {
            try await DatabaseBootstrap.createIfMissing(config.database, logger: logger)
            try await Migrator(PaymentMigrations.all).migrate(client: client, logger: logger)
            try await bus.prepare()
        }
        await started.open()
    }
    return app
}

/// The payment routes on any repository.
package func buildRouter(repository: some PaymentRepository, verifier: TokenVerifier, readiness: [ReadinessCheck] = []) -> Router<AppRequestContext> {
    let router = Router.service(readiness: readiness)
    router.add(middleware: TokenMiddleware(verifier: verifier))
    let payments = router.group("payment")
    payments.get(":orderId") { _, context -> Response in
        try context.requireAdmin()
        let raw = context.parameters.get("orderId") ?? ""
        guard let id = UUID(uuidString: raw) else { throw Problem.badRequest("orderId must be a UUID, got '\(raw)'", field: "orderId") }
        guard let payment = try await repository.payment(orderId: id) else { throw Problem.notFound("order \(id) was never charged") }
        return try JSONOutput.response(payment)
    }
    return router
}
