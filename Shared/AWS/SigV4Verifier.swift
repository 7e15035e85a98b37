import Crypto
import Foundation

/// Checks AWS Signature Version 4 on an incoming request, as an AWS service does: the credential
/// scope (access key id, day, region, service), `X-Amz-Date` within the allowed skew, and the
/// signature over the canonical request, recomputed from what arrived.
package struct SigV4Verifier: Sendable {
    package let accessKeyID: String
    package let secretAccessKey: String
    package let region: String
    package let service: String
    package var allowedSkew: TimeInterval = 300

    package init(accessKeyID: String, secretAccessKey: String, region: String, service: String) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.region = region
        self.service = service
    }

    /// Why a request's signature was refused, in the error types AWS answers with.
    package enum Failure: Error, Equatable {
        /// No `Authorization` header (AWS: `MissingAuthenticationTokenException`).
        case missing
        /// The access key id is not one this service knows (`UnrecognizedClientException`).
        case unrecognizedClient
        /// Malformed header, wrong scope, stale date or wrong signature (`InvalidSignatureException`
        /// or `IncompleteSignatureException`).
        case invalidSignature(String)
        case incomplete(String)
    }

    /// - Parameters:
    ///   - header: the values of a header by lower-case name (`host` included), in arrival order.
    package func verify(
        method: String, rawPath: String, rawQuery: String?, header: (String) -> [String], body: Data, now: Date = Date()
    ) throws(Failure) {
        guard let authorization = header("authorization").first else { throw .missing }
        guard authorization.hasPrefix("AWS4-HMAC-SHA256 ") else { throw .incomplete("Authorization header requires the AWS4-HMAC-SHA256 algorithm") }
        var parts: [String: String] = [:]
        for item in authorization.dropFirst("AWS4-HMAC-SHA256 ".count).split(separator: ",") {
            let pair = item.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1)
            guard pair.count == 2 else { throw .incomplete("Authorization header is malformed") }
            parts[String(pair[0])] = String(pair[1])
        }
        guard let credential = parts["Credential"], let signedHeaderList = parts["SignedHeaders"], let signature = parts["Signature"] else {
            throw .incomplete("Authorization header requires 'Credential', 'SignedHeaders' and 'Signature'")
        }
        let scope = credential.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard scope.count == 5, scope[4] == "aws4_request" else { throw .incomplete("Credential is malformed") }
        guard constantTimeEqual(scope[0], accessKeyID) else { throw .unrecognizedClient }
        guard let amzDate = header("x-amz-date").first, let signedAt = Self.parse(amzDate) else {
            throw .incomplete("the request needs an X-Amz-Date header")
        }
        guard abs(signedAt.timeIntervalSince(now)) <= allowedSkew else {
            throw .invalidSignature("Signature expired: \(amzDate) is not within \(Int(allowedSkew)) seconds of the server time")
        }
        guard scope[1] == amzDate.prefix(8) else { throw .invalidSignature("Credential should be scoped to a valid date: \(amzDate.prefix(8))") }
        guard scope[2] == region else { throw .invalidSignature("Credential should be scoped to a valid region, not '\(scope[2])'") }
        guard scope[3] == service else { throw .invalidSignature("Credential should be scoped to correct service: '\(service)'") }

        let names = signedHeaderList.split(separator: ";").map(String.init)
        guard names == names.sorted(), Set(names).count == names.count, names.contains("host"), names.contains("x-amz-date"),
              names.allSatisfy({ $0 == $0.lowercased() })
        else { throw .invalidSignature("SignedHeaders must be lower-case, sorted, and include host and x-amz-date") }
        var headers: [(String, String)] = []
        for name in names {
            let values = header(name)
            guard !values.isEmpty else { throw .invalidSignature("signed header \(name) is missing") }
            headers.append((name, values.map(SigV4Signer.trim).joined(separator: ",")))
        }
        let canonical = SigV4Signer.canonicalRequest(
            method: method, path: Self.canonicalPath(rawPath), query: Self.canonicalQuery(rawQuery),
            headers: headers, payloadHash: SigV4Signer.hex(SHA256.hash(data: body))
        )
        let expected = SigV4Signer.signature(secret: secretAccessKey, amzDate: amzDate, region: region, service: service, canonicalRequest: canonical)
        guard constantTimeEqual(expected, signature) else {
            throw .invalidSignature("The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.")
        }
    }

    static func parse(_ amzDate: String) -> Date? {
        guard amzDate.count == 16 else { return nil }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        return formatter.date(from: amzDate)
    }

    /// The path as it arrived (percent-encoded), each segment encoded once more, as the signer builds it.
    static func canonicalPath(_ rawPath: String) -> String {
        guard !rawPath.isEmpty else { return "/" }
        return rawPath.split(separator: "/", omittingEmptySubsequences: false)
            .map { SigV4Signer.encode(String($0)) }
            .joined(separator: "/")
    }

    static func canonicalQuery(_ rawQuery: String?) -> String {
        guard let rawQuery, !rawQuery.isEmpty else { return "" }
        let pairs: [(String, String)] = rawQuery.split(separator: "&").map { item in
            let pair = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map {
                SigV4Signer.encode(String($0).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String($0))
            }
            return (pair[0], pair.count > 1 ? pair[1] : "")
        }
        return pairs.sorted { $0.0 == $1.0 ? $0.1 < $1.1 : $0.0 < $1.0 }.map { "\($0.0)=\($0.1)" }.joined(separator: "&")
    }

    private func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let left = Array(a.utf8), right = Array(b.utf8)
        guard left.count == right.count else { return false }
        return zip(left, right).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }
}
