import AsyncHTTPClient
import ServiceLifecycle

/// Owns an `HTTPClient` for the life of the service group and shuts it down at the end.
package struct HTTPClientService: Service {
    package let client: HTTPClient

    package init(client: HTTPClient = HTTPClient(eventLoopGroupProvider: .singleton, configuration: Self.defaultConfiguration())) {
        self.client = client
    }

    /// AsyncHTTPClient's defaults, without client spans when tracing is off (a no-op tracer still
    /// had every request's span attributes computed), and no connection retries.
    package static func defaultConfiguration() -> HTTPClient.Configuration {
        var configuration = HTTPClient.Configuration()
        if !ShopTracing.isEnabled { configuration.tracing.tracer = nil }
        // A connection that cannot be made fails the requests waiting for it at once (the caller
        // retries elsewhere or later: another replica, the consumer's backoff), instead of retrying
        // the connection until each request's deadline.
        configuration.connectionPool.retryConnectionEstablishment = false
        return configuration
    }

    package func run() async throws {
        try? await gracefulShutdown()
        try await client.shutdown()
    }
}
