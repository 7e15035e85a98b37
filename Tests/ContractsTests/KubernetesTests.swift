import Contracts
import EventBus
import Foundation
import ServiceKit
import Testing

/// deploy/kubernetes/ is what `bus kubernetes --write` renders from the service list and the topology,
/// and the rendering follows the contract (ports, databases, queues). `deploy/kubernetes/check.py`
/// (CI) builds the overlays with kustomize and validates them against the Kubernetes schemas.
struct KubernetesTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test func theCommittedManifestsAreTheRendering() throws {
        let rendered = KubernetesManifests.render()
        let directory = Self.root.appendingPathComponent("deploy/kubernetes")
        for (path, text) in rendered {
            let committed = try? String(contentsOf: directory.appendingPathComponent(path), encoding: .utf8)
            #expect(committed == text, "deploy/kubernetes/\(path) differs from the rendering; run `swift run bus kubernetes --write`")
        }
        let onDisk = (FileManager.default.enumerator(atPath: directory.path)?.compactMap { $0 as? String } ?? []).filter { $0.hasSuffix(".yaml") }
        #expect(Set(onDisk) == Set(rendered.keys), "YAML files no rendering makes: \(Set(onDisk).subtracting(rendered.keys))")
    }

    @Test func everyProcessIsDeployedAsTheContractSays() throws {
        let rendered = KubernetesManifests.render()
        let topology = BusTopology.shop()
        for service in ShopService.all {
            let file = try #require(rendered["base/\(service.executable).yaml"])
            #expect(file.contains("kind: Deployment\nmetadata:\n  name: \(service.executable)\n"))
            #expect(file.contains("containerPort: \(service.port)\n"), "\(service.executable) listens on \(service.port)")
            #expect(file.contains("replicas: 2\n") && file.contains("kind: PodDisruptionBudget"))
            if let database = service.database {
                #expect(file.contains("postgres://\(database)@$(DATABASE_HOST):5432/\(database)"), "\(service.executable) connects as its own role")
                #expect(file.contains("name: swn-\(database)-database"), "\(service.executable) takes its own secret")
            }
            let queues = topology.queues.filter { $0.consumer == service.executable && !$0.name.hasSuffix("-dlq") }
            for overlay in ["local", "aws"] where service != .product {
                let scaling = try #require(rendered["overlays/\(overlay)/scaling.yaml"])
                for queue in queues {
                    #expect(scaling.contains(overlay == "local" ? "queue = '\(queue.name)'" : "SQS_QUEUE_URL_\(queue.name.uppercased().replacingOccurrences(of: "-", with: "_"))"),
                            "\(overlay): \(service.executable) scales on \(queue.name)")
                }
            }
        }
        // The gateway reaches every replica: each upstream's headless Service, in the shared settings.
        let config = try #require(rendered["base/config.yaml"])
        for service in ShopRoutes.upstreams {
            #expect(config.contains("\(service.urlSetting): \"http://\(service.executable)-pods:\(service.port)\"") || config.contains("\(service.urlSetting): http://\(service.executable)-pods:\(service.port)"))
        }
        // Every database role's secret is made by the local overlay and read by the set-up job.
        let local = try #require(rendered["overlays/local/kustomization.yaml"])
        let setup = try #require(rendered["overlays/local/database-setup.yaml"])
        for database in ShopService.databases {
            #expect(local.contains("name: swn-\(database)-database"))
            #expect(setup.contains("name: \(database.uppercased())_DATABASE_PASSWORD"))
        }
    }
}

/// The template's compute section follows the contract: every process that runs on AWS has a task,
/// two tasks at least and autoscaling — on the backlog of each queue it consumes, or on CPU.
struct ServiceTemplateTests {
    @Test func everyProcessOnAWSRunsTwiceAndScales() {
        let section = ServiceTemplate.section()
        let topology = BusTopology.shop()
        for service in ShopService.all {
            let id = service.name.prefix(1).uppercased() + service.name.dropFirst()
            #expect(section.contains("  \(id)Task:\n") == service.runsOnAWS, "\(service.executable)")
            guard service.runsOnAWS else { continue }
            #expect(section.contains("Command: [\(service.executable)]\n          PortMappings: [{ContainerPort: \(service.port)}]"))
            #expect(section.contains("TaskDefinition: !Ref \(id)Task"))
            #expect(section.contains("  \(id)ScalableTarget:") && section.contains("  \(id)ScalingPolicy:"))
            for callee in service.calls {
                #expect(section.contains("{Name: \(callee.urlSetting), Value: \"http://\(callee.name).swn.local:\(callee.port)\"}"))
            }
            if service != .product && service != .gateway {
                for queue in topology.queues where queue.consumer == service.executable && queue.deadLetterQueue != nil {
                    #expect(section.contains("Value: !GetAtt \(BusTopology.logicalID(queue: queue.name)).QueueName}"), "\(service.executable) scales on \(queue.name)")
                }
            }
        }
        #expect(!section.contains("DesiredCount: 1"))
    }
}

/// The compose file's services and Prometheus's scrape jobs are what `bus compose --write` renders.
struct LocalDeploymentTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test func theComposeFileAndThePrometheusJobsAreTheRendering() throws {
        for (path, begin, end, section) in [
            ("docker-compose.yml", LocalDeployment.composeBegin, LocalDeployment.composeEnd, LocalDeployment.composeSection()),
            ("deploy/observability/prometheus.yml", LocalDeployment.prometheusBegin, LocalDeployment.prometheusEnd, LocalDeployment.prometheusSection()),
        ] {
            let text = try String(contentsOf: Self.root.appendingPathComponent(path), encoding: .utf8)
            let rendered = try #require(text.replacingSection(from: begin, through: end, with: section), "\(path) lacks its generated section's markers")
            #expect(rendered == text, "\(path) differs from Services.swift; run `swift run bus compose --write`")
        }
        // Every process scales: no container names, no host ports but the published gateway's and identity's.
        let section = LocalDeployment.composeSection()
        #expect(!section.contains("container_name"))
        #expect(section.components(separatedBy: "ports:").count - 1 == 2)
    }
}
