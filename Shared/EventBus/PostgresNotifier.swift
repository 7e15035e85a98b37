import Logging
import PostgresNIO
import ServiceLifecycle

/// Listens on one Postgres notification channel and wakes the tasks waiting for a given payload.
///
/// Waiters take a `ticket` before they look for work and wait with it afterwards, so a notification
/// that arrives between the two is never missed. If the listening connection drops, waits simply run
/// to their timeout (callers bound it), and the listener reconnects.
package actor PostgresNotifier: Service {
    private let client: PostgresClient
    private let channel: String
    private let logger: Logger
    private var generations: [String: UInt64] = [:]
    private var waiters: [String: [UInt64: CheckedContinuation<Void, Never>]] = [:]
    private var nextWaiterID: UInt64 = 0

    package init(client: PostgresClient, channel: String, logger: Logger) {
        self.client = client
        self.channel = channel
        self.logger = logger
    }

    package nonisolated func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await self.client.withConnection { connection in
                        try await connection.listen(on: self.channel) { notifications in
                            // Anything sent while we were not listening is unknown: wake everybody once.
                            await self.signalAll()
                            for try await notification in notifications {
                                await self.signal(notification.payload)
                            }
                        }
                    }
                } catch {
                    if Task.isCancelled { break }
                    self.logger.warning("notification listener failed; reconnecting", metadata: ["channel": "\(self.channel)", "error": "\(error)"])
                }
                try? await Task.sleep(for: .milliseconds(500))
            }
        }
    }

    /// The current generation of `key`; pass it to `wait`.
    package func ticket(_ key: String) -> UInt64 {
        generations[key, default: 0]
    }

    /// Returns when `key` has been signalled since `ticket` was taken, or after `timeout`.
    package nonisolated func wait(_ key: String, ticket: UInt64, timeout: Duration) async {
        guard timeout > .zero else { return }
        let id = await makeWaiterID()
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.suspend(key, id: id, ticket: ticket) }
            group.addTask { try? await Task.sleep(for: timeout) }
            await group.next()
            group.cancelAll()
            await self.release(key, id: id)
        }
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

    private func makeWaiterID() -> UInt64 {
        nextWaiterID &+= 1
        return nextWaiterID
    }

    /// Registers and suspends, unless the key moved on or the wait already ended (checked atomically
    /// on the actor, so `release` never misses a registration).
    private func suspend(_ key: String, id: UInt64, ticket: UInt64) async {
        if generations[key, default: 0] != ticket || Task.isCancelled { return }
        await withCheckedContinuation { continuation in
            waiters[key, default: [:]][id] = continuation
        }
    }

    /// Resumes this waiter if its wait ended by timeout, so no continuation leaks.
    private func release(_ key: String, id: UInt64) {
        waiters[key]?.removeValue(forKey: id)?.resume()
    }
}
