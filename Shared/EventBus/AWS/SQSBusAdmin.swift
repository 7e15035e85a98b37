import AWS
import Foundation

/// Inspection and repair of the shop's SQS queues, as `LocalBusAdmin` does for the local bus:
/// depths (`GetQueueAttributes`), a look at the messages without taking them (`ReceiveMessage`
/// with a visibility timeout of 0, so nothing is hidden or deleted) and the redrive of a
/// dead-letter queue (`StartMessageMoveTask`, or message by message where that call is missing).
package struct SQSBusAdmin: BusAdministration {
    let sqs: AWSJSONClient
    let topology: BusTopology

    package init(sqs: AWSJSONClient, topology: BusTopology) {
        self.sqs = sqs
        self.topology = topology
    }

    /// Every queue of the topology and every dead-letter queue, in the topology's order.
    var queueNames: [(name: String, deadLetterQueue: String?)] {
        var names: [(String, String?)] = []
        for queue in topology.queues {
            names.append((queue.name, queue.deadLetterQueue))
            if let dlq = queue.deadLetterQueue, !names.contains(where: { $0.0 == dlq }) { names.append((dlq, nil)) }
        }
        return names
    }

    package func stats() async throws -> [LocalBusAdmin.QueueStats] {
        var stats: [LocalBusAdmin.QueueStats] = []
        for (name, deadLetterQueue) in queueNames {
            let depth = try await SQSQueue(client: sqs, queue: name).depth()
            stats.append(.init(name: name, deadLetterQueue: deadLetterQueue, visible: depth.visible, inFlight: depth.inFlight))
        }
        return stats
    }

    /// Up to `limit` messages waiting in `queue`, left where they are. On a queue with a redrive
    /// policy each look counts as a receive (SQS has no other way to read a message).
    package func messages(in queue: String, limit: Int) async throws -> [LocalBusAdmin.StoredMessage] {
        let url = try await SQSQueue.url(of: queue, client: sqs)
        let source = queueNames.first { $0.deadLetterQueue == queue }?.name
        var seen: [String: LocalBusAdmin.StoredMessage] = [:]
        var order: [String] = []
        // SQS answers from a sample of its hosts: ask until a round brings nothing new.
        for _ in 0..<max(3, limit / 5) where order.count < limit {
            let answer = try await sqs.call("ReceiveMessage", [
                "QueueUrl": url, "MaxNumberOfMessages": min(10, limit - order.count), "VisibilityTimeout": 0, "WaitTimeSeconds": 0,
                "MessageSystemAttributeNames": ["ApproximateReceiveCount", "SentTimestamp"], "MessageAttributeNames": ["All"],
            ])
            let received = answer["Messages"] as? [[String: Any]] ?? []
            var fresh = 0
            for message in received {
                guard let id = message["MessageId"] as? String, seen[id] == nil else { continue }
                let attributes = message["Attributes"] as? [String: String] ?? [:]
                let sent = Double(attributes["SentTimestamp"] ?? "").map { Date(timeIntervalSince1970: $0 / 1000) } ?? Date()
                seen[id] = .init(
                    messageID: id, body: message["Body"] as? String ?? "",
                    receiveCount: Int(attributes["ApproximateReceiveCount"] ?? "") ?? 0, sentAt: sent,
                    sourceQueue: source, deadLetteredAt: nil,
                    deadLetterReason: ((message["MessageAttributes"] as? [String: Any])?["DeadLetterReason"] as? [String: Any])?["StringValue"] as? String
                )
                order.append(id)
                fresh += 1
            }
            if fresh == 0 { break }
        }
        return order.compactMap { seen[$0] }
    }

    /// `StartMessageMoveTask` from the dead-letter queue back to the queues its messages came from;
    /// SQS moves them in the background (`ListMessageMoveTasks` shows the progress).
    package func redrive(deadLetterQueue: String) async throws -> String {
        let url = try await SQSQueue.url(of: deadLetterQueue, client: sqs)
        let attributes = try await sqs.call("GetQueueAttributes", ["QueueUrl": url, "AttributeNames": ["QueueArn"]])
        guard let arn = (attributes["Attributes"] as? [String: String])?["QueueArn"] else {
            throw AWSError(code: "BadResponse", message: "no QueueArn for \(deadLetterQueue)")
        }
        let answer = try await sqs.call("StartMessageMoveTask", ["SourceArn": arn])
        return "started a message move task from \(deadLetterQueue) back to its source queue (task \(answer["TaskHandle"] as? String ?? "?"))"
    }

    /// The redrive done message by message: receive from the dead-letter queue, send to the queue
    /// the topology says it serves, delete. For endpoints without `StartMessageMoveTask` (moto).
    /// A crash between send and delete leaves a copy in both; consumers are idempotent.
    package func redriveByHand(deadLetterQueue: String) async throws -> String {
        guard let source = queueNames.first(where: { $0.deadLetterQueue == deadLetterQueue })?.name else {
            throw AWSError(code: "NotADeadLetterQueue", message: "no queue of the topology uses \(deadLetterQueue) as its dead-letter queue")
        }
        let from = try await SQSQueue.url(of: deadLetterQueue, client: sqs)
        let to = try await SQSQueue.url(of: source, client: sqs)
        // Only what is there now: a message that fails again comes back as a new one.
        let waiting = try await SQSQueue(client: sqs, queue: from).depth().visible
        var moved = 0
        while moved < waiting {
            let answer = try await sqs.call("ReceiveMessage", [
                "QueueUrl": from, "MaxNumberOfMessages": min(10, waiting - moved), "VisibilityTimeout": 60, "WaitTimeSeconds": 0,
            ])
            let messages = answer["Messages"] as? [[String: Any]] ?? []
            if messages.isEmpty { break }
            for message in messages {
                guard let body = message["Body"] as? String, let handle = message["ReceiptHandle"] as? String else { continue }
                _ = try await sqs.call("SendMessage", ["QueueUrl": to, "MessageBody": body])
                _ = try await sqs.call("DeleteMessage", ["QueueUrl": from, "ReceiptHandle": handle])
                moved += 1
            }
        }
        return "moved \(moved) message(s) back from \(deadLetterQueue) to \(source)"
    }
}

/// What `bus` does with a bus's queues, local or on SQS.
package protocol BusAdministration: Sendable {
    func stats() async throws -> [LocalBusAdmin.QueueStats]
    func messages(in queue: String, limit: Int) async throws -> [LocalBusAdmin.StoredMessage]
    /// Starts or does the redrive; a sentence saying what happened.
    func redrive(deadLetterQueue: String) async throws -> String
}

extension LocalBusAdmin: BusAdministration {
    package func redrive(deadLetterQueue: String) async throws -> String {
        let moved: Int = try await redrive(deadLetterQueue: deadLetterQueue)
        return "moved \(moved) message(s) back from \(deadLetterQueue)"
    }
}
