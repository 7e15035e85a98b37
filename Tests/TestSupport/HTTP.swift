import AsyncHTTPClient
import Dispatch
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

        /// The first value of the header `name` (names compared without case).
        package func header(_ name: String) -> String? {
            headers.first { $0.0.lowercased() == name.lowercased() }?.1
        }
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
/// The wait happens on a Dispatch thread: the tools often call services that run in this test
/// process, on the cooperative pool a blocking wait would starve (two such waits fill two cores).
package func runTool(
    _ tool: String, _ arguments: [String], expectFailure: Bool = false, accessKeyID: String = "testing", secretAccessKey: String = "testing"
) async throws -> String {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async {
            continuation.resume(with: Result {
                try runToolBlocking(tool, arguments, expectFailure: expectFailure, accessKeyID: accessKeyID, secretAccessKey: secretAccessKey)
            })
        }
    }
}

func runToolBlocking(_ tool: String, _ arguments: [String], expectFailure: Bool, accessKeyID: String, secretAccessKey: String) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [tool] + arguments
    var environment = ProcessInfo.processInfo.environment
    environment["AWS_ACCESS_KEY_ID"] = accessKeyID
    environment["AWS_SECRET_ACCESS_KEY"] = secretAccessKey
    environment["AWS_DEFAULT_REGION"] = "us-east-1"
    environment["AWS_PAGER"] = ""
    process.environment = environment
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    // A tool that hangs is killed after 5 minutes (its output then ends), so no test waits for ever.
    let pid = process.processIdentifier
    let killer = DispatchWorkItem { kill(pid, SIGKILL) }
    DispatchQueue.global().asyncAfter(deadline: .now() + 300, execute: killer)
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    killer.cancel()
    let output = String(decoding: data, as: UTF8.self)
    if !expectFailure && process.terminationStatus != 0 { throw HTTP.Failure(reason: "\(tool) \(arguments) failed: \(output)") }
    return output
}

/// The repository's root, for scripts the tests run.
package let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// What the README holds between the markers `begin` and `end` (a section rendered from the
/// contracts, which a test compares with its rendering); nil when a marker is missing.
package func readmeSection(begin: String, end: String) throws -> String? {
    let readme = try String(contentsOf: repositoryRoot.appendingPathComponent("README.md"), encoding: .utf8)
    guard let start = readme.range(of: begin), let stop = readme.range(of: end, range: start.upperBound..<readme.endIndex) else { return nil }
    return String(readme[start.upperBound..<stop.lowerBound])
}

/// A moto server on a free port for the duration of `body` (moto_server ignores SIGTERM, so it is killed).
package func withMotoServer<T: Sendable>(_ body: @Sendable (String) async throws -> T) async throws -> T {
    let port = try freePort()
    let moto = Process()
    // MOTO_SERVER when set (the Makefile finds it), else the moto package of whichever python3 is on PATH.
    if let server = ProcessInfo.processInfo.environment["MOTO_SERVER"], !server.isEmpty {
        moto.executableURL = URL(fileURLWithPath: server)
        moto.arguments = ["-H", "127.0.0.1", "-p", "\(port)"]
    } else {
        moto.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        moto.arguments = ["python3", "-m", "moto.server", "-H", "127.0.0.1", "-p", "\(port)"]
    }
    moto.standardOutput = FileHandle.nullDevice
    moto.standardError = FileHandle.nullDevice
    // The state machines moto executes call its own services at MOTO_PORT.
    moto.environment = ProcessInfo.processInfo.environment.merging(["MOTO_PORT": "\(port)"]) { $1 }
    try moto.run()
    defer { kill(moto.processIdentifier, SIGKILL); moto.waitUntilExit() }
    let endpoint = "http://127.0.0.1:\(port)"
    try await waitUntilReady("\(endpoint)/moto-api/")
    return try await body(endpoint)
}

/// Declares a bus topology (the JSON `bus topology` prints, `BusTopology.json`) in the moto server
/// at `endpoint` with `scripts/moto_bus.py`; returns each queue's URL by name.
package func declareTopology(_ topologyJSON: Data, inMoto endpoint: String) async throws -> [String: String] {
    let file = FileManager.default.temporaryDirectory.appendingPathComponent("swn-topology-\(UUID().uuidString).json")
    try topologyJSON.write(to: file)
    defer { try? FileManager.default.removeItem(at: file) }
    let output = try await runTool("python3", [repositoryRoot.appendingPathComponent("scripts/moto_bus.py").path, endpoint, file.path])
    guard let queues = (try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any])?["queues"] as? [String: String] else {
        throw HTTP.Failure(reason: "moto_bus.py printed no queues: \(output)")
    }
    return queues
}

extension HTTP {
    /// Sends `request` byte for byte over a new TCP connection and returns the status code of the
    /// answer (0 when the server closed without one): for request targets and bodies that an HTTP
    /// client would normalise. `delays` pauses (seconds) before sending each further chunk.
    /// Runs on a Dispatch thread: the tests' services share the cooperative pool, which a blocking
    /// wait would starve.
    package static func raw(port: Int, _ chunks: [String], delays: Double = 0, readTimeout: Double = 30) async throws -> Int {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(with: Result { try rawBlocking(port: port, chunks, delays: delays, readTimeout: readTimeout) })
            }
        }
    }

    static func rawBlocking(port: Int, _ chunks: [String], delays: Double, readTimeout: Double) throws -> Int {
        let script = """
            import json, socket, sys, time
            spec = json.load(sys.stdin)
            s = socket.create_connection(("127.0.0.1", spec["port"]))
            s.settimeout(spec["timeout"])
            try:
                for i, chunk in enumerate(spec["chunks"]):
                    if i: time.sleep(spec["delay"])
                    s.sendall(chunk.encode("utf-8", "surrogatepass"))
                data = s.recv(65536)
            except (socket.timeout, ConnectionError, BrokenPipeError):
                data = b""
            line = data.split(b"\\r\\n", 1)[0].split(b" ")
            print(int(line[1]) if len(line) > 1 and line[1].isdigit() else 0)
            """
        let spec: [String: Any] = ["port": port, "chunks": chunks, "delay": delays, "timeout": readTimeout]
        return Int(try runPython(script, input: spec)) ?? -1
    }
}

/// Runs a Python script with `input` as JSON on its standard input; returns what it printed, trimmed.
/// It blocks: only for scripts that call nothing in this process (else see `runTool`).
package func runPython(_ script: String, input: [String: Any]) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", "-c", script]
    let stdin = Pipe()
    let stdout = Pipe()
    process.standardInput = stdin
    process.standardOutput = stdout
    try process.run()
    stdin.fileHandleForWriting.write(try JSONSerialization.data(withJSONObject: input))
    try stdin.fileHandleForWriting.close()
    let data = stdout.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
}
