import AsyncHTTPClient
import ServiceLifecycle

/// Owns an `HTTPClient` for the life of the service group and shuts it down at the end.
package struct HTTPClientService: Service {
    package let client: HTTPClient

    package init(client: HTTPClient = HTTPClient(eventLoopGroupProvider: .singleton)) {
        self.client = client
    }

    package func run() async throws {
        try? await gracefulShutdown()
        try await client.shutdown()
    }
}
