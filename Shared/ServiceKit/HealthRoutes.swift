import Hummingbird
import Logging

/// A dependency `/ready` checks: the database, the bus, an upstream.
package struct ReadinessCheck: Sendable {
    package let name: String
    package let check: @Sendable () async throws -> Void

    package init(_ name: String, check: @escaping @Sendable () async throws -> Void) {
        self.name = name
        self.check = check
    }
}

package struct HealthStatus: Codable, Sendable {
    package let status: String
    package let checks: [String: String]?
}

extension Router {
    /// `GET /health` answers while the process lives; `GET /ready` only while every check passes
    /// within `timeout`, so an orchestrator stops routing to an instance whose database is gone.
    package func addHealthRoutes(_ checks: [ReadinessCheck], timeout: Duration = .seconds(2)) {
        let health: @Sendable (Request, Context) async throws -> Response = { _, _ in
            try JSONOutput.response(HealthStatus(status: "ok", checks: nil))
        }
        get("/health", use: health)
        head("/health", use: health)
        let ready: @Sendable (Request, Context) async throws -> Response = { _, context in
            var results: [String: String] = [:]
            var healthy = true
            for check in checks {
                do {
                    try await withTimeout(timeout) { try await check.check() }
                    results[check.name] = "ok"
                } catch {
                    healthy = false
                    results[check.name] = "failing"
                    // A database outage is logged once by the pool, not on every probe.
                    if !DatabaseUnavailable.isUnavailability(error) {
                        context.logger.warning("readiness check failed", metadata: ["check": "\(check.name)", "error": "\(error)"])
                    }
                }
            }
            return try JSONOutput.response(
                HealthStatus(status: healthy ? "ready" : "unavailable", checks: results),
                status: healthy ? .ok : .serviceUnavailable
            )
        }
        get("/ready", use: ready)
        // HEAD routes run the GET handler: `RequestHygiene` answers them without the body.
        head("/ready", use: ready)
    }
}

extension Router where Context == AppRequestContext {
    /// The router every service starts from: a span per request, problem+json for every error, a debug log line per request,
    /// and `/health` and `/ready` over `readiness`.
    package static func service(readiness: [ReadinessCheck]) -> Router<AppRequestContext> {
        let router = Router(context: AppRequestContext.self)
        // A server span per request, continuing the caller's `traceparent` (the gateway's).
        router.add(middleware: TracingMiddleware())
        router.add(middleware: MetricsMiddleware())
        router.add(middleware: ProblemMiddleware())
        router.add(middleware: RequestHygiene())
        // One line per request at debug (`LOG_LEVEL=debug`): the gateway's access line is the one at info.
        router.add(middleware: LogRequestsMiddleware(.debug))
        router.addHealthRoutes(readiness)
        router.addMetrics()
        return router
    }
}
