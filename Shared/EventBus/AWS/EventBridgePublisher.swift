import AWS
import Foundation

/// `PutEvents` on Amazon EventBridge (JSON 1.1). Each entry's outcome is reported separately, so
/// the outbox retries only the entries EventBridge rejected.
package struct EventBridgePublisher: EventPublisher {
    let client: AWSJSONClient
    package let eventBusName: String

    package init(client: AWSJSONClient, eventBusName: String) {
        self.client = client
        self.eventBusName = eventBusName
    }

    package var maximumBatchSize: Int { 10 }

    package func putEvents(_ entries: [PublishEntry]) async throws -> [PublishResult] {
        let body: [String: Any] = ["Entries": try entries.map { entry -> [String: Any] in
            var object: [String: Any] = [
                "Source": entry.source, "DetailType": entry.detailType, "EventBusName": eventBusName,
                "Detail": String(decoding: try JSONValue.encoder.encode(entry.detail), as: UTF8.self),
                "Resources": entry.resources,
            ]
            if let time = entry.time { object["Time"] = time.timeIntervalSince1970 }
            return object
        }]
        let answer = try await client.call("PutEvents", body)
        let results = answer["Entries"] as? [[String: Any]] ?? []
        guard results.count == entries.count else {
            throw AWSError(code: "BadResponse", message: "PutEvents answered \(results.count) entries for \(entries.count)")
        }
        return results.map { result in
            if let id = result["EventId"] as? String { return .published(eventID: id) }
            return .failed(code: result["ErrorCode"] as? String ?? "Unknown", message: result["ErrorMessage"] as? String ?? "")
        }
    }
}
