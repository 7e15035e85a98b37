import BasketService
import Contracts
import EventBus
import Foundation
import GatewayService
import IdentityService
import NotificationService
import OrderingService
import PaymentService
import ProductService
import ServiceKit
import ShippingService
import Testing
import TestSupport
import Yams

/// `ShopSettings` against what the processes read, the README and the deployments' environments.
@Suite struct SettingsTests {
    /// What each process reads, built from `environment` the way its `main` does (`ShopProcess`:
    /// logging, tracing, the servers' deadlines, then the configuration).
    static func reads(of process: String, _ environment: [String: String]) throws -> [String: SettingsReads.Read] {
        let settings = Settings(environment)
        _ = LoggingSetup.level(settings)
        _ = ShopTracing.endpoint(settings)
        _ = try ServerTimeouts(settings: settings)
        _ = try ShopProcess.nioGlobalExecutor(settings, of: process)
        switch process {
        case ShopSettings.gateway: _ = try GatewayConfig(settings: settings)
        case ShopSettings.identity: _ = try IdentityConfig(settings: settings)
        case ShopSettings.product: _ = try ProductServiceConfig(settings: settings)
        case ShopSettings.basket: _ = try BasketServiceConfig(settings: settings)
        case ShopSettings.ordering: _ = try OrderingServiceConfig(settings: settings)
        case ShopSettings.payment: _ = try PaymentServiceConfig(settings: settings)
        case ShopSettings.shipping: _ = try ShippingServiceConfig(settings: settings)
        case ShopSettings.notification: _ = try NotificationServiceConfig(settings: settings)
        default: Issue.record("no configuration for \(process)")
        }
        return settings.reads.all
    }

    /// The environments each process is read under: its defaults, a database with TLS and a minimum
    /// of connections (the gateway's is optional), and the aws mode with its pool.
    static let environments: [[String: String]] = [
        [:],
        ["DATABASE_URL": "postgres://a:b@db/x", "DATABASE_MIN_CONNECTIONS": "1", "BUS_DATABASE_MIN_CONNECTIONS": "1",
         "DATABASE_TLS": "require", "BUS_DATABASE_TLS": "require"],
        ["BUS_MODE": "aws", "COGNITO_ISSUER": "https://cognito-idp.eu-west-1.amazonaws.com/pool", "COGNITO_CLIENT_ID": "client"],
    ]

    @Test(arguments: ShopSettings.servers)
    func everySettingAProcessReadsIsDeclaredForItWithItsKindAndDefault(process: String) throws {
        var read: Set<String> = []
        for environment in Self.environments {
            for (name, reading) in try Self.reads(of: process, environment) {
                read.insert(name)
                guard let declaration = ShopSettings.declaration(name) else {
                    Issue.record("\(process) reads \(name), which ShopSettings does not declare")
                    continue
                }
                #expect(declaration.readers.contains(process), "\(name) is read by \(process) but not declared for it")
                if reading.defaultValue != nil {  // a typed read (an optional one is text by nature)
                    #expect(declaration.kind == reading.kind, "\(name) is read as \(reading.kind) but declared \(declaration.kind)")
                }
                if case .value(let value) = declaration.defaultValue, let used = reading.defaultValue {
                    #expect(used == value, "\(process) defaults \(name) to \(used), the declaration says \(value)")
                }
                if case .none = declaration.defaultValue, let used = reading.defaultValue {
                    Issue.record("\(process) defaults \(name) to \(used), the declaration says it has none")
                }
            }
        }
        let service = try #require(ShopService.all.first { $0.executable == process })
        #expect(try Self.reads(of: process, [:])["PORT"]?.defaultValue == String(service.port), "the port of Services.swift")
        let declared = Set(ShopSettings.of(process).map(\.name))
        #expect(declared.subtracting(read).sorted() == [], "declared for \(process) but never read by it")
    }

    @Test func theREADMEShowsTheSettingsTable() throws {
        let shown = try #require(try readmeSection(begin: SettingsTable.begin, end: SettingsTable.end), "README.md lacks the settings markers")
        #expect(shown == SettingsTable.markdown, "README.md's configuration table differs from ShopSettings; run `swift run bus settings --write`")
    }

    @Test func eachSettingIsDeclaredOnceAndEverySecretIsRedacted() {
        let names = ShopSettings.all.map(\.name)
        #expect(Set(names).count == names.count)
        let reads = Settings(["DATABASE_PASSWORD": "hunter2", "DATABASE_URL": "postgres://u:hunter2@db/x", "CHECKOUT_FINGERPRINT_KEY": "k3y"])
        _ = reads.optionalString("DATABASE_PASSWORD")
        _ = reads.string("DATABASE_URL", default: "")
        _ = reads.string("CHECKOUT_FINGERPRINT_KEY", default: "local")
        let shown = ShopSettings.effective(reads.reads.all)
        #expect(!shown.values.joined().contains("hunter2") && !shown.values.joined().contains("k3y"))
        #expect(shown["DATABASE_URL"] == "postgres://u:***@db/x")
    }

    @Test func aTypoOfTheShopsPrefixesIsUnknownAndOthersAreNot() {
        let environment = ["ORDER_STEP_TIMEOUT": "5000", "ORDER_STEP_TIMEOUT_MS": "5000", "PATH": "/bin", "USER": "root", "AWS_PROFILE": "x",
                           "PRODUCT_SERVICE_PODS_SERVICE_HOST": "10.0.0.1", "PRODUCT_SERVICE_PODS_PORT_8081_TCP": "tcp://10.0.0.1:8081",
                           "WEBHOOK_ALLOW_PRIVAT": "true", "OTEL_SERVICE_NAME": "x"]
        #expect(ShopSettings.unknown(in: environment) == ["ORDER_STEP_TIMEOUT", "WEBHOOK_ALLOW_PRIVAT"])
    }

    /// Every variable the deployments give a process is declared (names used only in `$(NAME)`
    /// substitutions of the same file are helpers, not settings).
    @Test(arguments: ["docker-compose.yml", "deploy/aws/template.yaml"] + SettingsTests.kubernetesFiles)
    func theDeploymentsSetOnlyDeclaredSettings(path: String) throws {
        let text = try String(contentsOf: repositoryRoot.appendingPathComponent(path), encoding: .utf8)
        // Kubernetes: only the shop's containers (not postgres.yaml's), ConfigMaps and patches of them.
        if path.hasPrefix("deploy/kubernetes/"), text.contains("image:"), !text.contains("image: swn-shop") { return }
        let names = Self.environmentNames(in: text, path: path)
        #expect(!names.isEmpty || path.hasPrefix("deploy/kubernetes/"), "found no environment in \(path)")
        let helpers = path.hasPrefix("deploy/kubernetes/") ? Self.kubernetesSubstitutions : []
        for name in names.sorted() where ShopSettings.declaration(name) == nil && !helpers.contains(name) {
            Issue.record("\(path) sets \(name), which ShopSettings does not declare")
        }
    }

    /// Names the manifests use only in `$(NAME)` substitutions (`DATABASE_HOST`) and for KEDA's SQS
    /// scaler (`queueURLFromEnv: SQS_QUEUE_URL_…`): the container's environment, never read by the shop.
    static let kubernetesSubstitutions: Set<String> = {
        var names: Set<String> = []
        let regex = try! NSRegularExpression(pattern: #"(?:\$\(|queueURLFromEnv: )([A-Z][A-Z0-9_]+)"#)
        for path in kubernetesFiles {
            let text = (try? String(contentsOf: repositoryRoot.appendingPathComponent(path), encoding: .utf8)) ?? ""
            for match in regex.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
                if let range = Range(match.range(at: 1), in: text) { names.insert(String(text[range])) }
            }
        }
        return names
    }()

    static let kubernetesFiles: [String] = {
        let root = repositoryRoot.appendingPathComponent("deploy/kubernetes")
        let files = FileManager.default.enumerator(atPath: root.path)?.compactMap { $0 as? String } ?? []
        return files.filter { $0.hasSuffix(".yaml") && !$0.hasSuffix("kustomization.yaml") }.sorted().map { "deploy/kubernetes/" + $0 }
    }()

    /// The variables a file sets: compose's `environment:` maps of the shop's images, the template's
    /// `{Name: X, Value: …}` pairs, Kubernetes' `env` names and ConfigMap data.
    static func environmentNames(in text: String, path: String) -> Set<String> {
        var names: Set<String> = []
        let shopImages = Set(ShopSettings.servers + ["database-setup"])
        if path == "docker-compose.yml", let document = try? Yams.load(yaml: text) as? [String: Any],
           let services = document["services"] as? [String: Any] {
            for (name, service) in services where shopImages.contains(name) {
                let environment = (service as? [String: Any])?["environment"] as? [String: Any] ?? [:]
                names.formUnion(environment.keys)
            }
            return names
        }
        let patterns = [#"\{Name: ([A-Z][A-Z0-9_]+), Value(?:From)?:"#, #"- name: ([A-Z][A-Z0-9_]+)\s*$"#, #"^  ([A-Z][A-Z0-9_]+): "#]
        for pattern in patterns {
            let regex = try! NSRegularExpression(pattern: pattern, options: [.anchorsMatchLines])
            for match in regex.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
                if let range = Range(match.range(at: 1), in: text) { names.insert(String(text[range])) }
            }
        }
        return names
    }
}
