import Contracts
import EventBus
import Foundation
import ServiceKit

/// Who runs the checkout part of the saga (`SAGA_ENGINE`): ordering itself (`local`: it sends the
/// commands and keeps the deadlines), or the AWS Step Functions state machine rendered from the same
/// rules (`stepfunctions`, aws mode only: it sends the commands with task tokens and times the steps,
/// and reports every reply and timeout to ordering, which decides and records as before).
package enum SagaEngine: String, Sendable, CaseIterable {
    case local, stepFunctions = "stepfunctions"
}

/// The order saga as an Amazon States Language state machine, rendered from `OrderSaga.decide`: each
/// step the saga waits on becomes a `sqs:sendMessage.waitForTaskToken` task to the participant's
/// command queue with the step's deadline (from the execution's input) as its timeout; each reply and each timeout is reported
/// to ordering (which records the statuses), followed by the commands the saga's decision sends, in
/// its order (compensations in reverse order), and ends `Completed` or `Cancelled`.
package enum OrderSagaMachine {
    /// The commands the state machine sends.
    static let participantCommands: [SagaCommand] = [.reserveStock, .chargePayment, .releaseStock, .refundPayment, .commitStock]
    /// Those that start a step the state machine waits on: only the state machine sends them. The
    /// others (compensations, the stock's commit) ordering sends too, over the bus: participants
    /// take each once per order, and no refund then depends on the execution's survival.
    static let stepCommands: [SagaCommand] = [.reserveStock, .chargePayment]
    /// How long after the state machine's own deadline ordering gives up on a step itself (an
    /// execution that failed, was stopped or never started): the state machine's report has this long
    /// to arrive, the step's timeout again, at most 30 s.
    package static func backstopGrace(after timeout: Duration) -> Duration {
        min(.seconds(30), max(.seconds(1), timeout))
    }

    // MARK: ordering's side

    /// What ordering sends for a decision when the state machine runs the saga: the execution's start
    /// for the checkout; for a report of the state machine on its path, everything but the commands
    /// that start a step (the state machine's); for anything else (the customer's cancel, shipping,
    /// a reply that came over the bus, ordering's own backstop deadline) the decision's commands, and
    /// a stop of an execution that still waits on a step.
    static func plan(
        _ state: SagaState, _ event: SagaEvent, _ decision: SagaDecision, report: TaskCallback?, timeouts: (step: Duration, payment: Duration)
    ) throws -> (commands: [SagaCommand], entries: [PublishEntry]) {
        let own = decision.commands.filter { !stepCommands.contains($0) }
        if event == .started {
            return (own, [try start(state, timeouts: timeouts)])
        }
        if let report {
            if isOnPath(state, event) { return (own, []) }
            if movedOn(state, event) { report.refuse(error: ShopStateMachine.movedOn, cause: "the order is \(state.status.rawValue)") }
            return (decision.commands, [])
        }
        if [.reservingStock, .charging].contains(state.step), decision.step != state.step {
            return (decision.commands, [try stop(state, cause: decision.cancellationReason?.rawValue ?? decision.step.rawValue)])
        }
        return (decision.commands, [])
    }

    /// The report answers the step the order waits on.
    static func isOnPath(_ state: SagaState, _ event: SagaEvent) -> Bool {
        steps(answeredBy: event).contains(state.step)
    }

    static func steps(answeredBy event: SagaEvent) -> [SagaStep] {
        switch event {
        case .stockReserved, .stockReservationFailed: [.reservingStock]
        case .paymentApproved, .paymentDeclined: [.charging]
        case .deadlinePassed: [.reservingStock, .charging]
        default: []
        }
    }

    /// The order went on without the state machine: the report neither answers the step the order
    /// waits on nor repeats one that brought the order where it is (a redelivered report). The
    /// execution must end there, its remaining commands unsent.
    package static func movedOn(_ state: SagaState, _ event: SagaEvent) -> Bool {
        guard !isOnPath(state, event) else { return false }
        let repeated = steps(answeredBy: event).contains { step in
            var before = state
            before.step = step
            before.deadline = nil
            guard let decision = OrderSaga.decide(before, event) else { return false }
            return decision.step == state.step && decision.cancellationReason == state.cancellationReason
        }
        return !repeated
    }

    /// The execution's name: the checkout's id (a redelivered start finds it started).
    static func executionName(_ state: SagaState) -> String { state.checkoutId.uuidString.lowercased() }

    /// The start of the order's execution, with every command's detail and the steps' deadlines
    /// (whole seconds, `ORDER_STEP_TIMEOUT_MS`, `ORDER_PAYMENT_TIMEOUT_MS`) as its input.
    static func start(_ state: SagaState, timeouts: (step: Duration, payment: Duration)) throws -> PublishEntry {
        let entries = try OrderSaga.entries(participantCommands, for: state, cancellationReason: nil)
        let commands = JSONValue.object(Dictionary(uniqueKeysWithValues: entries.map { ($0.detailType, $0.detail) }))
        func seconds(_ duration: Duration) -> JSONValue { .number(Decimal(max(1, Int(duration.timeInterval.rounded(.up))))) }
        let input = JSONValue.object([
            "orderId": .string(state.orderId.uuidString.lowercased()), "commands": commands,
            "timeouts": .object(["step": seconds(timeouts.step), "payment": seconds(timeouts.payment)]),
        ])
        return PublishEntry(source: ShopEvents.reserveStock.source, detailType: ShopStateMachine.start, detail: .object([
            "name": .string(executionName(state)), "input": input,
        ]))
    }

    static func stop(_ state: SagaState, cause: String) throws -> PublishEntry {
        PublishEntry(source: ShopEvents.reserveStock.source, detailType: ShopStateMachine.stop, detail: .object([
            "name": .string(executionName(state)), "error": .string(ShopStateMachine.movedOn), "cause": .string(cause),
        ]))
    }

    // MARK: the state machine

    /// The queue a command goes to, as a `DefinitionSubstitutions` name (`${ProductStockQueueUrl}`).
    static func queueURL(of command: EventName, in topology: BusTopology) -> String {
        let queue = topology.queues(receiving: command).first ?? "unrouted"
        return "${\(BusTopology.logicalID(queue: queue))Url}"
    }

    /// The substitution names the definition uses, with the queue each stands for (and `Region`).
    package static func substitutions(in topology: BusTopology = .shop()) -> [(name: String, queue: String?)] {
        let commands = ShopStateMachine.waits.map(\.command) + ShopStateMachine.doneCommands
        var queues = commands.compactMap { topology.queues(receiving: $0).first } + [ShopQueues.orderingSaga]
        queues = queues.reduce(into: []) { if !$0.contains($1) { $0.append($1) } }
        return queues.map { ("\(BusTopology.logicalID(queue: $0))Url", $0) } + [("Region", nil)]
    }

    /// How long the state machine waits for ordering to record a report (then asks twice more): the
    /// report waits in ordering's queue meanwhile, so ordering may be down that long.
    static let reportTimeoutSeconds = 86_400
    /// A compensation (or the stock's commit) is asked again until it is done.
    static let doneStepAttempts = 10

    /// The Amazon States Language definition (Standard), with `${…}` substitutions for the queues and
    /// the region. The steps' deadlines come with each execution's input (`$.timeouts`), so ordering's
    /// settings time both engines.
    package static func definition(topology: BusTopology = .shop()) -> JSONValue {
        var states: [String: JSONValue] = [:]
        let sample = SagaState(
            orderId: UUID(), checkoutId: UUID(), userName: "u", cardInfo: "4242", items: [], totalPrice: 1,
            status: .pending, step: .reservingStock
        )
        func timeout(_ deadline: SagaDecision.Deadline) -> (key: String, value: JSONValue) {
            ("TimeoutSecondsPath", .string(deadline == .payment ? "$.timeouts.payment" : "$.timeouts.step"))
        }
        func envelope(_ name: EventName, detail: (key: String, value: JSONValue)) -> JSONValue {
            .object([
                "version": "0", "id.$": "States.UUID()", "detail-type": .string(name.detailType), "source": .string(name.source),
                "time.$": "$$.State.EnteredTime", "region": "${Region}", "resources": .array([]),
                detail.key: detail.value, "taskToken.$": "$$.Task.Token",
            ])
        }
        func send(_ queueURL: String, _ body: JSONValue, timeout: (key: String, value: JSONValue)) -> [String: JSONValue] {
            [
                "Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                "Parameters": .object(["QueueUrl": .string(queueURL), "MessageBody": body]),
                timeout.key: timeout.value,
            ]
        }
        /// SQS refusing a send (throttled, unavailable): sent again.
        let sendFailed = JSONValue.object([
            "ErrorEquals": .array(["SQS.AmazonSQSException", "SQS.SdkClientException"]), "IntervalSeconds": 1, "BackoffRate": 2, "MaxAttempts": 10,
        ])
        let movedOnState = "Order moved on"
        states[movedOnState] = .object(["Type": "Succeed", "Comment": "Ordering answered that the order went on without this execution (e.g. cancelled by its customer)."])

        /// A report to ordering, then `next`.
        func report(_ name: String, _ event: EventName, detail: (key: String, value: JSONValue), next: String) {
            var state = send(
                "${\(BusTopology.logicalID(queue: ShopQueues.orderingSaga))Url}", envelope(event, detail: detail),
                timeout: ("TimeoutSeconds", .number(Decimal(reportTimeoutSeconds)))
            )
            state["ResultPath"] = .null
            // Not `States.TaskFailed`: it would match ordering's refusal, which must reach the Catch.
            state["Retry"] = .array([sendFailed, .object(["ErrorEquals": .array(["States.Timeout"]), "IntervalSeconds": 1, "BackoffRate": 2, "MaxAttempts": 2])])
            state["Catch"] = .array([.object(["ErrorEquals": .array([.string(ShopStateMachine.movedOn)]), "ResultPath": .null, "Next": .string(movedOnState)])])
            state["Next"] = .string(next)
            states[name] = .object(state)
        }

        /// The decision's participant commands after `cause`, then its end or the next wait.
        func follow(_ decision: SagaDecision, from state: SagaState, after cause: String, error: String) -> String {
            var after = state
            after.step = decision.step
            after.status = decision.statuses.last?.status ?? state.status
            after.cancellationReason = decision.cancellationReason
            let commands = decision.commands.filter(participantCommands.contains)
            let waits = commands.filter { command in ShopStateMachine.waits.contains { $0.command == eventName(command) } }
            let done = commands.filter { !waits.contains($0) }
            var next: String
            if let wait = waits.first {
                next = waitStep(wait, at: after, deadline: decision.deadline)
            } else if after.status == .completed {
                next = "Completed"
                states[next] = .object(["Type": "Succeed"])
            } else {
                next = "Cancelled after \(cause)"
                states[next] = .object(["Type": "Fail", "Error": .string(error), "Cause": .string("the order is Cancelled (\(cause)); what it did is undone")])
            }
            for command in done.reversed() {
                let name = "\(eventName(command).detailType) after \(cause)"
                var task = send(queueURL(of: eventName(command), in: topology), envelope(eventName(command), detail: ("detail.$", .string("$.commands.\(eventName(command).detailType)"))), timeout: timeout(.step))
                task["ResultPath"] = .null
                task["Retry"] = .array([.object([
                    "ErrorEquals": .array(["States.ALL"]), "IntervalSeconds": 1, "BackoffRate": 2, "MaxAttempts": .number(Decimal(doneStepAttempts)),
                ])])
                task["Next"] = .string(next)
                states[name] = .object(task)
                next = name
            }
            return next
        }

        /// The task that sends `command` and waits for its reply; returns its name.
        func waitStep(_ command: SagaCommand, at state: SagaState, deadline: SagaDecision.Deadline) -> String {
            let name = eventName(command)
            guard let wait = ShopStateMachine.waits.first(where: { $0.command == name }) else { return "unknown" }
            if states[name.detailType] != nil { return name.detailType }
            var task = send(queueURL(of: name, in: topology), envelope(name, detail: ("detail.$", .string("$.commands.\(name.detailType)"))), timeout: timeout(deadline))
            task["ResultPath"] = "$.reply"
            task["Retry"] = .array([sendFailed])
            let answered = "\(name.detailType) answered", success = "Record \(wait.success.detailType)", refusal = "Record \(wait.refusal.detailType)"
            let timedOut = "Record \(name.detailType) timed out"
            task["Next"] = .string(answered)
            task["Catch"] = .array([.object(["ErrorEquals": .array(["States.Timeout"]), "ResultPath": "$.failure", "Next": .string(timedOut)])])
            states[name.detailType] = .object(task)
            states[answered] = .object([
                "Type": "Choice",
                "Choices": .array([.object(["Variable": "$.reply.detailType", "StringEquals": .string(wait.refusal.detailType), "Next": .string(refusal)])]),
                "Default": .string(success),
            ])

            var waiting = state
            waiting.deadline = nil
            if let decision = OrderSaga.decide(waiting, event(wait.success)) {
                report(success, wait.success, detail: ("detail.$", "$.reply.detail"), next: follow(decision, from: waiting, after: wait.success.detailType, error: wait.success.detailType))
            }
            if let decision = OrderSaga.decide(waiting, event(wait.refusal)) {
                report(refusal, wait.refusal, detail: ("detail.$", "$.reply.detail"), next: follow(decision, from: waiting, after: wait.refusal.detailType, error: wait.refusal.detailType))
            }
            if let decision = OrderSaga.decide(waiting, .deadlinePassed(now: .distantFuture)) {
                report(timedOut, ShopEvents.sagaStepTimedOut.name, detail: ("detail", .object(["orderId.$": "$.orderId"])), next: follow(decision, from: waiting, after: "\(name.detailType) timed out", error: CancellationReason.stepTimeout.rawValue))
            }
            return name.detailType
        }

        guard let started = OrderSaga.decide(sample, .started), let first = started.commands.first(where: participantCommands.contains) else { return .null }
        let startAt = waitStep(first, at: SagaState(
            orderId: sample.orderId, checkoutId: sample.checkoutId, userName: "u", cardInfo: "4242", items: [], totalPrice: 1,
            status: started.statuses.last?.status ?? .pending, step: started.step
        ), deadline: started.deadline)
        return .object([
            "Comment": "The order saga (rendered from OrderSaga by `bus asl`; do not edit): reserve stock → charge → complete, or compensate in reverse order and cancel.",
            "StartAt": .string(startAt),
            "States": .object(states),
        ])
    }

    /// A sample event of a reply (the reason does not change what the saga sends).
    static func event(_ reply: EventName) -> SagaEvent {
        switch reply {
        case ShopEvents.stockReserved.name: .stockReserved
        case ShopEvents.stockReservationFailed.name: .stockReservationFailed(reason: CancellationReason.outOfStock.rawValue)
        case ShopEvents.paymentApproved.name: .paymentApproved
        case ShopEvents.paymentDeclined.name: .paymentDeclined(reason: "card_declined")
        default: .paymentRefunded
        }
    }

    /// The event a command is sent as: read from the entries the saga itself makes (`OrderSaga.entries`),
    /// so the state machine names what ordering would send.
    static func eventName(_ command: SagaCommand) -> EventName {
        let sample = SagaState(orderId: UUID(), checkoutId: UUID(), userName: "u", cardInfo: "4242", items: [], totalPrice: 1, status: .pending, step: .reservingStock)
        guard let entry = (try? OrderSaga.entries([command], for: sample, cancellationReason: nil))?.first else { return EventName(source: "", detailType: "\(command)") }
        return EventName(source: entry.source, detailType: entry.detailType)
    }
}

extension OrderSagaMachine {
    package static let begin = "  # BEGIN saga state machine (generated by `bus asl --write` from OrderSaga; do not edit)"
    package static let end = "  # END saga state machine"

    /// The template's state machine, its role (send to the queues it uses, nothing else), and the
    /// services' rights to answer its tokens (and ordering's to start and stop its executions).
    package static func cloudFormation(topology: BusTopology = .shop()) -> String {
        let definition = Self.definition(topology: topology)
        let substitutions = substitutions(in: topology)
        let queues = substitutions.compactMap(\.queue)
        let answering = Array(Set(queues.compactMap { name in topology.queues.first { $0.name == name }?.consumer })).sorted()
        var lines = [
            begin,
            "  OrderSagaStateMachine:",
            "    Type: AWS::StepFunctions::StateMachine",
            "    Properties:",
            "      StateMachineName: !Sub \"${AWS::StackName}-order-saga\"",
            "      StateMachineType: STANDARD",
            "      RoleArn: !GetAtt OrderSagaStateMachineRole.Arn",
            "      Definition: \(BusTopology.flowJSON(definition))",
            "      DefinitionSubstitutions:",
        ]
        for substitution in substitutions {
            lines.append("        \(substitution.name): \(substitution.queue.map { "!Ref \(BusTopology.logicalID(queue: $0))" } ?? "!Ref AWS::Region")")
        }
        lines += [
            "  OrderSagaStateMachineRole:",
            "    Type: AWS::IAM::Role",
            "    Properties:",
            "      Description: The order saga's state machine sends its commands and reports to the saga's queues, nothing else.",
            "      AssumeRolePolicyDocument:",
            "        Version: \"2012-10-17\"",
            "        Statement:",
            "          - {Effect: Allow, Principal: {Service: states.amazonaws.com}, Action: sts:AssumeRole}",
            "      Policies:",
            "        - PolicyName: saga-queues",
            "          PolicyDocument:",
            "            Version: \"2012-10-17\"",
            "            Statement:",
            "              - Effect: Allow",
            "                Action: sqs:SendMessage",
            "                Resource:",
        ]
        lines += queues.map { "                  - !GetAtt \(BusTopology.logicalID(queue: $0)).Arn" }
        lines += [
            "  OrderSagaCallbacksPolicy:",
            "    Type: AWS::IAM::Policy",
            "    Properties:",
            "      PolicyName: order-saga-callbacks",
            "      Roles:",
        ]
        lines += answering.map { "        - !Ref \(BusTopology.logicalID(role: $0))" }
        lines += [
            "      PolicyDocument:",
            "        Version: \"2012-10-17\"",
            "        Statement:",
            "          - Effect: Allow",
            "            Action: [states:SendTaskSuccess, states:SendTaskFailure]",
            "            Resource: !Ref OrderSagaStateMachine",
            "  OrderSagaExecutionsPolicy:",
            "    Type: AWS::IAM::Policy",
            "    Properties:",
            "      PolicyName: order-saga-executions",
            "      Roles: [!Ref \(BusTopology.logicalID(role: ShopService.ordering.executable))]",
            "      PolicyDocument:",
            "        Version: \"2012-10-17\"",
            "        Statement:",
            "          - Effect: Allow",
            "            Action: states:StartExecution",
            "            Resource: !Ref OrderSagaStateMachine",
            "          - Effect: Allow",
            "            Action: states:StopExecution",
            "            Resource: !Sub \"arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:execution:${OrderSagaStateMachine.Name}:*\"",
            end,
        ]
        return lines.joined(separator: "\n")
    }
}

extension OrderSagaMachine {
    package static let diagramBegin = "<!-- saga state machine: rendered by `swift run bus asl --write` -->"
    package static let diagramEnd = "<!-- /saga state machine -->"

    /// The definition as a Mermaid state diagram (the README's picture of the state machine).
    package static func mermaid(_ definition: JSONValue) -> String {
        guard case .object(let states)? = definition["States"], case .string(let start)? = definition["StartAt"] else { return "" }
        func id(_ name: String) -> String { name.filter { $0.isLetter || $0.isNumber } }
        func text(_ value: JSONValue?) -> String? { if case .string(let text)? = value { text } else { nil } }
        var lines = ["```mermaid", "stateDiagram-v2"]
        var edges: [String] = ["    [*] --> \(id(start))"]
        for (name, state) in states.sorted(by: { $0.key < $1.key }) {
            let type = text(state["Type"]) ?? ""
            switch type {
            case "Choice":
                lines.append("    state \(id(name)) <<choice>>")
            case "Task":
                let waits = if case .string(let path)? = state["TimeoutSecondsPath"] {
                    path.hasSuffix("payment") ? " (≤ payment timeout)" : " (≤ step timeout)"
                } else if case .number(let seconds)? = state["TimeoutSeconds"] { " (≤ \(seconds) s)" } else { "" }
                lines.append("    state \"\(name)\(waits)\" as \(id(name))")
            case "Fail":
                lines.append("    state \"\(name) · \(text(state["Error"]) ?? "")\" as \(id(name))")
            default:
                lines.append("    state \"\(name)\" as \(id(name))")
            }
            if let next = text(state["Next"]) { edges.append("    \(id(name)) --> \(id(next))") }
            if case .array(let choices)? = state["Choices"] {
                for choice in choices { if let next = text(choice["Next"]) { edges.append("    \(id(name)) --> \(id(next)): \(text(choice["StringEquals"]) ?? "")") } }
            }
            if let next = text(state["Default"]) { edges.append("    \(id(name)) --> \(id(next)): otherwise") }
            if case .array(let catches)? = state["Catch"] {
                for caught in catches {
                    let errors = if case .array(let names)? = caught["ErrorEquals"] { names.compactMap(text).joined(separator: ", ") } else { "" }
                    if let next = text(caught["Next"]) { edges.append("    \(id(name)) --> \(id(next)): \(errors)") }
                }
            }
            if type == "Succeed" || type == "Fail" { edges.append("    \(id(name)) --> [*]") }
        }
        return (lines + edges + ["```"]).joined(separator: "\n")
    }
}
