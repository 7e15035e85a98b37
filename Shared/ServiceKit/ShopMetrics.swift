import Hummingbird
import Metrics
import NIOCore
import Prometheus

/// The process's metrics: swift-metrics with swift-prometheus as the backend, served as Prometheus
/// text at `GET /metrics` (request counts and latency by route, method and status from Hummingbird's
/// `MetricsMiddleware`, plus each service's own gauges).
package enum ShopMetrics {
    /// Where every metric of this process goes; `/metrics` prints it.
    package static let registry = PrometheusCollectorRegistry()

    /// Makes swift-metrics report into `registry`. Once per process, at start (`main` calls it; tests
    /// that run services in-process leave the no-op backend in place).
    package static func bootstrap() {
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
    }

    /// `GET /metrics`.
    package static func exposition() -> Response {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(16 * 1024)
        registry.emit(into: &buffer)
        return Response(
            status: .ok,
            headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8", .contentLength: String(buffer.count)],
            body: .init(byteBuffer: ByteBuffer(bytes: buffer))
        )
    }
}

extension Router {
    /// `GET /metrics` (Prometheus text) and the request metrics of every route.
    package func addMetrics() {
        get("/metrics") { _, _ in ShopMetrics.exposition() }
    }
}
