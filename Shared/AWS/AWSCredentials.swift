import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOFoundationCompat

/// An access key pair, possibly temporary.
package struct AWSCredentials: Sendable, Equatable {
    package var accessKeyID: String
    package var secretAccessKey: String
    package var sessionToken: String?
    package var expiration: Date?

    package init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil, expiration: Date? = nil) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
        self.expiration = expiration
    }
}

/// Finds credentials as the AWS SDKs do: the standard environment variables first, then the ECS
/// container credentials endpoint (`AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` / `_FULL_URI`), whose
/// temporary keys are fetched again five minutes before they expire.
package actor CredentialsProvider {
    let environment: [String: String]
    let httpClient: HTTPClient
    let logger: Logger
    private var cached: AWSCredentials?

    package init(environment: [String: String], httpClient: HTTPClient, logger: Logger) {
        self.environment = environment
        self.httpClient = httpClient
        self.logger = logger
    }

    package func credentials() async throws -> AWSCredentials {
        if let key = environment["AWS_ACCESS_KEY_ID"], let secret = environment["AWS_SECRET_ACCESS_KEY"], !key.isEmpty {
            return AWSCredentials(accessKeyID: key, secretAccessKey: secret, sessionToken: environment["AWS_SESSION_TOKEN"].flatMap { $0.isEmpty ? nil : $0 })
        }
        if let cached, let expiration = cached.expiration, expiration.timeIntervalSinceNow > 300 { return cached }
        let url: String
        if let relative = environment["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"] {
            url = "http://169.254.170.2\(relative)"
        } else if let full = environment["AWS_CONTAINER_CREDENTIALS_FULL_URI"] {
            url = full
        } else {
            throw AWSError(code: "NoCredentials", message: "set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or run with a container credentials endpoint")
        }
        var request = HTTPClientRequest(url: url)
        if let token = environment["AWS_CONTAINER_AUTHORIZATION_TOKEN"] { request.headers.add(name: "Authorization", value: token) }
        let response = try await httpClient.execute(request, timeout: .seconds(5))
        let body = try await response.body.collect(upTo: 64 * 1024)
        struct Answer: Decodable {
            var AccessKeyId: String
            var SecretAccessKey: String
            var Token: String?
            var Expiration: String?
        }
        guard response.status == .ok else { throw AWSError(code: "CredentialsEndpoint", message: "answered \(response.status.code)") }
        let answer = try JSONDecoder().decode(Answer.self, from: Data(buffer: body))
        let credentials = AWSCredentials(
            accessKeyID: answer.AccessKeyId, secretAccessKey: answer.SecretAccessKey, sessionToken: answer.Token,
            expiration: answer.Expiration.flatMap { try? Date.ISO8601FormatStyle().parse($0) }
        )
        cached = credentials
        return credentials
    }
}

/// An error answer of an AWS service (`__type` and message), or a local failure to reach one.
package struct AWSError: Error, CustomStringConvertible, Equatable {
    package var code: String
    package var message: String
    package var description: String { "\(code): \(message)" }

    package init(code: String, message: String) {
        self.code = code
        self.message = message
    }
}
