import AWS
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
    // SMTP when `SMTP_URL` says so; otherwise SES in aws mode; otherwise recorded only.
    let channel: any MailChannel = if let url = config.smtpURL, let settings = SMTPSettings(url: url, caFile: config.smtpCAFile) {
        SMTPChannel(client: SMTPClient(settings: settings))
    } else if config.bus.mode == .aws {
        SESChannel(client: AWSJSONClient(
            endpoint: AWSEndpoint(service: "SESV2", signingName: "ses", hostPrefix: "email", environment: config.bus.environment),
            targetPrefix: "", contentType: "application/json",
            credentials: CredentialsProvider(environment: config.bus.environment, httpClient: host.http.client, logger: logger), httpClient: host.http.client
        ))
    } else {
        RecordOnlyChannel()
    }
    let sender = WebhookSender(policy: WebhookAddressPolicy(allowPrivate: config.webhooks.allowPrivate), timeout: config.webhooks.timeout)
    let router = buildRouter(
        repository: repository, verifier: TokenVerifier(configuration: config.tokens, httpClient: host.http.client, logger: logger), sender: sender,
        readiness: host.readiness
    )
    return host.application(
        name: "notification-service", host: config.host, port: config.port, database: config.database, migrations: NotificationMigrations.all + WebhookMigrations.all + Outbox.migrations,
        router: router,
        services: [
            host.consumer(ShopQueues.notificationEvents, NotificationHandler(
                repository: repository, channel: channel, from: config.mailFrom, lease: config.claimLease, logger: logger
            )),
            WebhookDeliverer(repository: repository, sender: sender, settings: config.webhooks, gate: host.started, logger: logger),
        ]
    )
}

/// The notification and webhook routes on any repository.
package func buildRouter(
    repository: some NotificationRepository & WebhookRepository, verifier: TokenVerifier, sender: WebhookSender, readiness: [ReadinessCheck] = []
) -> Router<AppRequestContext> {
    let router = Router.service(readiness: readiness)
    router.add(middleware: TokenMiddleware(verifier: verifier))
    router.routes(of: .notification, under: "notification").get(":userName") { request, context -> Response in
        let userName = try PathUserName.parameter(context)
        let page = try PageRequest<TimeCursor>(request, defaultLimit: 50, maximumLimit: 200)
        let list = try await repository.notifications(of: userName, before: page.cursor, limit: page.fetchLimit)
        return try JSONOutput.response(page.page(list) { TimeCursor(date: $0.createdAt, id: $0.id) })
    }
    let webhooks = router.routes(of: .notification, under: "webhook")
    webhooks.post { request, context -> Response in
        let input = try await JSONInput.decode(WebhookInput.self, from: request, context: context).validated(policy: sender.policy)
        // The host's addresses now, for an answer at once (they are checked again before every attempt).
        do {
            _ = try await sender.address(for: input.url)
        } catch let refusal as WebhookAddressPolicy.Refusal {
            throw Problem.unprocessable("url: \(refusal)", field: "url")
        } catch {
            // Not resolvable now (it may be later): accepted; attempts fail and are retried until it is.
        }
        let (secret, _) = StandardWebhooks.newSecret()
        let webhook = try await repository.createWebhook(input, secret: secret)
        return try JSONOutput.response(CreatedWebhook(webhook: webhook, secret: secret), status: .created)
    }
    webhooks.get { request, context -> Response in
        let page = try PageRequest<TimeCursor>(request, defaultLimit: 50, maximumLimit: 200)
        let list = try await repository.webhooks(before: page.cursor, limit: page.fetchLimit)
        return try JSONOutput.response(page.page(list) { TimeCursor(date: $0.createdAt, id: $0.id) })
    }
    webhooks.delete(":id") { _, context -> Response in
        guard try await repository.deleteWebhook(try webhookID(context)) else { throw Problem.notFound("no such webhook") }
        return Response(status: .noContent)
    }
    webhooks.get(":id/deliveries") { request, context -> Response in
        let id = try webhookID(context)
        let page = try PageRequest<TimeCursor>(request, defaultLimit: 50, maximumLimit: 200)
        let list = try await repository.deliveries(of: id, before: page.cursor, limit: page.fetchLimit)
        if list.isEmpty, page.cursor == nil, try await !repository.webhookExists(id) { throw Problem.notFound("no such webhook") }
        return try JSONOutput.response(page.page(list) { TimeCursor(date: $0.createdAt, id: WebhookDelivery.rowID($0.id) ?? $0.webhookId) })
    }
    return router
}

private func webhookID(_ context: AppRequestContext) throws -> UUID {
    let raw = context.parameters.get("id") ?? ""
    guard let id = UUID(uuidString: raw) else { throw Problem.badRequest("id must be a UUID, got '\(raw.prefix(64))'", field: "id") }
    return id
}
