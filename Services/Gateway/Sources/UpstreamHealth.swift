import AsyncHTTPClient
import Contracts
import Logging
import ServiceKit
import ServiceLifecycle
import Synchronization

/// The gateway's view of its upstreams' health, refreshed on a timer (`READY_REFRESH_MS`): `GET /ready`
/// answers from it, so no request to the gateway, however many, makes a call upstream. Up when every
/// upstream answered its last `/health` with 200 and that answer is recent (three refreshes at most).
final class UpstreamHealth: Service, Sendable {
    let http: HTTPClient
    let upstreams: [ShopService: String]
    let interval: Duration
    let logger: Logger
    private let state = Mutex<(healthy: Bool, at: ContinuousClock.Instant?)>((false, nil))

    init(http: HTTPClient, upstreams: [ShopService: String], interval: Duration, logger: Logger) {
        self.http = http
        self.upstreams = upstreams
        self.interval = interval
        self.logger = logger
    }

    var isReady: Bool {
        state.withLock { state in
            guard state.healthy, let at = state.at else { return false }
            return ContinuousClock.now - at <= interval * 3
        }
    }

    func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let healthy = await refresh()
            let was = state.withLock { state in
                defer { state = (healthy, .now) }
                return state.healthy
            }
            if was != healthy { logger.notice(healthy ? "every upstream is healthy" : "an upstream is not healthy") }
            _ = try? await cancelWhenGracefulShutdown { try await Task.sleep(for: self.interval) }
        }
    }

    /// Every upstream's `/health`, concurrently, each within 2 s.
    func refresh() async -> Bool {
        await withTaskGroup(of: Bool.self, returning: Bool.self) { group in
            for (_, url) in upstreams {
                group.addTask { [http] in
                    guard let response = try? await http.execute(HTTPClientRequest(url: url + "/health"), timeout: .seconds(2)) else { return false }
                    _ = try? await response.body.collect(upTo: 64 * 1024)
                    return response.status == .ok
                }
            }
            return await group.allSatisfy { $0 }
        }
    }
}
