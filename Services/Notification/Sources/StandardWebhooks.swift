import Crypto
import Foundation

/// Signing as the Standard Webhooks specification describes (standardwebhooks.com): the headers
/// `webhook-id`, `webhook-timestamp` (seconds since 1970) and `webhook-signature: v1,<base64 of
/// HMAC-SHA256("<id>.<timestamp>.<body>")>`, keyed with the endpoint's secret, which is shown once as
/// `whsec_<base64 of its bytes>`. Receivers verify with any Standard Webhooks library or a few lines of HMAC.
package struct StandardWebhooks: Sendable {
    /// The secret's bytes.
    package let key: SymmetricKey

    package init(key: SymmetricKey) {
        self.key = key
    }

    /// A secret as shown to its owner: `whsec_` and the key's base64. Nil when it is not one.
    package init?(secret: String) {
        guard secret.hasPrefix(Self.secretPrefix), let bytes = Data(base64Encoded: String(secret.dropFirst(Self.secretPrefix.count))),
              (24...64).contains(bytes.count) else { return nil }
        key = SymmetricKey(data: bytes)
    }

    /// A new endpoint's secret: 32 random bytes.
    package static func newSecret() -> (secret: String, signer: StandardWebhooks) {
        let key = SymmetricKey(size: .bits256)
        let secret = secretPrefix + key.withUnsafeBytes { Data($0).base64EncodedString() }
        return (secret, StandardWebhooks(key: key))
    }

    package static let secretPrefix = "whsec_"

    /// The `v1,…` signature of `body` sent as message `id` at `timestamp`.
    package func signature(id: String, timestamp: Int64, body: some DataProtocol) -> String {
        var mac = HMAC<SHA256>(key: key)
        mac.update(data: Data("\(id).\(timestamp).".utf8))
        mac.update(data: body)
        return "v1," + Data(mac.finalize()).base64EncodedString()
    }

    /// The three headers of one delivery attempt.
    package func headers(id: String, timestamp: Int64, body: some DataProtocol) -> [(name: String, value: String)] {
        [("webhook-id", id), ("webhook-timestamp", String(timestamp)), ("webhook-signature", signature(id: id, timestamp: timestamp, body: body))]
    }

    /// Whether `signatures` (the header's space-separated list) holds a valid `v1` signature of `body`
    /// and `timestamp` is within `tolerance` of `now` (what a receiver checks; used by the tests).
    package func verify(id: String, timestamp: Int64, signatures: String, body: some DataProtocol, now: Date = Date(), tolerance: TimeInterval = 300) -> Bool {
        guard abs(now.timeIntervalSince1970 - Double(timestamp)) <= tolerance else { return false }
        let expected = Data(signature(id: id, timestamp: timestamp, body: body).utf8)
        return signatures.split(separator: " ").contains { candidate in
            // Compared in constant time.
            let given = Data(candidate.utf8)
            guard given.count == expected.count else { return false }
            return zip(given, expected).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
        }
    }
}
