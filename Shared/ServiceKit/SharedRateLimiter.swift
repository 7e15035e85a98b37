import Dispatch
import Logging
import PostgresNIO
import Synchronization

/// Token buckets shared by every replica through one Postgres table, so a limit holds in total
/// however many replicas serve the calls (the gateway's per-user and per-address limits, identity's
/// sign-in attempts).
///
/// A replica takes a few tokens at a time from the shared bucket (`lease`: a tenth of a second's
/// refill, at most a tenth of the burst; one statement, `rate_take`) and spends them locally. A key
/// the shared bucket refuses is refused locally until its next token is due, so a flood costs the
/// database one statement per key per refill, not one per request. The shared bucket never gives out
/// more than `burst + rate × t`; tokens taken and not spent (a client moving to another replica) are
/// lost, so the limit errs strict, by at most one lease per replica. The table is `UNLOGGED` (no WAL,
/// and its commits do not wait for the disk): a Postgres crash empties it, which refills every bucket.
/// When the database cannot be reached, each replica falls back to a bucket of its own, and says so.
package final class SharedRateLimiter: Sendable {
    let rule: RateLimiter.Rule
    /// Tells the buckets of one limit from another's in the shared table (`user`, `address`, `sign-in`).
    let scope: String
    let client: DatabasePool
    let logger: Logger
    let lease: Int
    let maximumKeys: Int
    let fallback: RateLimiter
    private let local = Mutex<[String: Held]>([:])
    private let fallingBack = Atomic(false)

    struct Held {
        /// Tokens taken from the shared bucket and not spent yet.
        var tokens: Int
        /// Refused by the shared bucket: refused here too until then.
        var refusedUntil: ContinuousClock.Instant?
        var touched: ContinuousClock.Instant
    }

    package init(_ rule: RateLimiter.Rule, scope: String, client: DatabasePool, logger: Logger, maximumKeys: Int = 100_000) {
        self.rule = rule
        self.scope = scope
        self.client = client
        self.logger = logger
        self.maximumKeys = maximumKeys
        lease = max(1, min(Int(rule.rate / 10), Int(rule.burst / 10)))
        fallback = RateLimiter(rule, maximumKeys: maximumKeys)
    }

    /// Takes one token for `key`; nil when the request may go on, otherwise how long until a token
    /// is back (for `Retry-After`).
    package func acquire(_ key: String) async -> Duration? {
        let now = ContinuousClock.now
        enum Local { case admitted, refused(Duration), ask }
        let decision = local.withLock { held -> Local in
            guard var entry = held[key] else { return .ask }
            if let until = entry.refusedUntil, until > now { return .refused(until - now) }
            guard entry.tokens > 0 else { return .ask }
            entry.tokens -= 1
            entry.touched = now
            held[key] = entry
            return .admitted
        }
        switch decision {
        case .admitted: return nil
        case .refused(let wait): return wait
        case .ask: break
        }
        let taken: (granted: Int, tokens: Double)
        do {
            taken = try await take(key)
            if fallingBack.exchange(false, ordering: .relaxed) {
                logger.notice("rate limits are shared again", metadata: ["scope": "\(scope)"])
            }
        } catch {
            if !fallingBack.exchange(true, ordering: .relaxed) {
                logger.error("the shared rate limits cannot be reached; each replica limits on its own meanwhile",
                             metadata: ["scope": "\(scope)", "error": "\(String(reflecting: error))"])
            }
            return fallback.acquire(key, now: DispatchTime.now().uptimeNanoseconds)
        }
        let after = ContinuousClock.now
        let wait: Duration? = taken.granted > 0 ? nil : .nanoseconds(Int64(max(0, 1 - taken.tokens) / rule.rate * 1e9))
        local.withLock { held in
            if held[key] == nil, held.count >= maximumKeys {
                // Idle keys first (nothing held, no refusal running), then the oldest half.
                held = held.filter { $0.value.tokens > 0 || ($0.value.refusedUntil.map { $0 > after } ?? false) }
                if held.count >= maximumKeys / 2 {
                    for key in held.sorted(by: { $0.value.touched < $1.value.touched }).prefix(held.count / 2).map(\.key) { held[key] = nil }
                }
            }
            var entry = held[key] ?? Held(tokens: 0, touched: after)
            entry.touched = after
            if let wait {
                // From when the request came: the database's answer took time that counts toward the wait.
                entry.refusedUntil = now + wait
            } else {
                entry.tokens += taken.granted - 1
                entry.refusedUntil = nil
            }
            held[key] = entry
        }
        return wait
    }

    /// Up to `lease` tokens from the shared bucket, and what is left in it.
    func take(_ key: String) async throws -> (granted: Int, tokens: Double) {
        let rows = try await client.query(
            "SELECT granted, tokens FROM rate_take(\(scope), \(key), \(rule.rate), \(rule.burst), \(lease)::int)", logger: logger
        )
        for try await row in rows.decode((Int, Double).self) { return row }
        return (0, 0)
    }

    /// Forgets the buckets that are full again (nobody called for a while): run now and then.
    package static func deleteFullBuckets(client: DatabasePool, logger: Logger) async throws {
        try await client.query("DELETE FROM rate_buckets WHERE full_at < now()", logger: logger)
    }

    /// The shared table and the function that takes tokens from it (part of each user's migrations).
    package static let migration = Migration("rate_buckets", [
        """
        CREATE UNLOGGED TABLE IF NOT EXISTS rate_buckets (
            scope TEXT NOT NULL,
            key TEXT NOT NULL,
            tokens DOUBLE PRECISION NOT NULL,
            updated_at TIMESTAMPTZ NOT NULL,
            full_at TIMESTAMPTZ NOT NULL,
            PRIMARY KEY (scope, key)
        )
        """,
        "CREATE INDEX IF NOT EXISTS rate_buckets_full ON rate_buckets (full_at)",
        // Refills the bucket for the time since its last call (clock_timestamp: after any wait for the
        // row's lock), then takes up to `want` whole tokens.
        """
        CREATE OR REPLACE FUNCTION rate_take(p_scope TEXT, p_key TEXT, p_rate DOUBLE PRECISION, p_burst DOUBLE PRECISION, p_want INT,
                                             OUT granted INT, OUT tokens DOUBLE PRECISION)
        LANGUAGE plpgsql AS $$
        DECLARE
            t DOUBLE PRECISION;
            at TIMESTAMPTZ;
        BEGIN
            INSERT INTO rate_buckets AS b (scope, key, tokens, updated_at, full_at)
            VALUES (p_scope, p_key, p_burst, clock_timestamp(), clock_timestamp())
            ON CONFLICT (scope, key) DO NOTHING;
            SELECT b.tokens, b.updated_at INTO t, at FROM rate_buckets b WHERE b.scope = p_scope AND b.key = p_key FOR UPDATE;
            t := least(p_burst, t + greatest(0, extract(epoch FROM clock_timestamp() - at)) * p_rate);
            granted := least(p_want, floor(t))::INT;
            tokens := t - granted;
            UPDATE rate_buckets b SET tokens = rate_take.tokens, updated_at = clock_timestamp(),
                full_at = clock_timestamp() + make_interval(secs => (p_burst - rate_take.tokens) / p_rate)
            WHERE b.scope = p_scope AND b.key = p_key;
        END
        $$
        """,
    ])
}
