import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOFoundationCompat

/// Where an AWS service is reached, following the SDKs' conventions: `AWS_ENDPOINT_URL_<SERVICE>`,
/// then `AWS_ENDPOINT_URL`, then the public endpoint of the region.
package struct AWSEndpoint: Sendable {
    package var url: String
    package var region: String
    package var signingName: String

    package init(service envName: String, signingName: String, hostPrefix: String, environment: [String: String]) {
        region = environment["AWS_REGION"] ?? environment["AWS_DEFAULT_REGION"] ?? "us-east-1"
        self.signingName = signingName
        url = environment["AWS_ENDPOINT_URL_\(envName)"] ?? environment["AWS_ENDPOINT_URL"] ?? "https://\(hostPrefix).\(region).amazonaws.com"
    }
}

/// Calls AWS JSON-protocol actions (`X-Amz-Target`), signed with SigV4.
package struct AWSJSONClient: Sendable {
    let endpoint: AWSEndpoint
    let targetPrefix: String
    let contentType: String
    let credentials: CredentialsProvider
    let httpClient: HTTPClient

    package init(endpoint: AWSEndpoint, targetPrefix: String, contentType: String, credentials: CredentialsProvider, httpClient: HTTPClient) {
        self.endpoint = endpoint
        self.targetPrefix = targetPrefix
        self.contentType = contentType
        self.credentials = credentials
        self.httpClient = httpClient
    }

    /// Sends `action` with a JSON body and returns the decoded JSON answer; AWS errors are thrown as `AWSError`.
    package func call(_ action: String, _ body: [String: Any], timeout: Duration = .seconds(30)) async throws -> [String: Any] {
        try await send(path: "/", headers: ["content-type": contentType, "x-amz-target": "\(targetPrefix).\(action)"], body, timeout: timeout)
    }

    /// POSTs a JSON body to a REST-JSON operation's `path` (SES v2's `/v2/email/outbound-emails`).
    package func post(path: String, _ body: [String: Any], timeout: Duration = .seconds(30)) async throws -> [String: Any] {
        try await send(path: path, headers: ["content-type": "application/json"], body, timeout: timeout)
    }

    private func send(path: String, headers extra: [String: String], _ body: [String: Any], timeout: Duration) async throws -> [String: Any] {
        let data = try JSONSerialization.data(withJSONObject: body)
        let base = endpoint.url.hasSuffix("/") ? String(endpoint.url.dropLast()) : endpoint.url
        guard let url = URL(string: base + path), let host = url.host else {
            throw AWSError(code: "BadEndpoint", message: endpoint.url)
        }
        let hostHeader = url.port.map { "\(host):\($0)" } ?? host
        let headers = extra.merging(["host": hostHeader]) { $1 }
        let signer = SigV4Signer(credentials: try await credentials.credentials(), region: endpoint.region, service: endpoint.signingName)
        var request = HTTPClientRequest(url: url.absoluteString)
        request.method = .POST
        for (name, value) in headers where name != "host" { request.headers.add(name: name, value: value) }
        for (name, value) in signer.sign(method: "POST", url: url, headers: headers, body: data) { request.headers.add(name: name, value: value) }
        request.body = .bytes(ByteBuffer(data: data))
        let response = try await httpClient.execute(request, timeout: TimeAmount(timeout))
        let buffer = try await response.body.collect(upTo: 8 << 20)
        let object = (try? JSONSerialization.jsonObject(with: Data(buffer: buffer))) as? [String: Any] ?? [:]
        guard (200..<300).contains(response.status.code) else {
            let header = response.headers.first(name: "x-amzn-errortype")
            let type = (object["__type"] as? String ?? header ?? "HTTP\(response.status.code)").split(separator: "#").last.map(String.init) ?? ""
            throw AWSError(code: type.split(separator: ":").first.map(String.init) ?? type, message: object["message"] as? String ?? object["Message"] as? String ?? "")
        }
        return object
    }
}
