import AWS
import Logging
import PostgresNIO
import ServiceKit
import ServiceLifecycle

/// The bus a service was configured with: its publisher, its queues, and the long-lived services
/// and readiness checks that come with it. Services above this line do not know which bus it is.
package struct EventBusConnection: Sendable {
    package let publisher: BusPublisher
    package let services: [any Service]
    package let readinessChecks: [ReadinessCheck]
    /// Where the answers to a state machine's task tokens go (aws mode with a declared state machine).
    package let callbacks: TaskCallbacks?
    private let backend: Backend

    private enum Backend: Sendable {
        case local(LocalBus, BusTopology, DatabaseSettings, Logger)
        /// SQS queues are found by name (or given as URLs in `<QUEUE>_URL` style settings by the caller).
        case aws(sqs: AWSJSONClient, topology: BusTopology)
    }

    package init(_ settings: BusSettings, topology: BusTopology, logger: Logger) throws {
        switch settings.mode {
        case .local:
            var database = settings.database
            database.sessionParameters = [
                // Commits on the bus need not wait for the disk, but stores may (see `LocalBus`).
                ("synchronous_commit", "off"),
                // A queue's rows come and go in seconds, so its index holds many dead entries between two
                // vacuums; the planner, seeing a nearly empty table, would read them all through a bitmap
                // and sort. An index scan in `seq` order stops at the first visible rows and skips the
                // entries earlier scans marked dead.
                ("enable_bitmapscan", "off"),
            ]
            let client = DatabasePool(settings: database, logger: logger)
            let bus = LocalBus(client: client, logger: logger)
            backend = .local(bus, topology, settings.database, logger)
            publisher = .local(bus.publisher(to: settings.eventBusName))
            services = [client, bus.notifier]
            readinessChecks = [.postgres(client, name: "bus", logger: logger)]
            callbacks = nil
        case .aws:
            let http = HTTPClientService()
            let credentials = CredentialsProvider(environment: settings.environment, httpClient: http.client, logger: logger)
            let events = AWSJSONClient(
                endpoint: AWSEndpoint(service: "EVENTBRIDGE", signingName: "events", hostPrefix: "events", environment: settings.environment),
                targetPrefix: "AWSEvents", contentType: "application/x-amz-json-1.1", credentials: credentials, httpClient: http.client
            )
            let sqs = AWSJSONClient(
                endpoint: AWSEndpoint(service: "SQS", signingName: "sqs", hostPrefix: "sqs", environment: settings.environment),
                targetPrefix: "AmazonSQS", contentType: "application/x-amz-json-1.0", credentials: credentials, httpClient: http.client
            )
            backend = .aws(sqs: sqs, topology: topology)
            let stepFunctions = StepFunctionsClient(environment: settings.environment, credentials: credentials, httpClient: http.client)
            publisher = .aws(StateMachinePublisher(
                bus: EventBridgePublisher(client: events, eventBusName: settings.eventBusName), stepFunctions: stepFunctions,
                declaration: topology.stateMachine, stateMachineArn: settings.stateMachineArn
            ))
            callbacks = topology.stateMachine.map { TaskCallbacks(stepFunctions: stepFunctions, declaration: $0) }
            services = [http]
            let busName = settings.eventBusName
            readinessChecks = [ReadinessCheck("bus") { _ = try await events.call("DescribeEventBus", ["Name": busName], timeout: .seconds(2)) }]
        }
    }

    /// Declares the local topology; on AWS the infrastructure (CloudFormation) owns it.
    package func prepare() async throws {
        if case .local(let bus, let topology, let database, let logger) = backend {
            try await DatabaseBootstrap.createIfMissing(database, logger: logger)
            try await bus.install(topology)
        }
    }

    /// Tells the local bus whether the publishing service's database `client` shares its Postgres
    /// (then stores need not wait for the disk; see `LocalBus`). Nothing to do on AWS.
    package func publishing(from client: DatabasePool) async throws {
        if case .local(let bus, _, _, _) = backend { try await bus.sharesCluster(with: client) }
    }

    /// Depths, messages and redrive of this bus's queues (the `bus` command line).
    package var administration: any BusAdministration {
        switch backend {
        case .local(let bus, _, _, _): LocalBusAdmin(bus: bus)
        case .aws(let sqs, let topology): SQSBusAdmin(sqs: sqs, topology: topology)
        }
    }

    /// The queue called `name` (on SQS, a queue name or URL).
    package func queue(_ name: String) -> BusQueue {
        switch backend {
        case .local(let bus, _, _, _): .local(bus.queue(name))
        case .aws(let sqs, _): .aws(SQSQueue(client: sqs, queue: name))
        }
    }
}
