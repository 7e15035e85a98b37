import Foundation
import Hummingbird
import Logging
import Metrics
import PostgresNIO
import Synchronization
import ServiceKit
import ServiceLifecycle

/// The frame every service on the bus shares: its Postgres client, its bus connection, an HTTP
/// client, the outbox relay, and a start-up that creates the database, migrates it, declares the
/// bus topology and only then opens the gate for the relay and the consumers. A service adds its
/// router and its own long-lived tasks.
package struct BusServiceHost: Sendable {
    package let client: DatabasePool
    package let bus: EventBusConnection
    package let http: HTTPClientService
    /// Opens once the schema and the topology exist; consumers wait for it.
    package let started: StartupGate
    package let logger: Logger
    /// The queues this service reads (and their dead-letter queues), for the depth gauges.
    package let queues: [BusTopology.Queue]
    /// How often the bus and database gauges are refreshed (`METRICS_INTERVAL_MS`).
    package let metricsInterval: Duration

    package init(service: String, database: DatabaseSettings, bus settings: BusSettings, topology: BusTopology, logger: Logger) throws {
        client = DatabasePool(settings: database, logger: logger)
        bus = try EventBusConnection(settings, topology: topology, logger: logger)
        http = HTTPClientService()
        started = StartupGate()
        self.logger = logger
        queues = topology.queues.filter { $0.consumer == service }
        metricsInterval = settings.metricsInterval
    }

    /// The service's own database and the bus answer.
    package var readiness: [ReadinessCheck] { [.postgres(client, logger: logger)] + bus.readinessChecks }

    /// A consumer of `queue` that waits for the start-up.
    package func consumer<Handler: MessageHandler>(
        _ queue: String, _ handler: Handler, baseBackoff: Duration = .seconds(1), maximumBackoff: Duration = .seconds(60)
    ) -> QueueConsumer<BusQueue, Handler> {
        QueueConsumer(
            queue: bus.queue(queue), handler: handler, logger: logger, baseBackoff: baseBackoff, maximumBackoff: maximumBackoff, gate: started, name: queue,
            callbacks: bus.callbacks
        )
    }

    /// The application: `router` on `host:port`, the shared services plus `services`, and the
    /// start-up (database, migrations, topology), then `afterStart`.
    package func application(
        name: String, host: String, port: Int, database: DatabaseSettings, migrations: [Migration], router: Router<AppRequestContext>,
        services: [any Service], afterStart: @escaping @Sendable () async throws -> Void = {}
    ) -> some ApplicationProtocol {
        var app = Application(
            router: router, server: ServerTimeouts.current.http1,
            configuration: .init(address: .hostname(host, port: port), serverName: name), logger: logger
        )
        app.addServices(client, http)
        app.addServices(bus.services)
        app.addServices(OutboxRelay(client: client, publisher: bus.publisher, logger: logger, gate: started))
        app.addServices(metricsTask())
        app.addServices(services)
        let (client, bus, started, logger) = (client, bus, started, logger)
        app.beforeServerStarts {
            // A database that is restarting (or was created a moment ago) is waited for, up to 30 s.
            try await withTimeout(.seconds(30)) {
                try await retryingWhileDatabaseUnavailable {
                    try await DatabaseBootstrap.createIfMissing(database, logger: logger)
                    try await Migrator(migrations).migrate(client: client, logger: logger)
                    try await bus.prepare()
                    try await bus.publishing(from: client)
                }
            }
            await started.open()
            try await withTimeout(.seconds(30)) { try await retryingWhileDatabaseUnavailable { try await afterStart() } }
        }
        return app
    }
}

extension BusServiceHost {
    /// Refreshes the gauges of `/metrics`: outbox rows waiting and the age of the oldest, this
    /// database's connections by state, and the depth of the queues this service reads (visible and
    /// in flight; dead-letter queues too). A dead-letter queue that grew is also an error log line.
    func metricsTask() -> PeriodicTask {
        let (client, bus, queues, logger) = (client, bus, queues, logger)
        let lastDeadLetters = Mutex<[String: Int]>([:])
        return PeriodicTask("collecting metrics", every: metricsInterval, gate: started, logger: logger) {
            let outbox = try await client.query(
                "SELECT count(*)::bigint, coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8 FROM outbox WHERE published_at IS NULL",
                logger: logger
            )
            for try await (waiting, age) in outbox.decode((Int, Double).self) {
                Gauge(label: "outbox_pending_events").record(waiting)
                Gauge(label: "outbox_oldest_pending_age_seconds").record(age)
            }
            let connections = try await client.query(
                "SELECT coalesce(state, 'unknown'), count(*)::bigint FROM pg_stat_activity WHERE datname = current_database() GROUP BY 1",
                logger: logger
            )
            var byState: [String: Int] = ["active": 0, "idle": 0, "idle in transaction": 0]
            for try await (state, count) in connections.decode((String, Int).self) { byState[state] = count }
            for (state, count) in byState { Gauge(label: "db_connections", dimensions: [("state", state)]).record(count) }
            for queue in queues {
                let depth = try await bus.queue(queue.name).depth()
                Gauge(label: "bus_queue_messages", dimensions: [("queue", queue.name), ("state", "visible")]).record(depth.visible)
                Gauge(label: "bus_queue_messages", dimensions: [("queue", queue.name), ("state", "in_flight")]).record(depth.inFlight)
                guard queue.deadLetterQueue == nil else { continue }
                Gauge(label: "bus_dead_letter_messages", dimensions: [("queue", queue.name)]).record(depth.visible + depth.inFlight)
                let total = depth.visible + depth.inFlight
                let before = lastDeadLetters.withLock { last in
                    defer { last[queue.name] = total }
                    return last[queue.name]
                }
                if let before, total > before {
                    logger.error("messages moved to a dead-letter queue", metadata: [
                        "queue": "\(queue.name)", "added": "\(total - before)", "depth": "\(total)",
                    ])
                }
            }
        }
    }
}
