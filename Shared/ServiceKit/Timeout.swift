import NIOCore
import NIOPosix
import Synchronization

/// Thrown when an operation outlives its deadline.
package struct TimeoutError: Error, CustomStringConvertible {
    package var description: String { "operation timed out" }
}

/// Runs `operation`, cancelling it and throwing `TimeoutError` after `timeout`.
///
/// The deadline is a task scheduled on a NIO event loop, not a sleeping Swift task: cancelling it
/// (the usual case, the operation finishing first) removes it at once, whereas a cancelled
/// `Task.sleep` keeps its task and timer alive until the original deadline on Linux
/// (swiftlang/swift#60441), which costs memory per call on hot paths.
package func withTimeout<T: Sendable>(_ timeout: Duration, _ operation: @escaping @Sendable () async throws -> T) async throws -> T {
    let expired = Deadline.Flag()
    let task = Task { try await operation() }
    let timer = Deadline.eventLoop.scheduleTask(in: TimeAmount(timeout)) {
        expired.set()
        task.cancel()
    }
    defer { timer.cancel() }
    return try await withTaskCancellationHandler {
        do {
            return try await task.value
        } catch {
            if expired.isSet { throw TimeoutError() }
            throw error
        }
    } onCancel: {
        task.cancel()
    }
}

/// Deadlines on NIO's shared event loops.
package enum Deadline {
    package static var eventLoop: any EventLoop { MultiThreadedEventLoopGroup.singleton.any() }

    /// A flag set once, read from any thread.
    package final class Flag: Sendable {
        private let value = Mutex(false)
        package init() {}
        package func set() { value.withLock { $0 = true } }
        package var isSet: Bool { value.withLock { $0 } }
    }
}
