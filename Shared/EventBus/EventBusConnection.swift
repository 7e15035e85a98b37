import Logging
import PostgresNIO
import ServiceKit
import ServiceLifecycle

/// The bus a service was configured with: its publisher, its queues, and the long-lived services
/// and readiness checks that come with it. Services above this line do not know which bus it is.
package struct EventBusConnection: Sendable {
    package let publisher: LocalEventPublisher
    package let services: [any Service]
    package let readinessChecks: [ReadinessCheck]
    private let local: LocalBus

    package init(_ settings: BusSettings, topology: BusTopology? = nil, logger: Logger) throws {
        switch settings.mode {
        case .local:
            let client = PostgresClient(settings: settings.database, logger: logger)
            let bus = LocalBus(client: client, logger: logger)
            self.local = bus
            self.topology = topology ?? settings.topology
            self.publisher = bus.publisher
            self.services = [client, bus.notifier]
            self.readinessChecks = [.postgres(client, name: "bus", logger: logger)]
        case .aws:
            throw SettingsError(key: "BUS_MODE", value: "aws", expected: "supported by this build yet (use local)")
        }
    }

    private let topology: BusTopology

    /// Declares the topology; call before serving.
    package func prepare() async throws {
        try await local.install(topology)
    }

    package func queue(_ name: String) -> LocalQueue {
        local.queue(name)
    }

    package var admin: LocalBusAdmin { LocalBusAdmin(bus: local) }
}
