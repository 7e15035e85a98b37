import Dispatch
import Synchronization

/// A limit on calls per key: `acquire` is nil when the call may go on, otherwise how long until it may.
package protocol KeyedRateLimit: Sendable {
    func acquire(_ key: String) async -> Duration?
}

extension RateLimiter: KeyedRateLimit {
    package func acquire(_ key: String) async -> Duration? { acquire(key, now: DispatchTime.now().uptimeNanoseconds) }
}

extension SharedRateLimiter: KeyedRateLimit {}

/// Token buckets per key (a user, a client address), in this process only (`SharedRateLimiter` holds
/// across replicas): `burst` requests at once, refilled at `rate`
/// per second, as API Gateway's throttling works. Memory stays bounded: when `maximumKeys` buckets
/// exist, the full ones (idle keys) are dropped, and if all are busy, the oldest half.
package final class RateLimiter: Sendable {
    package struct Rule: Sendable, Equatable {
        package var rate: Double
        package var burst: Double

        package init(rate: Double, burst: Double) {
            self.rate = rate
            self.burst = burst
        }
    }

    struct Bucket {
        var tokens: Double
        var updated: UInt64
    }

    let rule: Rule
    let maximumKeys: Int
    private let buckets = Mutex<[String: Bucket]>([:])

    package init(_ rule: Rule, maximumKeys: Int = 100_000) {
        self.rule = rule
        self.maximumKeys = maximumKeys
    }

    /// Takes one token for `key`; nil when the request may go on, otherwise how long until a token
    /// is back (for `Retry-After`).
    package func acquire(_ key: String, now: UInt64 = DispatchTime.now().uptimeNanoseconds) -> Duration? {
        let rule = self.rule
        let maximumKeys = self.maximumKeys
        return buckets.withLock { buckets in
            var bucket = buckets[key] ?? Bucket(tokens: rule.burst, updated: now)
            let elapsed = Double(now &- bucket.updated) / 1e9
            bucket.tokens = min(rule.burst, bucket.tokens + max(0, elapsed) * rule.rate)
            bucket.updated = now
            if bucket.tokens >= 1 {
                bucket.tokens -= 1
                if buckets[key] == nil, buckets.count >= maximumKeys { Self.evict(&buckets, now: now, rule: rule, maximumKeys: maximumKeys) }
                buckets[key] = bucket
                return nil
            }
            buckets[key] = bucket
            return .nanoseconds(Int64((1 - bucket.tokens) / rule.rate * 1e9))
        }
    }

    private static func evict(_ buckets: inout [String: Bucket], now: UInt64, rule: Rule, maximumKeys: Int) {
        buckets = buckets.filter { _, bucket in bucket.tokens + Double(now &- bucket.updated) / 1e9 * rule.rate < rule.burst }
        if buckets.count >= maximumKeys / 2 {
            let oldest = buckets.sorted { $0.value.updated < $1.value.updated }.prefix(buckets.count / 2).map(\.key)
            for key in oldest { buckets[key] = nil }
        }
    }
}

extension Duration {
    /// In seconds, for `Date` arithmetic and SQL intervals.
    package var timeInterval: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }

    /// Whole seconds, rounded up, at least 1: the value of a `Retry-After` header.
    package var retryAfterSeconds: Int {
        let (seconds, attoseconds) = components
        return max(1, Int(seconds) + (attoseconds > 0 ? 1 : 0))
    }
}
