import Foundation

/// A received message, as SQS hands it out: the receipt handle names this one receive.
package struct QueueMessage: Sendable, Equatable {
    package var messageID: String
    package var receiptHandle: String
    package var body: String
    /// How many times this message has been received, this time included (`ApproximateReceiveCount`).
    package var receiveCount: Int
    package var sentAt: Date

    package init(messageID: String, receiptHandle: String, body: String, receiveCount: Int, sentAt: Date) {
        self.messageID = messageID
        self.receiptHandle = receiptHandle
        self.body = body
        self.receiveCount = receiveCount
        self.sentAt = sentAt
    }
}

/// A queue with SQS semantics: a received message is hidden for the visibility timeout, comes back
/// if not deleted by then, and moves to the dead-letter queue once received `maxReceiveCount` times.
package protocol MessageQueue: Sendable {
    /// Receives up to `maxMessages` (1...10), waiting up to `waitTime` for the first (long polling).
    /// `visibilityTimeout` nil uses the queue's own.
    func receive(maxMessages: Int, waitTime: Duration, visibilityTimeout: Duration?) async throws -> [QueueMessage]
    /// Deletes `handled` (receipt handles of messages handled since the last receive), then receives:
    /// a consumer's usual round. Atomic where the queue can do both at once (the local bus: one
    /// statement); if it throws, nothing of `handled` may be assumed deleted.
    func receive(maxMessages: Int, waitTime: Duration, visibilityTimeout: Duration?, deleting handled: [String]) async throws -> [QueueMessage]
    /// Deletes received messages; a stale receipt handle is ignored, as SQS does.
    func delete(receiptHandles: [String]) async throws
    /// Hides a received message for `timeout` from now (zero makes it visible at once).
    func changeVisibility(receiptHandle: String, timeout: Duration) async throws
    /// Moves a received message to the queue's dead-letter queue at once, with `reason`: for a
    /// message that can never succeed. False when the queue has no dead-letter queue.
    func deadLetter(_ message: QueueMessage, reason: String) async throws -> Bool
    /// How many messages wait (visible) and how many are received and not yet deleted (in flight).
    func depth() async throws -> QueueDepth
}

extension MessageQueue {
    package func receive(maxMessages: Int, waitTime: Duration, visibilityTimeout: Duration?, deleting handled: [String]) async throws -> [QueueMessage] {
        if !handled.isEmpty { try await delete(receiptHandles: handled) }
        return try await receive(maxMessages: maxMessages, waitTime: waitTime, visibilityTimeout: visibilityTimeout)
    }
}

package struct QueueDepth: Sendable, Equatable {
    package var visible: Int
    package var inFlight: Int

    package init(visible: Int, inFlight: Int) {
        self.visible = visible
        self.inFlight = inFlight
    }
}

/// An error no retry can mend (a malformed event, a value the database refuses): the consumer
/// moves the message to the dead-letter queue at once, with this reason, instead of backing off.
package protocol PermanentMessageFailure: Error, CustomStringConvertible {}
