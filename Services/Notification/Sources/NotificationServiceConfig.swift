import Contracts
import Auth
import EventBus
import ServiceKit

/// Everything `notification-service` reads from its environment.
package struct NotificationServiceConfig: Sendable {
    package var host: String
    package var port: Int
    package var database: DatabaseSettings
    package var bus: BusSettings
    package var tokens: TokenVerifier.Configuration
    /// `smtp://[user:password@]host[:port][?starttls=true]` or `smtps://…`; unset: e-mails are recorded only.
    package var smtpURL: String?
    /// Trust roots for the SMTP server's certificate (a PEM file); the system's when unset.
    package var smtpCAFile: String?
    /// The sender's address.
    package var mailFrom: String
    /// How long a sender holds an e-mail's claim (`NOTIFICATION_CLAIM_LEASE_MS`): longer than a send
    /// can take; a claim found expired without an outcome is sent once more.
    package var claimLease: Duration
    /// Webhook delivery: timeouts, retries, bounds, the address policy.
    package var webhooks: WebhookDeliverySettings

    package init(settings: Settings = Settings()) throws {
        host = settings.string("HOST", default: "127.0.0.1")
        port = try settings.int("PORT", default: ShopService.notification.port)
        database = try DatabaseSettings(settings: settings, default: "postgres://swn:swn@localhost:5432/notification")
        bus = try BusSettings(settings: settings)
        tokens = try TokenVerifier.Configuration(settings: settings)
        let url = settings.string("SMTP_URL", default: "")
        smtpURL = url.isEmpty ? nil : url
        let caFile = settings.string("SMTP_CA_FILE", default: "")
        smtpCAFile = caFile.isEmpty ? nil : caFile
        mailFrom = settings.string("MAIL_FROM", default: "shop@swn.local")
        claimLease = .milliseconds(try settings.int("NOTIFICATION_CLAIM_LEASE_MS", default: 60_000, in: 100...3_600_000))
        webhooks = WebhookDeliverySettings()
        webhooks.timeout = .milliseconds(try settings.int("WEBHOOK_TIMEOUT_MS", default: 10_000, in: 100...120_000))
        webhooks.maximumInFlightPerEndpoint = try settings.int("WEBHOOK_MAX_IN_FLIGHT", default: 4, in: 1...100)
        webhooks.scanInterval = .milliseconds(try settings.int("WEBHOOK_SCAN_MS", default: 500, in: 10...60_000))
        webhooks.retry = WebhookRetryPolicy(
            firstDelay: .milliseconds(try settings.int("WEBHOOK_RETRY_FIRST_DELAY_MS", default: 5_000, in: 10...3_600_000)),
            maximumDelay: .milliseconds(try settings.int("WEBHOOK_RETRY_MAX_DELAY_MS", default: 3_600_000, in: 10...86_400_000)),
            retryFor: .milliseconds(try settings.int("WEBHOOK_RETRY_FOR_MS", default: 86_400_000, in: 0...(7 * 86_400_000)))
        )
        webhooks.allowPrivate = try settings.bool("WEBHOOK_ALLOW_PRIVATE", default: false)
        if let smtpURL, SMTPSettings(url: smtpURL) == nil {
            throw SettingsError(key: "SMTP_URL", value: smtpURL, expected: "smtp://[user:password@]host[:port][?starttls=true] or smtps://…")
        }
    }
}
