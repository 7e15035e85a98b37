import AWS
import Foundation

/// An Amazon SQS queue over the JSON protocol. The queue's redrive policy moves a message to its
/// dead-letter queue after `maxReceiveCount` receives, as the local bus does.
package struct SQSQueue: MessageQueue {
    let client: AWSJSONClient
    let locator: QueueLocator

    /// `queue` is a queue URL, or a name looked up with `GetQueueUrl` on first use.
    package init(client: AWSJSONClient, queue: String) {
        self.client = client
        self.locator = QueueLocator(queue: queue, client: client)
    }

    /// Resolves a queue name to its URL once.
    actor QueueLocator {
        let queue: String
        let client: AWSJSONClient
        var resolved: String?

        init(queue: String, client: AWSJSONClient) {
            self.queue = queue
            self.client = client
            self.resolved = queue.hasPrefix("http://") || queue.hasPrefix("https://") ? queue : nil
        }

        func url() async throws -> String {
            if let resolved { return resolved }
            let url = try await SQSQueue.url(of: queue, client: client)
            resolved = url
            return url
        }
    }

    /// Looks a queue URL up by name (`GetQueueUrl`).
    package static func url(of name: String, client: AWSJSONClient) async throws -> String {
        let answer = try await client.call("GetQueueUrl", ["QueueName": name])
        guard let url = answer["QueueUrl"] as? String else { throw AWSError(code: "BadResponse", message: "no QueueUrl for \(name)") }
        return url
    }

    package func receive(maxMessages: Int, waitTime: Duration, visibilityTimeout: Duration?) async throws -> [QueueMessage] {
        let queueURL = try await locator.url()
        var body: [String: Any] = [
            "QueueUrl": queueURL, "MaxNumberOfMessages": min(max(maxMessages, 1), 10),
            "WaitTimeSeconds": min(Int(waitTime.components.seconds), 20),
            "AttributeNames": ["ApproximateReceiveCount", "SentTimestamp"],
            "MessageSystemAttributeNames": ["ApproximateReceiveCount", "SentTimestamp"],
        ]
        if let visibilityTimeout { body["VisibilityTimeout"] = Int(visibilityTimeout.components.seconds) }
        let answer = try await client.call("ReceiveMessage", body, timeout: .seconds(Int64(waitTime.components.seconds) + 10))
        return (answer["Messages"] as? [[String: Any]] ?? []).compactMap { message in
            guard let id = message["MessageId"] as? String, let receipt = message["ReceiptHandle"] as? String,
                  let text = message["Body"] as? String else { return nil }
            let attributes = message["Attributes"] as? [String: String] ?? [:]
            let sent = attributes["SentTimestamp"].flatMap(Double.init).map { Date(timeIntervalSince1970: $0 / 1000) } ?? Date()
            return QueueMessage(
                messageID: id, receiptHandle: receipt, body: text,
                receiveCount: attributes["ApproximateReceiveCount"].flatMap(Int.init) ?? 1, sentAt: sent
            )
        }
    }

    package func delete(receiptHandles: [String]) async throws {
        let queueURL = try await locator.url()
        for start in stride(from: 0, to: receiptHandles.count, by: 10) {
            let batch = receiptHandles[start..<min(start + 10, receiptHandles.count)]
            let entries = batch.enumerated().map { ["Id": "m\($0.offset)", "ReceiptHandle": $0.element] }
            _ = try await client.call("DeleteMessageBatch", ["QueueUrl": queueURL, "Entries": entries])
        }
    }

    /// SQS counts in whole seconds (at most 12 hours); a part of a second rounds up, so a backoff is never zero.
    static func wholeSeconds(_ duration: Duration) -> Int {
        let seconds = Int(duration.components.seconds) + (duration.components.attoseconds > 0 ? 1 : 0)
        return min(max(seconds, 0), 43_200)
    }

    package func changeVisibility(receiptHandle: String, timeout: Duration) async throws {
        let queueURL = try await locator.url()
        _ = try await client.call("ChangeMessageVisibility", [
            "QueueUrl": queueURL, "ReceiptHandle": receiptHandle, "VisibilityTimeout": Self.wholeSeconds(timeout),
        ])
    }
}
