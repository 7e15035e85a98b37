import Hummingbird
import Logging
import PostgresNIO
import ServiceKit
import ServiceLifecycle

/// The frame every service on the bus shares: its Postgres client, its bus connection, an HTTP
/// client, the outbox relay, and a start-up that creates the database, migrates it, declares the
/// bus topology and only then opens the gate for the relay and the consumers. A service adds its
/// router and its own long-lived tasks.
package struct BusServiceHost: Sendable {
    package let client: PostgresClient
    package let bus: EventBusConnection
    package let http: HTTPClientService
    /// Opens once the schema and the topology exist; consumers wait for it.
    package let started: StartupGate
    package let logger: Logger

    package init(database: DatabaseSettings, bus settings: BusSettings, topology: BusTopology, logger: Logger) throws {
        client = PostgresClient(settings: database, logger: logger)
        bus = try EventBusConnection(settings, topology: topology, logger: logger)
        http = HTTPClientService()
        started = StartupGate()
        self.logger = logger
    }

    /// The service's own database and the bus answer.
    package var readiness: [ReadinessCheck] { [.postgres(client, logger: logger)] + bus.readinessChecks }

    /// A consumer of `queue` that waits for the start-up.
    package func consumer<Handler: MessageHandler>(
        _ queue: String, _ handler: Handler, baseBackoff: Duration = .seconds(1), maximumBackoff: Duration = .seconds(60)
    ) -> QueueConsumer<BusQueue, Handler> {
        QueueConsumer(queue: bus.queue(queue), handler: handler, logger: logger, baseBackoff: baseBackoff, maximumBackoff: maximumBackoff, gate: started)
    }

    /// The application: `router` on `host:port`, the shared services plus `services`, and the
    /// start-up (database, migrations, topology), then `afterStart`.
    package func application(
        name: String, host: String, port: Int, database: DatabaseSettings, migrations: [Migration], router: Router<AppRequestContext>,
        services: [any Service], afterStart: @escaping @Sendable () async throws -> Void = {}
    ) -> some ApplicationProtocol {
        var app = Application(router: router, configuration: .init(address: .hostname(host, port: port), serverName: name), logger: logger)
        app.addServices(client, http)
        app.addServices(bus.services)
        app.addServices(OutboxRelay(client: client, publisher: bus.publisher, logger: logger, gate: started))
        app.addServices(services)
        let (client, bus, started, logger) = (client, bus, started, logger)
        app.beforeServerStarts {
            try await withTimeout(.seconds(30)) {
                try await DatabaseBootstrap.createIfMissing(database, logger: logger)
                try await Migrator(migrations).migrate(client: client, logger: logger)
                try await bus.prepare()
            }
            await started.open()
            try await afterStart()
        }
        return app
    }
}

/// Runs `tick` every `interval` once the gate opened, until shutdown; a failing tick is logged and
/// the next one runs on time (scans for due deadlines, slow answers).
package struct PeriodicTask: Service {
    let name: String
    let interval: Duration
    let gate: StartupGate?
    let logger: Logger
    let tick: @Sendable () async throws -> Void

    package init(_ name: String, every interval: Duration, gate: StartupGate? = nil, logger: Logger, tick: @escaping @Sendable () async throws -> Void) {
        self.name = name
        self.interval = interval
        self.gate = gate
        self.logger = logger
        self.tick = tick
    }

    package func run() async throws {
        if let gate { await cancelWhenGracefulShutdownOrReturn { await gate.wait() } }
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                try await tick()
            } catch {
                logger.error("\(name) failed", metadata: ["error": "\(error)"])
            }
            await cancelWhenGracefulShutdownOrReturn { try? await Task.sleep(for: interval) }
        }
    }
}
