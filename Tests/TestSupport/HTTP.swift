import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1

/// A small HTTP client for tests that talk to running services.
package enum HTTP {
    package struct Response: Sendable {
        package var status: Int
        package var body: Data
        package var headers: [(String, String)]
    }

    package struct Failure: Error, CustomStringConvertible {
        package var reason: String
        package init(reason: String) { self.reason = reason }
        package var description: String { reason }
    }

    package static func send(_ method: HTTPMethod, _ url: String, _ json: String? = nil, token: String? = nil, headers: [(String, String)] = []) async throws -> Response {
        var request = HTTPClientRequest(url: url)
        request.method = method
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        if let json {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: json))
        }
        for (name, value) in headers { request.headers.replaceOrAdd(name: name, value: value) }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 16 << 20)
        return Response(status: Int(response.status.code), body: Data(buffer: body), headers: response.headers.map { ($0.name, $0.value) })
    }
}

/// Runs a command-line tool (awscli, python3) with test AWS credentials and returns its output.
package func runTool(_ tool: String, _ arguments: [String], expectFailure: Bool = false, accessKeyID: String = "testing") throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [tool] + arguments
    var environment = ProcessInfo.processInfo.environment
    environment["AWS_ACCESS_KEY_ID"] = accessKeyID
    environment["AWS_SECRET_ACCESS_KEY"] = "testing"
    environment["AWS_DEFAULT_REGION"] = "us-east-1"
    environment["AWS_PAGER"] = ""
    process.environment = environment
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    let output = String(decoding: data, as: UTF8.self)
    if !expectFailure && process.terminationStatus != 0 { throw HTTP.Failure(reason: "\(tool) \(arguments) failed: \(output)") }
    return output
}

/// The repository's root, for scripts the tests run.
package let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// A moto server on a free port for the duration of `body` (moto_server ignores SIGTERM, so it is killed).
package func withMotoServer<T: Sendable>(_ body: @Sendable (String) async throws -> T) async throws -> T {
    let port = try freePort()
    let moto = Process()
    moto.executableURL = URL(fileURLWithPath: ProcessInfo.processInfo.environment["MOTO_SERVER"] ?? "/root/.pyenv/versions/3.11.7/bin/moto_server")
    moto.arguments = ["-H", "127.0.0.1", "-p", "\(port)"]
    moto.standardOutput = FileHandle.nullDevice
    moto.standardError = FileHandle.nullDevice
    try moto.run()
    defer { kill(moto.processIdentifier, SIGKILL); moto.waitUntilExit() }
    let endpoint = "http://127.0.0.1:\(port)"
    try await waitUntilReady("\(endpoint)/moto-api/")
    return try await body(endpoint)
}
