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

        var deadLetterURL: String??

        /// The URL of the dead-letter queue the redrive policy names, nil without one.
        func deadLetterQueueURL() async throws -> String? {
            if let deadLetterURL { return deadLetterURL }
            let answer = try await client.call("GetQueueAttributes", ["QueueUrl": try await url(), "AttributeNames": ["RedrivePolicy"]])
            var found: String?
            if let policy = (answer["Attributes"] as? [String: String])?["RedrivePolicy"],
               let object = try? JSONSerialization.jsonObject(with: Data(policy.utf8)) as? [String: Any],
               let arn = object["deadLetterTargetArn"] as? String, let name = arn.split(separator: ":").last {
                found = try await SQSQueue.url(of: String(name), client: client)
            }
            deadLetterURL = .some(found)
            return found
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

    /// SQS has no call for this: the message is sent to the dead-letter queue (with the reason as a
    /// message attribute) and then deleted here. A crash between the two leaves a copy in each; the
    /// dead-letter queue is for people to look at, so a duplicate there is harmless.
    package func deadLetter(_ message: QueueMessage, reason: String) async throws -> Bool {
        guard let target = try await locator.deadLetterQueueURL() else { return false }
        _ = try await client.call("SendMessage", [
            "QueueUrl": target, "MessageBody": message.body,
            "MessageAttributes": ["DeadLetterReason": ["DataType": "String", "StringValue": String(reason.prefix(1000))]],
        ])
        try await delete(receiptHandles: [message.receiptHandle])
        return true
    }

    package func changeVisibility(receiptHandle: String, timeout: Duration) async throws {
        let queueURL = try await locator.url()
        _ = try await client.call("ChangeMessageVisibility", [
            "QueueUrl": queueURL, "ReceiptHandle": receiptHandle, "VisibilityTimeout": Self.wholeSeconds(timeout),
        ])
    }

    package func depth() async throws -> QueueDepth {
        let answer = try await client.call("GetQueueAttributes", [
            "QueueUrl": try await locator.url(), "AttributeNames": ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        ])
        let attributes = answer["Attributes"] as? [String: String] ?? [:]
        return QueueDepth(
            visible: Int(attributes["ApproximateNumberOfMessages"] ?? "") ?? 0,
            inFlight: Int(attributes["ApproximateNumberOfMessagesNotVisible"] ?? "") ?? 0
        )
    }
}
