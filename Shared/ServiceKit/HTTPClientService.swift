import AsyncHTTPClient
import ServiceLifecycle

/// Owns an `HTTPClient` for the life of the service group and shuts it down at the end.
package struct HTTPClientService: Service {
    package let client: HTTPClient

    package init(client: HTTPClient = HTTPClient(eventLoopGroupProvider: .singleton, configuration: Self.defaultConfiguration())) {
        self.client = client
    }

    /// AsyncHTTPClient's defaults, without client spans when tracing is off (a no-op tracer still
    /// had every request's span attributes computed).
    package static func defaultConfiguration() -> HTTPClient.Configuration {
        var configuration = HTTPClient.Configuration()
        if !ShopTracing.isEnabled { configuration.tracing.tracer = nil }
        return configuration
    }

    package func run() async throws {
        try? await gracefulShutdown()
        try await client.shutdown()
    }
}
