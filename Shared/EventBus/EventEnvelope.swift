import Foundation
import ServiceKit

/// The EventBridge event envelope, used on every bus, local or AWS.
package struct EventEnvelope: Codable, Sendable, Equatable {
    package var version: String
    package var id: String
    package var detailType: String
    package var source: String
    package var account: String?
    package var time: Date
    package var region: String
    package var resources: [String]
    package var detail: JSONValue

    enum CodingKeys: String, CodingKey {
        case version, id, detailType = "detail-type", source, account, time, region, resources, detail
    }

    package init(
        id: String = UUID.random().uuidString.lowercased(), detailType: String, source: String, account: String? = nil,
        time: Date = Date(), region: String, resources: [String] = [], detail: JSONValue
    ) {
        self.version = "0"
        self.id = id
        self.detailType = detailType
        self.source = source
        self.account = account
        self.time = time
        self.region = region
        self.resources = resources
        self.detail = detail
    }

    /// Parses a queue message body (the JSON EventBridge delivers to an SQS target).
    package init(json: String) throws {
        self = try JSONValue.decoder.decode(EventEnvelope.self, from: Data(json.utf8))
    }

    package func jsonString() throws -> String {
        String(decoding: try JSONValue.encoder.encode(self), as: UTF8.self)
    }

    /// The envelope as a JSON value, for pattern matching.
    package var jsonValue: JSONValue {
        var object: [String: JSONValue] = [
            "version": .string(version), "id": .string(id), "detail-type": .string(detailType),
            "source": .string(source), "time": .string(Timestamp.format(time)), "region": .string(region),
            "resources": .array(resources.map(JSONValue.string)), "detail": detail,
        ]
        if let account { object["account"] = .string(account) }
        return .object(object)
    }
}
