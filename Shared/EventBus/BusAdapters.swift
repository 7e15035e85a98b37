/// The publisher of whichever bus is configured.
package enum BusPublisher: EventPublisher {
    case local(LocalEventPublisher)
    case aws(StateMachinePublisher<EventBridgePublisher>)

    package var eventBusName: String {
        switch self {
        case .local(let publisher): publisher.eventBusName
        case .aws(let publisher): publisher.eventBusName
        }
    }

    package var maximumBatchSize: Int {
        switch self {
        case .local(let publisher): publisher.maximumBatchSize
        case .aws(let publisher): publisher.maximumBatchSize
        }
    }

    package func putEvents(_ entries: [PublishEntry]) async throws -> [PublishResult] {
        switch self {
        case .local(let publisher): try await publisher.putEvents(entries)
        case .aws(let publisher): try await publisher.putEvents(entries)
        }
    }
}

/// A queue of whichever bus is configured.
package enum BusQueue: MessageQueue {
    case local(LocalQueue)
    case aws(SQSQueue)

    package func receive(maxMessages: Int, waitTime: Duration, visibilityTimeout: Duration?) async throws -> [QueueMessage] {
        switch self {
        case .local(let queue): try await queue.receive(maxMessages: maxMessages, waitTime: waitTime, visibilityTimeout: visibilityTimeout)
        case .aws(let queue): try await queue.receive(maxMessages: maxMessages, waitTime: waitTime, visibilityTimeout: visibilityTimeout)
        }
    }

    package func receive(maxMessages: Int, waitTime: Duration, visibilityTimeout: Duration?, deleting handled: [String]) async throws -> [QueueMessage] {
        switch self {
        case .local(let queue): try await queue.receive(maxMessages: maxMessages, waitTime: waitTime, visibilityTimeout: visibilityTimeout, deleting: handled)
        case .aws(let queue): try await queue.receive(maxMessages: maxMessages, waitTime: waitTime, visibilityTimeout: visibilityTimeout, deleting: handled)
        }
    }

    package func delete(receiptHandles: [String]) async throws {
        switch self {
        case .local(let queue): try await queue.delete(receiptHandles: receiptHandles)
        case .aws(let queue): try await queue.delete(receiptHandles: receiptHandles)
        }
    }

    package func changeVisibility(receiptHandle: String, timeout: Duration) async throws {
        switch self {
        case .local(let queue): try await queue.changeVisibility(receiptHandle: receiptHandle, timeout: timeout)
        case .aws(let queue): try await queue.changeVisibility(receiptHandle: receiptHandle, timeout: timeout)
        }
    }

    package func depth() async throws -> QueueDepth {
        switch self {
        case .local(let queue): try await queue.depth()
        case .aws(let queue): try await queue.depth()
        }
    }

    package func deadLetter(_ message: QueueMessage, reason: String) async throws -> Bool {
        switch self {
        case .local(let queue): try await queue.deadLetter(message, reason: reason)
        case .aws(let queue): try await queue.deadLetter(message, reason: reason)
        }
    }
}
