import Foundation

/// One event to put on a bus; the fields of an EventBridge `PutEvents` entry but the bus's name,
/// which the publisher adds (the bus is configuration, not part of what a service decides).
package struct PublishEntry: Sendable, Equatable {
    package var source: String
    package var detailType: String
    /// The detail as a JSON object.
    package var detail: JSONValue
    package var time: Date?
    package var resources: [String]
    /// A state machine's task token this entry answers (`StateMachineCallbacks`): it goes to the
    /// execution (`SendTaskSuccess`), not onto the bus.
    package var taskToken: String?

    package init(source: String, detailType: String, detail: JSONValue, time: Date? = nil, resources: [String] = [], taskToken: String? = nil) {
        self.source = source
        self.detailType = detailType
        self.detail = detail
        self.time = time
        self.resources = resources
        self.taskToken = taskToken
    }
}

/// The outcome of one entry, in the order the entries were given: an event id, or an error code.
package enum PublishResult: Sendable, Equatable {
    case published(eventID: String)
    case failed(code: String, message: String)

    package var succeeded: Bool {
        if case .published = self { return true }
        return false
    }
}

/// Puts events on an event bus, as EventBridge `PutEvents` does: a batch in, one result per entry out.
/// A thrown error means the whole call failed; a `.failed` result means only that entry did.
package protocol EventPublisher: Sendable {
    /// The bus every entry goes to (`EVENT_BUS_NAME`).
    var eventBusName: String { get }
    /// The most entries one call takes (EventBridge: 10).
    var maximumBatchSize: Int { get }
    func putEvents(_ entries: [PublishEntry]) async throws -> [PublishResult]
}
