import Logging
import NIOCore
import ServiceKit
import PostgresNIO
import ServiceLifecycle

/// Listens on one Postgres notification channel and wakes the tasks waiting for a given payload.
/// Without a client it is a board for wake-ups within the process (`signal` by hand).
///
/// Waiters take a `ticket` before they look for work and wait with it afterwards, so a notification
/// that arrives between the two is never missed. If the listening connection drops, waits simply run
/// to their timeout (callers bound it), and the listener reconnects.
package actor PostgresNotifier: Service {
    private let client: DatabasePool?
    private let channel: String
    private let logger: Logger
    private var generations: [String: UInt64] = [:]
    private var waiters: [String: [UInt64: CheckedContinuation<Void, Never>]] = [:]
    /// Waits begun and not yet finished; `ended` are those whose timeout came before they suspended.
    private var active: Set<UInt64> = []
    private var ended: Set<UInt64> = []
    private var nextWaiterID: UInt64 = 0

    package init(client: DatabasePool?, channel: String, logger: Logger) {
        self.client = client
        self.channel = channel
        self.logger = logger
    }

    package nonisolated func run() async throws {
        guard let client else { return }
        await cancelWhenGracefulShutdown {
            var failures = FailureStreak("listening on \(self.channel)")
            while !Task.isCancelled {
                var wait = Duration.milliseconds(100)
                do {
                    try await client.withConnection { connection in
                        try await connection.listen(on: self.channel) { notifications in
                            failures.succeeded(logger: self.logger)
                            // Anything sent while we were not listening is unknown: wake everybody once.
                            await self.signalAll()
                            for try await notification in notifications {
                                await self.signal(notification.payload)
                            }
                        }
                    }
                } catch {
                    if Task.isCancelled { break }
                    wait = failures.failed(error, logger: self.logger)
                }
                try? await Task.sleep(for: wait)
            }
        }
    }

    /// The current generation of `key`; pass it to `wait`.
    package func ticket(_ key: String) -> UInt64 {
        generations[key, default: 0]
    }

    /// Returns when `key` has been signalled since `ticket` was taken, or after `timeout`.
    ///
    /// The timeout is a task on a NIO event loop, cancelled when the signal comes first (the usual
    /// case under load): unlike a cancelled `Task.sleep` on Linux, it leaves nothing behind until its
    /// original deadline.
    package nonisolated func wait(_ key: String, ticket: UInt64, timeout: Duration) async {
        guard timeout > .zero else { return }
        let id = await begin()
        let timer = Deadline.eventLoop.scheduleTask(in: TimeAmount(timeout)) {
            Task { await self.release(key, id: id) }
        }
        await withTaskCancellationHandler {
            await self.suspend(key, id: id, ticket: ticket)
        } onCancel: {
            Task { await self.release(key, id: id) }
        }
        timer.cancel()
        await finish(key, id: id)
    }

    package func signal(_ key: String) {
        generations[key, default: 0] &+= 1
        if let pending = waiters.removeValue(forKey: key) {
            for continuation in pending.values { continuation.resume() }
        }
    }

    private func signalAll() {
        for key in Set(generations.keys).union(waiters.keys) { signal(key) }
    }

    private func begin() -> UInt64 {
        nextWaiterID &+= 1
        active.insert(nextWaiterID)
        return nextWaiterID
    }

    /// Registers and suspends, unless the key moved on or the wait already ended (checked atomically
    /// on the actor, so `release` never misses a registration).
    private func suspend(_ key: String, id: UInt64, ticket: UInt64) async {
        if generations[key, default: 0] != ticket || ended.contains(id) || Task.isCancelled { return }
        await withCheckedContinuation { continuation in
            waiters[key, default: [:]][id] = continuation
        }
    }

    /// Ends a wait by timeout or cancellation: resumes it if it is suspended, else marks it so that
    /// it does not suspend. Does nothing once the wait finished.
    private func release(_ key: String, id: UInt64) {
        guard active.contains(id) else { return }
        if let continuation = waiters[key]?.removeValue(forKey: id) {
            continuation.resume()
        } else {
            ended.insert(id)
        }
    }

    private func finish(_ key: String, id: UInt64) {
        active.remove(id)
        ended.remove(id)
        if waiters[key]?.isEmpty == true { waiters.removeValue(forKey: key) }
    }
}
