import Auth
import Contracts
import EventBus
import Foundation
import Hummingbird
import Logging
import ServiceKit

/// Builds `notification-service`; `main` and the tests both call this.
package func buildApplication(_ config: NotificationServiceConfig, logger: Logger) async throws -> some ApplicationProtocol {
    let host = try BusServiceHost(service: "notification-service", database: config.database, bus: config.bus, topology: config.bus.shopTopology, logger: logger)
    let repository = PostgresNotificationRepository(client: host.client, logger: logger)
    let channel: any MailChannel = if let url = config.smtpURL, let settings = SMTPSettings(url: url, caFile: config.smtpCAFile) {
        SMTPChannel(client: SMTPClient(settings: settings))
    } else {
        RecordOnlyChannel()
    }
    let router = buildRouter(
        repository: repository, verifier: TokenVerifier(configuration: config.tokens, httpClient: host.http.client, logger: logger), readiness: host.readiness
    )
    return host.application(
        name: "notification-service", host: config.host, port: config.port, database: config.database, migrations: NotificationMigrations.all,
        router: router,
        services: [
            host.consumer(ShopQueues.notificationEvents, NotificationHandler(repository: repository, channel: channel, from: config.mailFrom, logger: logger)),
        ]
    )
}

/// The notification routes on any repository.
package func buildRouter(repository: some NotificationRepository, verifier: TokenVerifier, readiness: [ReadinessCheck] = []) -> Router<AppRequestContext> {
    let router = Router.service(readiness: readiness)
    router.add(middleware: TokenMiddleware(verifier: verifier))
    router.serviceGroup("notification").get(":userName") { request, context -> Response in
        let userName = try PathUserName.parameter(context)
        try context.requireActing(for: userName, field: "userName")
        let page = try PageRequest<TimeCursor>(request, defaultLimit: 50, maximumLimit: 200)
        let list = try await repository.notifications(of: userName, before: page.cursor, limit: page.fetchLimit)
        return try JSONOutput.response(page.page(list) { TimeCursor(date: $0.createdAt, id: $0.id) })
    }
    return router
}
