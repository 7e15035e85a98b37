import Logging
import ServiceLifecycle

/// Runs `tick` every `interval` once the gate opened, until shutdown; a failing tick is logged once
/// per streak of failures and the next one runs on time (scans for due deadlines, slow answers).
package struct PeriodicTask: Service {
    let name: String
    let interval: Duration
    let gate: StartupGate?
    let logger: Logger
    let tick: @Sendable () async throws -> Void

    package init(_ name: String, every interval: Duration, gate: StartupGate? = nil, logger: Logger, tick: @escaping @Sendable () async throws -> Void) {
        self.name = name
        self.interval = interval
        self.gate = gate
        self.logger = logger
        self.tick = tick
    }

    package func run() async throws {
        if let gate { await cancelWhenGracefulShutdownOrReturn { await gate.wait() } }
        var failures = FailureStreak(name)
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            var wait = interval
            do {
                try await tick()
                failures.succeeded(logger: logger)
            } catch {
                if Task.isShuttingDownGracefully || Task.isCancelled { break }
                // The next tick on time, or sooner after a short outage (the backoff starts at 100 ms).
                wait = min(interval, failures.failed(error, logger: logger))
            }
            let pause = wait
            await cancelWhenGracefulShutdownOrReturn { try? await Task.sleep(for: pause) }
        }
    }
}

/// Runs `operation`, cutting it short (by cancellation) when graceful shutdown begins.
package func cancelWhenGracefulShutdownOrReturn(_ operation: @escaping @Sendable () async -> Void) async {
    _ = try? await cancelWhenGracefulShutdown { await operation() }
}
