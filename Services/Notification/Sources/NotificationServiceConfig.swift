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

    package init(settings: Settings = Settings()) throws {
        host = settings.string("HOST", default: "127.0.0.1")
        port = try settings.int("PORT", default: 8086)
        database = try DatabaseSettings(settings: settings, default: "postgres://swn:swn@localhost:5432/notification")
        bus = try BusSettings(settings: settings)
        tokens = try TokenVerifier.Configuration(settings: settings)
        let url = settings.string("SMTP_URL", default: "")
        smtpURL = url.isEmpty ? nil : url
        let caFile = settings.string("SMTP_CA_FILE", default: "")
        smtpCAFile = caFile.isEmpty ? nil : caFile
        mailFrom = settings.string("MAIL_FROM", default: "shop@swn.local")
        if let smtpURL, SMTPSettings(url: smtpURL) == nil {
            throw SettingsError(key: "SMTP_URL", value: smtpURL, expected: "smtp://[user:password@]host[:port][?starttls=true] or smtps://…")
        }
    }
}
