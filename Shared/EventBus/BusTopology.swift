import Foundation

/// Queues and the rules that route events to them: what a bus must hold for a set of services to
/// talk. The shop's own topology is declared once, in `Shared/Contracts`; the local bus installs
/// it at start, and the CloudFormation section and the moto set-up are rendered from it
/// (`TopologyDocuments.swift`, `bus cloudformation`, `bus topology`).
package struct BusTopology: Sendable, Equatable {
    package struct Queue: Sendable, Equatable {
        package var name: String
        /// The service that reads it (for access policies and documentation).
        package var consumer: String
        package var visibilityTimeout: Duration
        package var maxReceiveCount: Int
        package var deadLetterQueue: String?

        package init(name: String, consumer: String, visibilityTimeout: Duration, maxReceiveCount: Int, deadLetterQueue: String?) {
            self.name = name
            self.consumer = consumer
            self.visibilityTimeout = visibilityTimeout
            self.maxReceiveCount = maxReceiveCount
            self.deadLetterQueue = deadLetterQueue
        }
    }

    /// Sends every event that matches `pattern` on the bus to `targetQueue`.
    package struct Rule: Sendable, Equatable {
        package var name: String
        package var eventBusName: String
        package var pattern: EventPattern
        package var targetQueue: String

        /// A rule for these event types: the one source, any of their detail-types.
        package init(name: String, eventBusName: String, events: [EventName], targetQueue: String) {
            precondition(!events.isEmpty, "rule \(name) routes no events")
            precondition(Set(events.map(\.source)).count == 1, "rule \(name) mixes sources; declare one rule per source")
            self.init(name: name, eventBusName: eventBusName, pattern: EventPattern(.object([
                "source": .array([.string(events[0].source)]),
                "detail-type": .array(events.map { .string($0.detailType) }),
            ])), targetQueue: targetQueue)
        }

        package init(name: String, eventBusName: String, pattern: EventPattern, targetQueue: String) {
            self.name = name
            self.eventBusName = eventBusName
            self.pattern = pattern
            self.targetQueue = targetQueue
        }

        package func matches(_ event: EventName) -> Bool {
            pattern.matches(.object(["source": .string(event.source), "detail-type": .string(event.detailType)]))
        }
    }

    package var eventBusName: String
    package var queues: [Queue]
    package var rules: [Rule]
    /// The event sources each service may publish (by executable): its task role may put events of
    /// these sources only, so a compromised task cannot forge another service's events.
    package var publishers: [String: [String]]
    /// How a state machine's task tokens travel with the commands and replies (AWS Step Functions).
    package var stateMachine: StateMachineCallbacks?

    package init(eventBusName: String, queues: [Queue], rules: [Rule], publishers: [String: [String]] = [:], stateMachine: StateMachineCallbacks? = nil) {
        self.eventBusName = eventBusName
        self.queues = queues
        self.rules = rules
        self.publishers = publishers
        self.stateMachine = stateMachine
    }

    /// A work queue read by `consumer`, and its dead-letter queue `<name>-dlq` (kept 14 days).
    package static func queueWithDeadLetterQueue(
        _ name: String, consumer: String, visibilityTimeout: Duration, maxReceiveCount: Int
    ) -> [Queue] {
        [
            Queue(name: name, consumer: consumer, visibilityTimeout: visibilityTimeout, maxReceiveCount: maxReceiveCount, deadLetterQueue: name + "-dlq"),
            Queue(name: name + "-dlq", consumer: consumer, visibilityTimeout: visibilityTimeout, maxReceiveCount: 0, deadLetterQueue: nil),
        ]
    }

    package static let defaultEventBusName = "SwnEventBus"

    /// Names that point nowhere: a rule targeting an undeclared queue, a dead-letter queue that is
    /// not declared, a name used twice. Empty for a sound topology.
    package var problems: [String] {
        var problems: [String] = []
        let names = queues.map(\.name)
        for name in Set(names) where names.filter({ $0 == name }).count > 1 { problems.append("queue \(name) is declared twice") }
        for rule in rules where !names.contains(rule.targetQueue) { problems.append("rule \(rule.name) targets undeclared queue \(rule.targetQueue)") }
        for queue in queues {
            if let dlq = queue.deadLetterQueue, !names.contains(dlq) { problems.append("queue \(queue.name) names undeclared dead-letter queue \(dlq)") }
        }
        let ruleNames = rules.map(\.name)
        for name in Set(ruleNames) where ruleNames.filter({ $0 == name }).count > 1 { problems.append("rule \(name) is declared twice") }
        return problems.sorted()
    }

    /// The queues a rule routes `event` to.
    package func queues(receiving event: EventName) -> [String] {
        rules.filter { $0.matches(event) }.map(\.targetQueue)
    }
}
