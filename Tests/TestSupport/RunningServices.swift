import Synchronization
import AsyncHTTPClient
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

/// A TCP port nobody listens on right now.
package func freePort() throws -> Int {
    try PortAllocator.shared.next()
}

/// Hands out ports below Linux's ephemeral range (32768–60999), so that no outgoing connection of
/// this machine can take a port between the moment it is chosen and the moment a server binds it,
/// and never the same port twice in one test process. Each candidate is checked by binding it.
final class PortAllocator: Sendable {
    static let shared = PortAllocator()
    private let nextCandidate = Mutex(20_000 + Int(getpid() % 500) * 20)

    func next() throws -> Int {
        for _ in 0..<2_000 {
            let port = nextCandidate.withLock { value -> Int in
                defer { value = value >= 32_000 ? 20_000 : value + 1 }
                return value
            }
            if Self.binds(port) { return port }
        }
        throw PortsExhausted()
    }

    /// Whether a socket binds 127.0.0.1:`port` (then closed at once). A plain system call: the tests call
    /// this on Swift's cooperative threads, where waiting for an event loop's answer would block one of
    /// its two threads for as long as the loops are busy.
    private static func binds(_ port: Int) -> Bool {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { return false }
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }

    struct PortsExhausted: Error {}
}

/// Runs `services` (applications, clients) in a service group for the duration of `body`. When the
/// group ends first (a service failed to start: its database set-up took longer than its start-up
/// allows on a loaded machine, and the group shut down), `body` is cancelled and the group's error
/// (or `ServicesEnded`) is thrown at once, instead of `body` waiting out its own timeouts for
/// servers that are gone. When `body` ends, returning or throwing, the services are shut down
/// gracefully and only cancelled if that takes over 30 s: cancelling a Hummingbird server that has
/// accepted a connection it has not yet served traps in NIO ("Deinited NIOAsyncWriter without calling
/// finish()", apple/swift-nio#2813), which once ended a whole `swift test`.
package func withRunningServices<T: Sendable>(
    _ services: [any Service], logger: Logger = TestDatabase.logger, _ body: @Sendable () async throws -> T
) async throws -> T {
    let group = ServiceGroup(configuration: .init(services: services, logger: logger))
    // The task group ends (its tasks awaited) before this function returns.
    return try await withoutActuallyEscaping(body) { body in try await withThrowingTaskGroup(of: RunningServicesEnd<T>.self) { tasks in
        tasks.addTask {
            do { try await group.run(); return .services(nil) } catch { return .services(error) }
        }
        tasks.addTask {
            do { return .body(.success(try await body())) } catch { return .body(.failure(error)) }
        }
        let first = try await tasks.next()
        guard case .body(let outcome) = first else {
            tasks.cancelAll()
            try await tasks.waitForAll()
            if case .services(let error?) = first { throw error }
            throw ServicesEnded()
        }
        await group.triggerGracefulShutdown()
        tasks.addTask { try? await Task.sleep(for: .seconds(30)); return .timer }
        var servicesError: (any Error)?
        while let ended = try await tasks.next() {
            switch ended {
            case .services(let error):
                servicesError = error
                tasks.cancelAll()  // the timer
            case .timer:
                logger.warning("the services did not stop within 30 s of a graceful shutdown; cancelling them")
                tasks.cancelAll()
            case .body:
                break
            }
        }
        let result = try outcome.get()
        if let servicesError { throw servicesError }
        return result
    } }
}

/// What ended first in `withRunningServices` (its tasks return this rather than throw).
private enum RunningServicesEnd<T: Sendable>: Sendable {
    case services((any Error)?)
    case body(Result<T, any Error>)
    case timer
}

/// The services of `withRunningServices` stopped before its body was done.
package struct ServicesEnded: Error, CustomStringConvertible {
    package var description: String { "the services stopped before the test was done" }
}

/// Polls `url` until it answers 200, for up to `timeout`.
/// Long enough for the start of a full `swift test` on two cores, where some forty suites start their
/// databases and services at the same moment.
package func waitUntilReady(_ url: String, timeout: Duration = .seconds(120)) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if let response = try? await HTTPClient.shared.execute(HTTPClientRequest(url: url), timeout: .seconds(2)),
           response.status == .ok {
            return
        }
        try await Task.sleep(for: .milliseconds(100))
    }
    throw WaitTimedOut(url: url)
}

package struct WaitTimedOut: Error, CustomStringConvertible {
    package var url: String
    package var description: String { "\(url) did not become ready in time" }
}
