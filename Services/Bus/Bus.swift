import ArgumentParser
import Contracts
import EventBus
import Foundation
import Logging
import OrderingService
import PostgresNIO
import ServiceKit

/// `bus`: the shop's bus topology written out for the places that cannot import Swift, the list of
/// services, and the local bus's queues (depths, messages, redrive of dead letters).
@main
struct Bus: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The shop's bus topology and services, and its queues (local or SQS).",
        discussion: ShopSettings.help(for: ShopSettings.bus),
        subcommands: [Topology.self, CloudFormation.self, StateMachine.self, Kubernetes.self, Compose.self, Routes.self, Events.self, SettingsCommand.self, Lifecycle.self, Services.self, Databases.self, Queues.self, Messages.self, Redrive.self]
    )
}

/// Queue settings as the services read them (`QUEUE_VISIBILITY_TIMEOUT_MS`, `QUEUE_MAX_RECEIVE_COUNT`,
/// `EVENT_BUS_NAME`), overridable by options.
struct TopologyOptions: ParsableArguments {
    @Option(help: "Visibility timeout in seconds (default: QUEUE_VISIBILITY_TIMEOUT_MS or 30).")
    var visibilityTimeout: Int?
    @Option(help: "Receives before a message moves to its dead-letter queue (default: QUEUE_MAX_RECEIVE_COUNT or 5).")
    var maxReceiveCount: Int?

    func topology() throws -> BusTopology {
        let settings = try BusSettings(settings: Settings())
        return .shop(
            eventBusName: settings.eventBusName,
            visibilityTimeout: visibilityTimeout.map { .seconds($0) } ?? settings.visibilityTimeout,
            maxReceiveCount: maxReceiveCount ?? settings.maxReceiveCount
        )
    }
}

struct Topology: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the topology as JSON (what scripts/moto_bus.py declares).")
    @OptionGroup var options: TopologyOptions

    func run() throws {
        print(String(decoding: try JSONValue.encoder.encode(try options.topology().json), as: UTF8.self))
    }
}

struct CloudFormation: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cloudformation",
        abstract: "The generated sections of the CloudFormation template (the bus, the services): print them, check the committed template, or rewrite it."
    )
    @Option(help: "The template.") var template = "deploy/aws/template.yaml"
    @Flag(help: "Exit 1 when the template's generated sections differ from the topology.") var check = false
    @Flag(help: "Rewrite the template's generated sections.") var write = false

    func run() throws {
        // The template uses parameters for the queue settings, so the defaults render it.
        let topology = BusTopology.shop()
        guard check || write else {
            print(topology.cloudFormationResources)
            print(ServiceTemplate.section(topology: topology))
            print(topology.cloudFormationOutputs)
            return
        }
        let current = try String(contentsOfFile: template, encoding: .utf8)
        guard let updated = topology.updatingCloudFormation(current).flatMap({ ServiceTemplate.updating($0, topology: topology) }) else {
            throw ValidationError("\(template) lacks the markers \(BusTopology.resourcesBegin) … \(BusTopology.resourcesEnd), \(ServiceTemplate.begin) … \(ServiceTemplate.end) and \(BusTopology.outputsBegin) … \(BusTopology.outputsEnd)")
        }
        if write {
            if updated != current { try updated.write(toFile: template, atomically: true, encoding: .utf8) }
            print(updated == current ? "\(template) is up to date" : "rewrote the bus sections of \(template)")
        } else if updated != current {
            FileHandle.standardError.write(Data("\(template) differs from the topology and the services; run `swift run bus cloudformation --write`\n".utf8))
            throw ExitCode(1)
        }
    }
}

struct StateMachine: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "asl",
        abstract: "The order saga as an Amazon States Language state machine, rendered from OrderSaga: print the definition, or rewrite the template's state machine section (a test compares)."
    )
    @Option(help: "The template.") var template = "deploy/aws/template.yaml"
    @Option(help: "The README (its diagram of the state machine).") var readme = "README.md"
    @Flag(help: "Rewrite the template's state machine section and the README's diagram.") var write = false
    @Flag(help: "Exit 1 when the template's state machine or the README's diagram differs from the rendering.") var check = false

    func run() throws {
        guard write || check else {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
            let definition = OrderSagaMachine.definition()
            return print(String(decoding: try encoder.encode(definition), as: UTF8.self))
        }
        // The template's state machine, and the README's diagram of the same definition.
        let diagram = OrderSagaMachine.mermaid(OrderSagaMachine.definition())
        try syncSections([
            (template, OrderSagaMachine.begin, OrderSagaMachine.end, OrderSagaMachine.cloudFormation()),
            (readme, OrderSagaMachine.diagramBegin, OrderSagaMachine.diagramEnd, OrderSagaMachine.diagramBegin + "\n" + diagram + "\n" + OrderSagaMachine.diagramEnd),
        ], write: write, source: "OrderSaga", command: "asl")
    }
}

struct Kubernetes: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "deploy/kubernetes/ (kustomize base and overlays) from the service list and the topology: list, check or rewrite it."
    )
    @Option(help: "The folder.") var directory = "deploy/kubernetes"
    @Flag(help: "Exit 1 when a file differs from the rendering (or is missing, or is not rendered).") var check = false
    @Flag(help: "Rewrite the files (and remove YAML files the rendering no longer has).") var write = false

    func run() throws {
        let files = KubernetesManifests.render()
        guard check || write else {
            files.keys.sorted().forEach { print("\(directory)/\($0)") }
            return
        }
        let manager = FileManager.default
        var differing: [String] = []
        for (path, text) in files.sorted(by: { $0.key < $1.key }) {
            let full = "\(directory)/\(path)"
            guard (try? String(contentsOfFile: full, encoding: .utf8)) != text else { continue }
            differing.append(full)
            if write {
                try manager.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                try text.write(toFile: full, atomically: true, encoding: .utf8)
            }
        }
        let extra = (manager.enumerator(atPath: directory)?.compactMap { $0 as? String } ?? [])
            .filter { $0.hasSuffix(".yaml") && files[$0] == nil }.map { "\(directory)/\($0)" }
        if write {
            for path in extra { try manager.removeItem(atPath: path) }
            print(differing.isEmpty && extra.isEmpty ? "\(directory) is up to date" : "rewrote \((differing + extra).joined(separator: ", "))")
        } else if !(differing + extra).isEmpty {
            FileHandle.standardError.write(Data("differs from the rendering: \((differing + extra).joined(separator: ", ")); run `swift run bus kubernetes --write`\n".utf8))
            throw ExitCode(1)
        }
    }
}

struct Compose: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The compose file's services section and Prometheus's scrape jobs, from the service list: print, check or rewrite them."
    )
    @Option(help: "The compose file.") var compose = "docker-compose.yml"
    @Option(help: "Prometheus's configuration.") var prometheus = "deploy/observability/prometheus.yml"
    @Flag(help: "Exit 1 when a file's generated section differs.") var check = false
    @Flag(help: "Rewrite the generated sections.") var write = false

    func run() throws {
        let sections: [(path: String, begin: String, end: String, section: String)] = [
            (compose, LocalDeployment.composeBegin, LocalDeployment.composeEnd, LocalDeployment.composeSection()),
            (prometheus, LocalDeployment.prometheusBegin, LocalDeployment.prometheusEnd, LocalDeployment.prometheusSection()),
        ]
        guard check || write else {
            sections.forEach { print($0.3) }
            return
        }
        try syncSections(sections, write: write, source: "Services.swift", command: "compose")
    }
}

/// Compares each file's generated section (from `begin` through `end`) with its rendering `section`;
/// with `write`, rewrites those that differ, else exits 1 naming them (`bus <command> --write` mends).
func syncSections(_ sections: [(path: String, begin: String, end: String, section: String)], write: Bool, source: String, command: String) throws {
    var differing: [String] = []
    for (path, begin, end, section) in sections {
        let current = try String(contentsOfFile: path, encoding: .utf8)
        guard let updated = current.replacingSection(from: begin, through: end, with: section) else {
            throw ValidationError("\(path) lacks the markers \(begin) … \(end)")
        }
        guard updated != current else { continue }
        differing.append(path)
        if write { try updated.write(toFile: path, atomically: true, encoding: .utf8) }
    }
    if write {
        print(differing.isEmpty ? "up to date" : "rewrote \(differing.joined(separator: ", "))")
    } else if differing.isEmpty {
        print("\(sections.map(\.path).joined(separator: " and ")) are the rendering of \(source)")
    } else {
        FileHandle.standardError.write(Data("\(differing.joined(separator: ", ")) differ from \(source); run `swift run bus \(command) --write`\n".utf8))
        throw ExitCode(1)
    }
}

struct Routes: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "The route table as Markdown: print it, or rewrite the README's copy (a test compares).")
    @Option(help: "The README.") var readme = "README.md"
    @Flag(help: "Rewrite the table between the README's routes markers.") var write = false

    static let begin = "<!-- routes: rendered from Shared/Contracts/Routes.swift (ShopRoutes.markdownTable); a test compares -->\n"
    static let end = "\n<!-- /routes -->"

    func run() throws {
        guard write else { return print(ShopRoutes.markdownTable) }
        try rewriteSection(of: readme, begin: Self.begin, end: Self.end, with: ShopRoutes.markdownTable, what: "route table")
    }
}

struct Events: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The events table (detail-type, source, publisher, detail type, rules and queues) from the contracts: print it, or rewrite the README's copy (a test compares)."
    )
    @Option(help: "The README.") var readme = "README.md"
    @Flag(help: "Rewrite the table between the README's events markers.") var write = false

    func run() throws {
        guard write else { return print(EventsTable.markdown) }
        try rewriteSection(of: readme, begin: EventsTable.begin, end: EventsTable.end, with: EventsTable.markdown, what: "events table")
    }
}

struct SettingsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "settings",
        abstract: "Every process's settings (ShopSettings: name, readers, default, secret, documentation): print the table, or rewrite the README's copy (a test compares)."
    )
    @Option(help: "The README.") var readme = "README.md"
    @Flag(help: "Rewrite the table between the README's settings markers.") var write = false

    func run() throws {
        guard write else { return print(SettingsTable.markdown) }
        try rewriteSection(of: readme, begin: SettingsTable.begin, end: SettingsTable.end, with: SettingsTable.markdown, what: "settings table")
    }
}

/// Rewrites what stands between `begin` and `end` in the file `path` (the markers stay) with `section`.
func rewriteSection(of path: String, begin: String, end: String, with section: String, what: String) throws {
    let current = try String(contentsOfFile: path, encoding: .utf8)
    guard let updated = current.replacingSection(from: begin, through: end, with: begin + section + end) else {
        throw ValidationError("\(path) lacks the \(what)'s markers")
    }
    if updated != current { try updated.write(toFile: path, atomically: true, encoding: .utf8) }
    print(updated == current ? "\(path)'s \(what) is up to date" : "rewrote \(path)'s \(what)")
}

struct Lifecycle: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The order lifecycle's vocabulary: rewrite the storefront's lifecycle.js and the README's diagram from Shared/Contracts/OrderLifecycle.swift (a test compares)."
    )
    @Option(help: "The README.") var readme = "README.md"
    @Flag(help: "Rewrite the files (else print the storefront module).") var write = false

    func run() throws {
        guard write else { return print(OrderLifecycleDocuments.storefrontModule) }
        let module = OrderLifecycleDocuments.storefrontPath
        if (try? String(contentsOfFile: module, encoding: .utf8)) != OrderLifecycleDocuments.storefrontModule {
            try OrderLifecycleDocuments.storefrontModule.write(toFile: module, atomically: true, encoding: .utf8)
            print("rewrote \(module)")
        }
        let current = try String(contentsOfFile: readme, encoding: .utf8)
        guard let updated = OrderLifecycleDocuments.replacingDiagram(in: current) else {
            throw ValidationError("\(readme) lacks the lifecycle markers")
        }
        if updated != current { try updated.write(toFile: readme, atomically: true, encoding: .utf8) }
        print(updated == current ? "\(readme)'s lifecycle diagram is up to date" : "rewrote \(readme)'s lifecycle diagram")
    }
}

struct Services: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The shop's processes, one per line: name, executable, port, database (`-` for none). `--databases`: the databases to create."
    )
    @Flag(help: "Print only the database names.") var databases = false

    func run() {
        if databases {
            ShopService.databases.forEach { print($0) }
        } else {
            for service in ShopService.all { print("\(service.name) \(service.executable) \(service.port) \(service.database ?? "-")") }
        }
    }
}

/// Gives every service a database role of its own (`DatabaseBootstrap.provision`): run once by an
/// administrator before the services start (`make run`, compose's `database-setup`, the template's
/// set-up task), again to change passwords.
struct Databases: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create (or update) one role per service that owns only its database.",
        discussion: """
            The administrator comes from DATABASE_ADMIN_URL (postgres://user:password@host:port/postgres; \
            DATABASE_ADMIN_PASSWORD wins over the URL's, DATABASE_TLS and DATABASE_TLS_CA_FILE apply). \
            Each role is named like its database and takes its password from <NAME>_DATABASE_PASSWORD \
            (PRODUCT_DATABASE_PASSWORD, ..., BUS_DATABASE_PASSWORD).
            """
    )
    @Argument(help: "The databases (default: every service's and the local bus's).") var names: [String] = []
    @Option(help: "A prefix for the role and database names (test runs).") var prefix = ""

    func run() async throws {
        let settings = Settings()
        LoggingSetup.bootstrap(settings: settings)
        let logger = Logger(label: "bus.databases")
        var admin = try DatabaseSettings(url: settings.string("DATABASE_ADMIN_URL", default: "postgres://swn:swn@localhost:5432/postgres"))
        if let password = settings.optionalString("DATABASE_ADMIN_PASSWORD") { admin.password = password }
        if let mode = settings.optionalString("DATABASE_TLS") {
            try admin.useTLS(DatabaseTLSMode(mode, caFile: settings.optionalString("DATABASE_TLS_CA_FILE"), key: "DATABASE_TLS"))
        }
        let chosen = names.isEmpty ? ShopService.databases : names
        let passwords = chosen.map { (name: $0, key: Self.passwordSetting($0)) }.map { ($0.name, $0.key, settings.optionalString($0.key)) }
        let missing = passwords.filter { $0.2?.isEmpty ?? true }.map(\.1)
        guard missing.isEmpty else { throw ValidationError("set \(missing.joined(separator: ", "))") }
        for (name, _, password) in passwords {
            try await DatabaseBootstrap.provision(database: prefix + name, role: prefix + name, password: password ?? "", admin: admin, logger: logger)
            print("\(prefix + name): role and database ready")
        }
    }

    /// `PRODUCT_DATABASE_PASSWORD` for `product`.
    static func passwordSetting(_ database: String) -> String {
        database.uppercased().replacingOccurrences(of: "-", with: "_") + "_DATABASE_PASSWORD"
    }
}

/// A command against the configured bus: the local bus's database (`BUS_DATABASE_URL`), or SQS
/// with `BUS_MODE=aws` (the standard AWS variables, `AWS_ENDPOINT_URL_SQS` for moto or LocalStack).
protocol BusCommand: AsyncParsableCommand {
    func run(_ admin: any BusAdministration) async throws
}

extension BusCommand {
    func run() async throws {
        let settings = Settings()
        LoggingSetup.bootstrap(settings: Settings(settings.values.merging(["LOG_LEVEL": "error"]) { old, _ in old }))
        let logger = Logger(label: "bus")
        let busSettings = try BusSettings(settings: settings)
        let connection = try EventBusConnection(busSettings, topology: busSettings.shopTopology, logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for service in connection.services { group.addTask { try await service.run() } }
            defer { group.cancelAll() }
            try await withTimeout(.seconds(30)) { try await connection.prepare() }
            try await run(connection.administration)
        }
    }
}

struct Queues: BusCommand {
    static let configuration = CommandConfiguration(abstract: "Queue depths (visible / in flight) of every queue and dead-letter queue.")

    func run(_ admin: any BusAdministration) async throws {
        print("QUEUE                     VISIBLE  IN-FLIGHT  DEAD-LETTER-QUEUE")
        for queue in try await admin.stats() {
            print(queue.name.padding(toLength: 26, withPad: " ", startingAt: 0)
                + String(queue.visible).padding(toLength: 9, withPad: " ", startingAt: 0)
                + String(queue.inFlight).padding(toLength: 11, withPad: " ", startingAt: 0)
                + (queue.deadLetterQueue ?? "-"))
        }
    }
}

struct Messages: BusCommand {
    static let configuration = CommandConfiguration(
        abstract: "The first messages of a queue, as JSON lines, left where they are.",
        discussion: "On SQS a look is a receive with a visibility timeout of 0: on a queue with a redrive policy it counts towards maxReceiveCount. Look at dead-letter queues freely."
    )
    @Argument(help: "The queue.") var queue: String
    @Argument(help: "How many.") var limit = 20

    func run(_ admin: any BusAdministration) async throws {
        for message in try await admin.messages(in: queue, limit: limit) {
            print(String(decoding: try JSONOutput.encoder.encode(message), as: UTF8.self))
        }
    }
}

struct Redrive: BusCommand {
    static let configuration = CommandConfiguration(
        abstract: "Move a dead-letter queue's messages back to the queue they came from.",
        discussion: "On SQS this starts a StartMessageMoveTask; --by-hand moves them one by one (receive, send, delete) where that call is missing (moto)."
    )
    @Argument(help: "The dead-letter queue.") var deadLetterQueue: String
    @Flag(help: "On SQS: move message by message instead of StartMessageMoveTask.") var byHand = false

    func run(_ admin: any BusAdministration) async throws {
        if byHand, let sqs = admin as? SQSBusAdmin {
            print(try await sqs.redriveByHand(deadLetterQueue: deadLetterQueue))
        } else {
            print(try await admin.redrive(deadLetterQueue: deadLetterQueue))
        }
    }
}
