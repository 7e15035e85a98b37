import Foundation
import Hummingbird
import Logging
import ServiceKit

/// API Gateway-style throttling: a token bucket per signed-in user, and per client address for
/// anonymous calls. Beyond it, 429 problem+json with `Retry-After`. With a database, the buckets are
/// shared by every gateway replica (`SharedRateLimiter`); without one, each process keeps its own.
package struct Throttle: Sendable {
    let users: (any KeyedRateLimit)?
    let addresses: (any KeyedRateLimit)?

    package init(user: RateLimiter.Rule, anonymous: RateLimiter.Rule, shared client: DatabasePool? = nil, logger: Logger = Logger(label: "gateway")) {
        func limit(_ rule: RateLimiter.Rule, scope: String) -> (any KeyedRateLimit)? {
            guard rule.rate > 0 else { return nil }
            if let client { return SharedRateLimiter(rule, scope: scope, client: client, logger: logger) }
            return RateLimiter(rule)
        }
        users = limit(user, scope: "user")
        addresses = limit(anonymous, scope: "address")
    }

    /// Throws 429 when the caller is over its rate.
    package func admit(_ identity: Identity?, address: String) async throws {
        let wait = if let identity { await users?.acquire(identity.userName) } else { await addresses?.acquire(address) }
        guard let wait else { return }
        var problem = Problem(.tooManyRequests, detail: "too many requests; retry after \(wait.retryAfterSeconds) s")
        problem.headers[.retryAfter] = String(wait.retryAfterSeconds)
        throw problem
    }
}
