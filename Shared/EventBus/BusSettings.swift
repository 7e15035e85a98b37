import ServiceKit

/// Which bus a service uses, from `BUS_MODE` (`local`, the default) and the bus's own settings.
package struct BusSettings: Sendable {
    package enum Mode: String, Sendable { case local, aws }

    package var mode: Mode
    package var eventBusName: String
    /// The local bus's database (`BUS_DATABASE_URL`).
    package var database: DatabaseSettings

    package init(settings: Settings) throws {
        let raw = settings.string("BUS_MODE", default: "local")
        guard let mode = Mode(rawValue: raw) else { throw SettingsError(key: "BUS_MODE", value: raw, expected: "local or aws") }
        self.mode = mode
        eventBusName = settings.string("EVENT_BUS_NAME", default: BusTopology.defaultEventBusName)
        database = try DatabaseSettings(settings: settings, key: "BUS_DATABASE_URL", default: "postgres://swn:swn@localhost:5432/bus")
    }
}
