import Contracts
import EventBus
import Foundation
import Testing
import TestSupport

/// The bus topology is declared once (Shared/Contracts/Topology.swift). The CloudFormation
/// template's bus section is rendered from it and must not differ; the moto set-up reads it.
@Suite struct TopologyTests {
    static let templatePath = repositoryRoot.appendingPathComponent("deploy/aws/template.yaml").path

    @Test func theCommittedTemplateHoldsExactlyTheRenderedTopology() throws {
        let template = try String(contentsOfFile: Self.templatePath, encoding: .utf8)
        let rendered = try #require(BusTopology.shop().updatingCloudFormation(template).flatMap { ServiceTemplate.updating($0) }, "the template lacks the bus topology or services markers")
        if rendered != template {
            let differing = zip(template.split(separator: "\n", omittingEmptySubsequences: false), rendered.split(separator: "\n", omittingEmptySubsequences: false))
                .enumerated().first { $0.element.0 != $0.element.1 }
            Issue.record("""
                deploy/aws/template.yaml differs from Shared/Contracts/Topology.swift and Services.swift; run `swift run bus cloudformation --write`.
                First difference at line \((differing?.offset ?? 0) + 1): template has '\(differing?.element.0 ?? "")', topology renders '\(differing?.element.1 ?? "")'
                """)
        }
    }

    /// The README's events table is the rendering (`swift run bus events --write`), and every
    /// `EventType<Detail>` the README shows names a detail type an event is declared with.
    @Test func theREADMEShowsTheEventsTable() throws {
        let shown = try #require(try readmeSection(begin: EventsTable.begin, end: EventsTable.end), "README.md lacks the events markers")
        #expect(shown == EventsTable.markdown, "README.md's events table differs from the contracts; run `swift run bus events --write`")
        let readme = try String(contentsOf: repositoryRoot.appendingPathComponent("README.md"), encoding: .utf8)
        let declared = Set(ShopEvents.all.compactMap(\.detail))
        #expect(declared.count > 5 && !declared.contains(""), "\(declared)")
        for match in readme.matches(of: /EventType<(\w+)>/) {
            #expect(declared.contains(String(match.1)), "README.md names EventType<\(match.1)>, which no event is declared with")
        }
    }

    @Test func everyEventReachesAQueueAndEveryNameResolves() {
        let topology = BusTopology.shop()
        #expect(topology.problems.isEmpty, "\(topology.problems)")
        for event in ShopEvents.all where !ShopEvents.forAnySubscriber.contains(event) {
            #expect(!topology.queues(receiving: event).isEmpty, "\(event) is declared but no rule routes it: it would be dropped")
        }
        for queue in topology.queues where queue.deadLetterQueue != nil {
            #expect(topology.rules.contains { $0.targetQueue == queue.name }, "\(queue.name) has no rule feeding it")
            #expect(queue.maxReceiveCount > 0)
        }
        for rule in topology.rules {
            #expect(ShopEvents.all.contains { rule.matches($0) }, "rule \(rule.name) matches no declared event")
        }
    }

    /// The moto set-up takes every name from `bus topology`: the script itself names no queue,
    /// rule, source or detail-type that could drift.
    @Test func theMotoSetUpNamesNothingOfItsOwn() throws {
        let script = try String(contentsOf: repositoryRoot.appendingPathComponent("scripts/moto_bus.py"), encoding: .utf8)
        let topology = BusTopology.shop()
        let names = topology.queues.map(\.name) + topology.rules.map(\.name) + ShopEvents.all.flatMap { [$0.source, $0.detailType] }
        for name in names { #expect(!script.contains(name), "scripts/moto_bus.py hard-codes \(name)") }
    }

    /// Every dead-letter queue raises an alarm on its first message; every work queue on its oldest
    /// message's age; both notify the topic.
    @Test func everyQueueHasItsAlarm() {
        let resources = BusTopology.shop().cloudFormationResources
        for queue in BusTopology.shop().queues {
            let alarm = "  \(BusTopology.logicalID(queue: queue.name))Alarm:\n    Type: AWS::CloudWatch::Alarm"
            #expect(resources.contains(alarm), "no alarm for \(queue.name)")
        }
        #expect(resources.contains("MetricName: ApproximateNumberOfMessagesVisible") && resources.contains("MetricName: ApproximateAgeOfOldestMessage"))
    }

    @Test func theJSONCarriesEveryQueueAndRule() throws {
        let topology = BusTopology.shop(visibilityTimeout: .seconds(7), maxReceiveCount: 4)
        let json = topology.json
        guard case .array(let queues) = json["queues"], case .array(let rules) = json["rules"] else {
            Issue.record("no queues or rules")
            return
        }
        #expect(queues.count == topology.queues.count)
        #expect(rules.count == topology.rules.count)
        #expect(queues.first?["visibilityTimeoutSeconds"] == .number(7))
        #expect(queues.first?["maxReceiveCount"] == .number(4))
        #expect(rules.first?["eventPattern"] == topology.rules.first?.pattern.pattern)
    }
}

extension TopologyTests {
    /// Every event the shop declares has exactly one publisher, and each task role may put events of its
    /// own service's sources only (`events:source`), so a compromised product task cannot forge
    /// `PaymentApproved`.
    @Test func eachRolePutsOnlyItsOwnSources() throws {
        let declared = [ShopEvents.checkoutBasket.name] + ShopEvents.catalogChanges.map(\.name) + ShopEvents.saga
        for event in declared {
            let publishers = ShopEvents.publishers.filter { $0.value.contains(event) }.map(\.key)
            #expect(publishers.count == 1, "\(event) is published by \(publishers)")
        }
        let topology = BusTopology.shop()
        let template = try String(contentsOf: repositoryRoot.appendingPathComponent("deploy/aws/template.yaml"), encoding: .utf8)
        for (service, events) in ShopEvents.publishers {
            let sources = Array(Set(events.map(\.source))).sorted()
            #expect(topology.publishers[service.executable] == sources)
            let role = template.components(separatedBy: "  \(BusTopology.logicalID(role: service.executable)):").dropFirst().first ?? ""
            // The role's own lines: up to the next resource (a line indented by two spaces only).
            let policy = role.split(separator: "\n").dropFirst().prefix { $0.hasPrefix("   ") }.joined(separator: "\n")
            #expect(policy.contains("Condition: {StringEquals: {\"events:source\": [\(sources.joined(separator: ", "))]}}"), "\(service.executable)")
            #expect(!policy.contains("Action: [events:PutEvents"), "PutEvents only under its condition")
        }
        // Product's role names no source of payment's.
        #expect(!(topology.publishers["product-service"] ?? []).contains(ShopEvents.paymentApproved.source))
    }
}
