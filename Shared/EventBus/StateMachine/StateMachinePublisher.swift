import AWS
import Foundation

/// The AWS publisher when a state machine runs the saga: an outbox entry that answers a task token
/// goes to its execution (`SendTaskSuccess`), one that starts or stops an
/// execution to Step Functions, every other one onto the bus. One result per entry, in order, as
/// `PutEvents` gives them, so the relay retries only what failed.
package struct StateMachinePublisher<Bus: EventPublisher>: EventPublisher {
    let bus: Bus
    let stepFunctions: StepFunctionsClient
    /// nil: the topology declares no state machine; every entry without a token goes on the bus.
    let declaration: StateMachineCallbacks?
    /// The saga's state machine (`SAGA_STATE_MACHINE_ARN`): only the service that starts executions has it.
    let stateMachineArn: String?

    package init(bus: Bus, stepFunctions: StepFunctionsClient, declaration: StateMachineCallbacks?, stateMachineArn: String?) {
        self.bus = bus
        self.stepFunctions = stepFunctions
        self.declaration = declaration
        self.stateMachineArn = stateMachineArn
    }

    package var eventBusName: String { bus.eventBusName }
    package var maximumBatchSize: Int { bus.maximumBatchSize }

    package func putEvents(_ entries: [PublishEntry]) async throws -> [PublishResult] {
        var results = [PublishResult?](repeating: nil, count: entries.count)
        var onTheBus: [Int] = []
        for (index, entry) in entries.enumerated() {
            if let token = entry.taskToken {
                results[index] = await outcome { try await answer(token, with: entry) }
            } else if let declaration, entry.detailType == declaration.start || entry.detailType == declaration.stop {
                results[index] = await outcome { try await execution(entry) }
            } else {
                onTheBus.append(index)
            }
        }
        if !onTheBus.isEmpty {
            let published = try await bus.putEvents(onTheBus.map { entries[$0] })
            for (position, index) in onTheBus.enumerated() { results[index] = published[position] }
        }
        return results.map { $0 ?? .failed(code: "NotSent", message: "no result") }
    }

    private func outcome(_ call: () async throws -> String) async -> PublishResult {
        do {
            return .published(eventID: try await call())
        } catch let error as AWSError {
            return .failed(code: error.code, message: error.message)
        } catch {
            return .failed(code: "StepFunctions", message: "\(error)")
        }
    }

    /// The reply goes to the execution waiting for it; one nobody waits for any more (the step timed
    /// out) is done with.
    private func answer(_ token: String, with entry: PublishEntry) async throws -> String {
        let output = JSONValue.object(["detailType": .string(entry.detailType), "detail": entry.detail])
        let answered = try await stepFunctions.sendTaskSuccess(token: token, output: String(decoding: try JSONValue.encoder.encode(output), as: UTF8.self))
        return answered ? "answered" : "moot"
    }

    private func execution(_ entry: PublishEntry) async throws -> String {
        guard let stateMachineArn else { throw AWSError(code: "NoStateMachine", message: "SAGA_STATE_MACHINE_ARN is not set") }
        guard case .object(let fields) = entry.detail, case .string(let name)? = fields["name"] else {
            throw AWSError(code: "BadEntry", message: "\(entry.detailType) without a name")
        }
        if entry.detailType == declaration?.start {
            let input = String(decoding: try JSONValue.encoder.encode(fields["input"] ?? .object([:])), as: UTF8.self)
            return try await stepFunctions.startExecution(stateMachineArn: stateMachineArn, name: name, input: input)
        }
        let arn = StepFunctionsClient.executionArn(stateMachineArn: stateMachineArn, name: name)
        func text(_ key: String) -> String? { if case .string(let value)? = fields[key] { value } else { nil } }
        try await stepFunctions.stopExecution(executionArn: arn, error: text("error") ?? "Stopped", cause: text("cause") ?? "")
        return arn
    }
}
