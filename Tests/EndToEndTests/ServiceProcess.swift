import Foundation
import TestSupport

/// One of the shop's executables, started as a real process.
final class ServiceProcess: Sendable {
    let name: String
    let port: Int
    let environment: [String: String]
    let process: Process
    /// Where its stdout and stderr go.
    let logPath: String

    static var binDirectory: URL {
        if let dir = ProcessInfo.processInfo.environment["SWN_BIN_DIR"] { return URL(fileURLWithPath: dir) }
        // Tests/EndToEndTests/ServiceProcess.swift → package root → .build/debug
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent(".build/debug")
    }

    /// Starts `name` with `environment` and waits until `/health` answers.
    init(_ name: String, port: Int, environment: [String: String]) async throws {
        self.name = name
        self.port = port
        self.environment = environment
        let process = Process()
        process.executableURL = Self.binDirectory.appendingPathComponent(name)
        var env = ProcessInfo.processInfo.environment
        env.merge(TestTokens.environment) { _, new in new }
        env.merge(TestDatabase.processEnvironment) { _, new in new }
        env.merge(environment) { _, new in new }
        env["PORT"] = String(port)
        env["HOST"] = "127.0.0.1"
        env["LOG_LEVEL"] = env["E2E_LOG_LEVEL"] ?? "warning"
        process.environment = env
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("swn-e2e-\(name)-\(port).log")
        logPath = log.path
        FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        handle.seekToEndOfFile()
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        self.process = process
        try await waitUntilReady("http://127.0.0.1:\(port)/ready")
    }

    var baseURL: String { "http://127.0.0.1:\(port)" }

    /// `kill -9`: no graceful anything.
    func kill() {
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    func terminate() {
        guard process.isRunning else { return }
        process.terminate()
        process.waitUntilExit()
    }

    /// Starts the same executable again with the same settings.
    func restarted() async throws -> ServiceProcess {
        try await ServiceProcess(name, port: port, environment: environment)
    }
}
