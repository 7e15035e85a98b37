import NIOPosix

/// Runs password hashing (scrypt, deliberately slow) on a few threads of NIO's blocking pool, never
/// on the async executor, with a bounded queue: a flood of sign-ins waits its turn or is refused,
/// while the JWKS and everything else stay responsive.
package actor HashingPool {
    let maximumRunning: Int
    let maximumWaiting: Int
    private var running = 0
    private var waiting: [CheckedContinuation<Void, Never>] = []

    package init(maximumRunning: Int, maximumWaiting: Int) {
        self.maximumRunning = max(1, maximumRunning)
        self.maximumWaiting = maximumWaiting
    }

    package struct Saturated: Error {}

    /// Runs `work` on the blocking pool once a slot is free; `Saturated` when too many wait already.
    package func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        if running >= maximumRunning {
            guard waiting.count < maximumWaiting else { throw Saturated() }
            await withCheckedContinuation { waiting.append($0) }
        } else {
            running += 1
        }
        defer { release() }
        return try await NIOThreadPool.singleton.runIfActive(work)
    }

    private func release() {
        if waiting.isEmpty {
            running -= 1
        } else {
            waiting.removeFirst().resume()
        }
    }
}
