import Foundation
import Testing
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
        if !waitForExit(within: .seconds(30)) { Issue.record("\(name) (port \(port)) still runs 30 s after SIGKILL") }
    }

    /// SIGTERM, and the process must end within `grace` (it takes ~0.05 s): one that does not fails the
    /// test, its threads' stacks are kept (`logPath` + `.stacks`, and in $SWN_TEST_LOG_DIR when set for
    /// the run's summary) and it is killed, so a shutdown that hangs shows as a named failure rather than
    /// a test run that never ends.
    func terminate(grace: Duration = .seconds(20)) {
        guard process.isRunning else { return }
        process.terminate()
        guard !waitForExit(within: grace) else { return }
        let stacks = ProcessStacks.capture(pid: process.processIdentifier, name: name, logPath: logPath)
        Foundation.kill(process.processIdentifier, SIGKILL)
        _ = waitForExit(within: .seconds(10))
        Issue.record("\(name) (port \(port)) did not end within \(grace) of SIGTERM; killed. Stacks: \(stacks)")
    }

    /// Whether the process ended within `limit`. Ended means exited, reaped or not: Foundation reaps its
    /// children on a thread of its own, which a loaded run once saw leave an exited child a zombie (and
    /// `isRunning` true) for over 20 s.
    private func waitForExit(within limit: Duration) -> Bool {
        let deadline = ContinuousClock.now + limit
        let pid = process.processIdentifier
        while process.isRunning && !Self.exited(pid) {
            guard ContinuousClock.now < deadline else { return false }
            usleep(10_000)
        }
        return true
    }

    /// Whether process `pid` has exited: gone, or a zombie (state Z in /proc/PID/stat).
    private static func exited(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let end = stat.lastIndex(of: ")") else { return true }
        return stat[stat.index(after: end)...].trimmingCharacters(in: .whitespaces).hasPrefix("Z")
    }

    /// Starts the same executable again with the same settings.
    func restarted() async throws -> ServiceProcess {
        try await ServiceProcess(name, port: port, environment: environment)
    }
}

/// The stacks of a process that hangs, by gdb (Debian's, on CI machines too), written next to its log.
enum ProcessStacks {
    /// Writes every thread's stack of `pid` to `logPath`.stacks (and a copy to $SWN_TEST_LOG_DIR when set);
    /// returns where, or why not.
    static func capture(pid: Int32, name: String, logPath: String) -> String {
        let gdb = Process()
        gdb.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        gdb.arguments = ["gdb", "-p", "\(pid)", "-batch", "-ex", "thread apply all bt 40"]
        let path = logPath + ".stacks"
        FileManager.default.createFile(atPath: path, contents: nil)
        guard let handle = FileHandle(forWritingAtPath: path) else { return "cannot write \(path)" }
        defer { try? handle.close() }
        gdb.standardOutput = handle
        gdb.standardError = handle
        gdb.standardInput = FileHandle.nullDevice
        do { try gdb.run() } catch { return "gdb did not start: \(error)" }
        let deadline = ContinuousClock.now + .seconds(60)
        while gdb.isRunning && ContinuousClock.now < deadline { usleep(50_000) }
        if gdb.isRunning { gdb.terminate() }
        if let directory = ProcessInfo.processInfo.environment["SWN_TEST_LOG_DIR"] {
            try? FileManager.default.copyItem(atPath: path, toPath: "\(directory)/hung-\(name)-\(pid).stacks")
        }
        return path
    }
}
