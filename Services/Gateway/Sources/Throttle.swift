import Foundation
import Hummingbird
import ServiceKit

/// API Gateway-style throttling: a token bucket per signed-in user, and per client address for
/// anonymous calls. Beyond it, 429 problem+json with `Retry-After`.
package struct Throttle: Sendable {
    let users: RateLimiter?
    let addresses: RateLimiter?

    package init(user: RateLimiter.Rule, anonymous: RateLimiter.Rule) {
        users = user.rate > 0 ? RateLimiter(user) : nil
        addresses = anonymous.rate > 0 ? RateLimiter(anonymous) : nil
    }

    /// Throws 429 when the caller is over its rate.
    package func admit(_ identity: Identity?, address: String) throws {
        let wait = if let identity { users?.acquire(identity.userName) } else { addresses?.acquire(address) }
        guard let wait else { return }
        var problem = Problem(.tooManyRequests, detail: "too many requests; retry after \(wait.retryAfterSeconds) s")
        problem.headers[.retryAfter] = String(wait.retryAfterSeconds)
        throw problem
    }
}
