import Contracts
import EventBus
import Foundation
import Testing

@testable import OrderingService

/// The saga's Step Functions side without AWS: the rendered definition is a sound graph that follows
/// `OrderSaga`, and ordering's plan of what it sends when the state machine runs the saga.
@Suite struct OrderSagaMachineTests {
    static let definition = OrderSagaMachine.definition()

    static var states: [String: JSONValue] {
        guard case .object(let states)? = definition["States"] else { return [:] }
        return states
    }

    /// Every state a state can go to next (Next, Default, a Choice's and a Catch's Next).
    static func successors(_ state: JSONValue) -> [String] {
        var names: [String] = []
        if case .string(let next)? = state["Next"] { names.append(next) }
        if case .string(let next)? = state["Default"] { names.append(next) }
        for key in ["Choices", "Catch"] {
            if case .array(let items)? = state[key] { names += items.compactMap { if case .string(let next)? = $0["Next"] { next } else { nil } } }
        }
        return names
    }

    /// The path from `start`, taking the successor `pick` chooses, up to an end.
    static func path(from start: String, choosing pick: ([String]) -> String?) -> [String] {
        var path = [start]
        while let state = states[path.last!], let next = pick(successors(state)), path.count < 30 { path.append(next) }
        return path
    }

    @Test func theDefinitionIsASoundGraph() {
        let states = Self.states
        #expect(states.count == 21, "\(states.keys.sorted())")
        guard case .string(let start)? = Self.definition["StartAt"] else { Issue.record("no StartAt"); return }
        #expect(start == "ReserveStock")
        var reached: Set<String> = [start]
        var queue = [start]
        while let name = queue.popLast() {
            guard let state = states[name] else { Issue.record("\(name) is named but not declared"); continue }
            for next in Self.successors(state) where reached.insert(next).inserted { queue.append(next) }
            let type = if case .string(let type)? = state["Type"] { type } else { "" }
            #expect(["Task", "Choice", "Succeed", "Fail"].contains(type), "\(name): \(type)")
            if type == "Task" { #expect(!Self.successors(state).isEmpty, "\(name) goes nowhere") }
        }
        #expect(reached == Set(states.keys), "unreachable: \(Set(states.keys).subtracting(reached).sorted())")
    }

    @Test func eachStepWaitsForItsDeadlineAndReportsEveryOutcome() {
        let states = Self.states
        #expect(states["ReserveStock"]?["TimeoutSecondsPath"] == "$.timeouts.step")
        #expect(states["ChargePayment"]?["TimeoutSecondsPath"] == "$.timeouts.payment", "the payment's deadline")
        #expect(states["Record StockReserved"]?["TimeoutSeconds"] == 86_400, "ordering may be down a day")
        #expect(states["ReserveStock"]?["Resource"] == "arn:aws:states:::sqs:sendMessage.waitForTaskToken")
        #expect(states["ReserveStock"]?["Parameters"]?["QueueUrl"] == "${ProductStockQueueUrl}")
        #expect(states["ChargePayment"]?["Parameters"]?["QueueUrl"] == "${PaymentCommandsQueueUrl}")
        #expect(states["Record StockReserved"]?["Parameters"]?["QueueUrl"] == "${OrderingSagaQueueUrl}")
        #expect(states["ReserveStock"]?["Parameters"]?["MessageBody"]?["taskToken.$"] == "$$.Task.Token")

        // The happy path, the refusals and the timeouts, as OrderSaga decides them.
        func first(_ names: [String]) -> String? { names.first }
        func refusal(_ names: [String]) -> String? { names.first { $0.hasPrefix("Record StockReservationFailed") || $0.hasPrefix("Record PaymentDeclined") } ?? names.first }
        #expect(Self.path(from: "ReserveStock", choosing: { names in names.first { !$0.contains("timed out") } }).suffix(8) == [
            "ReserveStock", "ReserveStock answered", "Record StockReserved", "ChargePayment", "ChargePayment answered", "Record PaymentApproved",
            "CommitStock after PaymentApproved", "Completed",
        ])
        #expect(Self.path(from: "ChargePayment answered", choosing: refusal) == [
            "ChargePayment answered", "Record PaymentDeclined", "ReleaseStock after PaymentDeclined", "Cancelled after PaymentDeclined",
        ])
        #expect(Self.path(from: "ReserveStock answered", choosing: refusal) == ["ReserveStock answered", "Record StockReservationFailed", "Cancelled after StockReservationFailed"],
                "nothing to undo")
        // The payment's timeout: refund before release (reverse order), then Cancelled (StepTimeout).
        #expect(Self.path(from: "Record ChargePayment timed out", choosing: first) == [
            "Record ChargePayment timed out", "RefundPayment after ChargePayment timed out", "ReleaseStock after ChargePayment timed out",
            "Cancelled after ChargePayment timed out",
        ])
        #expect(states["Cancelled after ChargePayment timed out"]?["Error"] == "StepTimeout")
        #expect(states["ChargePayment"]?["Catch"]?.arrayFirst?["Next"] == "Record ChargePayment timed out")
        // Ordering's refusal of a report ends the execution there.
        #expect(states["Record PaymentApproved"]?["Catch"]?.arrayFirst?["Next"] == "Order moved on")
    }

    static func state(_ step: SagaStep, _ status: OrderStatus, reason: CancellationReason? = nil) -> SagaState {
        OrderSagaTests.state(step, status, reason: reason)
    }

    @Test func aReportThatNoLongerAppliesEndsTheExecution() {
        // On its path: the step the order waits on.
        #expect(!OrderSagaMachine.movedOn(Self.state(.reservingStock, .pending), .stockReserved))
        #expect(!OrderSagaMachine.movedOn(Self.state(.charging, .stockReserved), .deadlinePassed(now: Date())))
        // Repeated (a redelivered report): where it brought the order, or further on the same path.
        #expect(!OrderSagaMachine.movedOn(Self.state(.charging, .stockReserved), .stockReserved))
        #expect(!OrderSagaMachine.movedOn(Self.state(.finished, .shipped), .paymentApproved))
        #expect(!OrderSagaMachine.movedOn(Self.state(.finished, .cancelled, reason: .paymentDeclined), .paymentDeclined(reason: "card_declined")))
        #expect(!OrderSagaMachine.movedOn(Self.state(.finished, .cancelled, reason: .stepTimeout), .deadlinePassed(now: Date())))
        // Moved on without it: its customer cancelled, or a reply over the bus completed it.
        #expect(OrderSagaMachine.movedOn(Self.state(.finished, .cancelled, reason: .customerCancelled), .stockReserved))
        #expect(OrderSagaMachine.movedOn(Self.state(.finished, .cancelled, reason: .customerCancelled), .deadlinePassed(now: Date())))
        #expect(OrderSagaMachine.movedOn(Self.state(.finished, .completed), .deadlinePassed(now: Date())), "a completed order is never compensated")
    }

    @Test func orderingSendsWhatTheStateMachineDoesNot() throws {
        let pending = Self.state(.reservingStock, .pending)
        // The checkout starts the execution named after it, with every command's detail.
        let started = try #require(OrderSaga.decide(pending, .started))
        let timeouts: (step: Duration, payment: Duration) = (.seconds(7), .milliseconds(8500))
        let start = try OrderSagaMachine.plan(pending, .started, started, report: nil, timeouts: timeouts)
        #expect(start.commands.isEmpty)
        #expect(start.entries.map(\.detailType) == [ShopStateMachine.start])
        #expect(start.entries.first?.detail["name"] == .string(pending.checkoutId.uuidString.lowercased()))
        let commands = start.entries.first?.detail["input"]?["commands"]
        for name in ["ReserveStock", "ChargePayment", "ReleaseStock", "RefundPayment", "CommitStock"] { #expect(commands?[name] != nil, "\(name) in the input") }
        #expect(start.entries.first?.detail["input"]?["timeouts"] == .object(["step": 7, "payment": 9]), "whole seconds, rounded up")

        // A report on the path: the state machine starts the next step; ordering sends the rest too
        // (the commit, compensations: taken once by the participants, whatever becomes of the execution).
        let report = TaskCallback(token: "t", replies: [])
        let reserving = Self.state(.reservingStock, .pending)
        let reserved = try #require(OrderSaga.decide(reserving, .stockReserved))
        #expect(try OrderSagaMachine.plan(reserving, .stockReserved, reserved, report: report, timeouts: timeouts).commands.isEmpty, "the charge is the state machine's")
        let charging = Self.state(.charging, .stockReserved)
        let approved = try #require(OrderSaga.decide(charging, .paymentApproved))
        let onPath = try OrderSagaMachine.plan(charging, .paymentApproved, approved, report: report, timeouts: timeouts)
        #expect(onPath.commands == [.commitStock, .orderCompleted] && onPath.entries.isEmpty)
        let timedOut = try #require(OrderSaga.decide(charging, .deadlinePassed(now: .distantFuture)))
        #expect(try OrderSagaMachine.plan(charging, .deadlinePassed(now: .distantFuture), timedOut, report: report, timeouts: timeouts).commands
            == [.refundPayment, .releaseStock, .orderCancelled])

        // The customer's cancel while charging: compensations over the bus, and the execution stopped.
        let cancelled = try #require(OrderSaga.decide(charging, .cancelRequested))
        let cancel = try OrderSagaMachine.plan(charging, .cancelRequested, cancelled, report: nil, timeouts: timeouts)
        #expect(cancel.commands == [.refundPayment, .releaseStock, .orderCancelled])
        #expect(cancel.entries.map(\.detailType) == [ShopStateMachine.stop])

        // A late reservation reported after the customer's cancel: released over the bus, the execution refused.
        let gone = Self.state(.finished, .cancelled, reason: .customerCancelled)
        let late = try #require(OrderSaga.decide(gone, .stockReserved))
        let refused = TaskCallback(token: "t2", replies: [])
        let lateReport = try OrderSagaMachine.plan(gone, .stockReserved, late, report: refused, timeouts: timeouts)
        #expect(lateReport.commands == [.releaseStock])
        #expect(refused.refused?.error == ShopStateMachine.movedOn)
    }
}

extension JSONValue {
    fileprivate var arrayFirst: JSONValue? { if case .array(let items) = self { items.first } else { nil } }
}
