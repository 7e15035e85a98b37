import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

/// A TCP port nobody listens on right now.
package func freePort() throws -> Int {
    let channel = try ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .bind(host: "127.0.0.1", port: 0).wait()
    let port = channel.localAddress?.port ?? 0
    try channel.close().wait()
    return port
}

/// Runs `services` (applications, clients) in a service group for the duration of `body`.
package func withRunningServices<T: Sendable>(
    _ services: [any Service], logger: Logger = TestDatabase.logger, _ body: @Sendable () async throws -> T
) async throws -> T {
    let group = ServiceGroup(configuration: .init(services: services, logger: logger))
    return try await withThrowingTaskGroup(of: T?.self) { tasks in
        tasks.addTask { try await group.run(); return nil }
        do {
            let result = try await body()
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
            return result
        } catch {
            await group.triggerGracefulShutdown()
            throw error
        }
    }
}

/// Polls `url` until it answers 200, for up to `timeout`.
package func waitUntilReady(_ url: String, timeout: Duration = .seconds(30)) async throws {
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
