import Logging
import PostgresNIO

extension PostgresClient {
    package convenience init(settings: DatabaseSettings, logger: Logger) {
        self.init(configuration: settings.clientConfiguration, backgroundLogger: logger)
    }
}

extension ReadinessCheck {
    /// Passes when the database answers a trivial query.
    package static func postgres(_ client: PostgresClient, name: String = "database", logger: Logger) -> ReadinessCheck {
        ReadinessCheck(name) {
            try await client.query("SELECT 1", logger: logger)
        }
    }
}
