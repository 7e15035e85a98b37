import Foundation
import Synchronization

/// How a state machine (AWS Step Functions, `.waitForTaskToken`) talks to the services over the bus,
/// declared by the contracts (`ShopStateMachine`): a command it sends carries a task token, and the
/// service's answer goes back to the execution instead of onto the bus.
package struct StateMachineCallbacks: Sendable, Equatable {
    /// Replies that answer the token of the command being handled (stored in the outbox with the
    /// token, sent with `SendTaskSuccess` as `{"detailType","detail"}`: the state machine chooses its
    /// next state by the detail-type, so a refusal is an answer too, with its reason in the detail).
    package var replies: Set<String>
    /// Commands that carry no reply of their own: their token is answered (`{}`) once the handler
    /// succeeded. The others are answered only by their reply, so a redelivery cannot answer
    /// "done" where the first handling answered a refusal.
    package var doneWhenHandled: Set<String>
    /// Outbox entries of this detail-type start an execution (detail: `{"name", "input"}`).
    package var start: String
    /// Outbox entries of this detail-type stop one (detail: `{"name", "error", "cause"}`).
    package var stop: String

    package init(replies: Set<String>, doneWhenHandled: Set<String>, start: String, stop: String) {
        self.replies = replies
        self.doneWhenHandled = doneWhenHandled
        self.start = start
        self.stop = stop
    }
}

/// The task token of the command being handled, while its handler runs (a task-local, so that the
/// outbox insert finds it without every repository passing it along). The first outbox entry that
/// is one of the command's replies takes the token.
package final class TaskCallback: Sendable {
    @TaskLocal package static var current: TaskCallback?

    package let token: String
    let replies: Set<String>
    private let answered = Atomic<Bool>(false)
    private let refusal = Mutex<(error: String, cause: String)?>(nil)

    package init(token: String, replies: Set<String>) {
        self.token = token
        self.replies = replies
    }

    /// The token when an entry of `detailType` answers it (and it is answered from now on).
    package func token(answeredBy detailType: String) -> String? {
        guard replies.contains(detailType) else { return nil }
        answered.store(true, ordering: .relaxed)
        return token
    }

    var isAnswered: Bool { answered.load(ordering: .relaxed) }

    /// Answers the token with a failure once the handler succeeded (`SendTaskFailure`): for a state
    /// machine's message that no longer applies, so that the execution ends.
    package func refuse(error: String, cause: String) {
        refusal.withLock { $0 = (error, cause) }
    }

    package var refused: (error: String, cause: String)? { refusal.withLock { $0 } }

    /// The `taskToken` member of a message body (the state machine puts it next to the envelope's fields).
    package static func token(in body: String) -> String? {
        guard body.contains("\"taskToken\"") else { return nil }
        struct Carrier: Decodable { var taskToken: String? }
        return (try? JSONDecoder().decode(Carrier.self, from: Data(body.utf8)))?.taskToken
    }
}

/// A consumer's side of the callbacks: where answers go and what the contracts declared.
package struct TaskCallbacks: Sendable {
    package let stepFunctions: StepFunctionsClient
    package let declaration: StateMachineCallbacks

    package init(stepFunctions: StepFunctionsClient, declaration: StateMachineCallbacks) {
        self.stepFunctions = stepFunctions
        self.declaration = declaration
    }

    /// Runs `handle` for a message; when it carries a task token, with that token current, and answers
    /// "done" afterwards for a command that has no reply of its own.
    func handling(_ message: QueueMessage, detailType: () -> String?, _ handle: () async throws -> Void) async throws {
        guard let token = TaskCallback.token(in: message.body) else { return try await handle() }
        let callback = TaskCallback(token: token, replies: declaration.replies)
        try await TaskCallback.$current.withValue(callback) { try await handle() }
        if let refusal = callback.refused {
            _ = try await stepFunctions.sendTaskFailure(token: token, error: refusal.error, cause: refusal.cause)
        } else if !callback.isAnswered, let type = detailType(), declaration.doneWhenHandled.contains(type) {
            _ = try await stepFunctions.sendTaskSuccess(token: token, output: "{}")
        }
    }
}
