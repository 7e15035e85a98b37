import AsyncHTTPClient
import Contracts
import Logging
import Metrics
import ServiceKit
import ServiceLifecycle
import Synchronization

/// The gateway's view of its upstreams' replicas, refreshed on a timer (`READY_REFRESH_MS`): each
/// refresh re-resolves the services' names (`Upstreams`), probes every replica's `/health` (ejecting
/// the failing ones, taking back those that answer again) and records whether every service has a
/// healthy replica. `GET /ready` answers from that view, so no request to the gateway, however many,
/// makes a call upstream; it is up when the last refresh found a healthy replica of every service and
/// that refresh is recent (three intervals at most).
final class UpstreamHealth: Service, Sendable {
    let http: HTTPClient
    let upstreams: Upstreams
    let interval: Duration
    let logger: Logger
    let resolver: @Sendable (String) async -> [String]?
    private let state = Mutex<(healthy: Bool, at: ContinuousClock.Instant?)>((false, nil))

    init(http: HTTPClient, upstreams: Upstreams, interval: Duration, logger: Logger, resolver: @escaping @Sendable (String) async -> [String]? = systemResolve) {
        self.http = http
        self.upstreams = upstreams
        self.interval = interval
        self.logger = logger
        self.resolver = resolver
    }

    var isReady: Bool {
        state.withLock { state in
            guard state.healthy, let at = state.at else { return false }
            return ContinuousClock.now - at <= interval * 3
        }
    }

    func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            await refresh()
            let healthy = upstreams.allHaveAHealthyReplica
            let was = state.withLock { state in
                defer { state = (healthy, .now) }
                return state.healthy
            }
            if was != healthy { logger.notice(healthy ? "every upstream is healthy" : "an upstream has no healthy replica") }
            _ = try? await cancelWhenGracefulShutdown { try await Task.sleep(for: self.interval) }
        }
    }

    /// Every service's names re-resolved, then every replica's `/health`, concurrently, each within 2 s.
    func refresh() async {
        await withTaskGroup(of: Void.self) { group in
            for (service, replicas) in upstreams.replicas {
                group.addTask { [http, logger, resolver] in
                    let ejected = await replicas.refresh(http: http, name: service.name, logger: logger, resolver: resolver)
                    if ejected > 0 { Counter(label: "gateway_upstream_ejections", dimensions: [("upstream", service.name)]).increment(by: ejected) }
                    let healthy = replicas.healthyCount
                    Gauge(label: "gateway_upstream_replicas", dimensions: [("upstream", service.name), ("state", "healthy")]).record(healthy)
                    Gauge(label: "gateway_upstream_replicas", dimensions: [("upstream", service.name), ("state", "ejected")]).record(replicas.bases.count - healthy)
                }
            }
        }
    }
}
