import ServiceKit

/// Which bus a service uses, from `BUS_MODE` (`local`, the default) and the bus's own settings.
package struct BusSettings: Sendable {
    package enum Mode: String, Sendable { case local, aws }

    package var mode: Mode
    package var eventBusName: String
    /// The local bus's database (`BUS_DATABASE_URL`).
    package var database: DatabaseSettings
    /// Every queue's visibility timeout and receive limit (`QUEUE_VISIBILITY_TIMEOUT_MS`,
    /// `QUEUE_MAX_RECEIVE_COUNT`); the AWS template declares the same defaults.
    package var visibilityTimeout: Duration
    package var maxReceiveCount: Int
    /// How often the bus and database gauges of `/metrics` are refreshed (`METRICS_INTERVAL_MS`).
    package var metricsInterval: Duration
    /// The AWS SDK conventions' variables that are set (`AWS_REGION`, `AWS_ENDPOINT_URL_*`, credentials;
    /// declared in `ShopSettings`), for the AWS clients: they see nothing else of the environment.
    package var environment: [String: String]
    /// The saga's state machine, for the service that starts its executions (ordering sets it from
    /// `SAGA_STATE_MACHINE_ARN`; the bus does not read it).
    package var stateMachineArn: String?

    package init(settings: Settings) throws {
        let raw = settings.string("BUS_MODE", default: "local")
        guard let mode = Mode(rawValue: raw) else { throw SettingsError(key: "BUS_MODE", value: raw, expected: "local or aws") }
        self.mode = mode
        eventBusName = settings.string("EVENT_BUS_NAME", default: BusTopology.defaultEventBusName)
        database = try DatabaseSettings(settings: settings, key: "BUS_DATABASE_URL", default: "postgres://swn:swn@localhost:5432/bus")
        visibilityTimeout = try settings.milliseconds("QUEUE_VISIBILITY_TIMEOUT_MS", default: 30_000)
        maxReceiveCount = try settings.int("QUEUE_MAX_RECEIVE_COUNT", default: 5)
        metricsInterval = try settings.milliseconds("METRICS_INTERVAL_MS", default: 5000)
        environment = Dictionary(uniqueKeysWithValues: ShopSettings.all.map(\.name).filter { $0.hasPrefix("AWS_") }.compactMap { key in
            settings.optionalString(key).map { (key, $0) }
        })
    }

}
