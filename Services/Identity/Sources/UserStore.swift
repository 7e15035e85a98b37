import Foundation
import Logging
import PostgresNIO
import ServiceKit

/// A user of the pool.
package struct PoolUser: Sendable, Equatable {
    package var username: String
    package var sub: UUID
    package var passwordHash: String?
    package var email: String?
    /// `CONFIRMED` or `FORCE_CHANGE_PASSWORD`.
    package var status: String
    package var groups: [String]
    package var createdAt: Date
    package var updatedAt: Date
    package var failedSignIns: Int = 0
    package var lockedUntil: Date?
}

/// Users, groups and refresh tokens of one pool, in Postgres.
package struct UserStore: Sendable {
    let client: DatabasePool
    let poolID: String
    let logger: Logger

    package init(client: DatabasePool, poolID: String, logger: Logger) {
        self.client = client
        self.poolID = poolID
        self.logger = logger
    }

    /// Creates a user; false when the name is taken, in any case.
    package func create(username: String, passwordHash: String?, email: String?, status: String) async throws -> Bool {
        let rows = try await client.query(
            """
            INSERT INTO users (pool_id, username, username_key, sub, password_hash, email, status)
            VALUES (\(poolID), \(username), \(UserNamePolicy.key(username)), \(UUID()), \(passwordHash), \(email), \(status))
            ON CONFLICT DO NOTHING RETURNING username
            """,
            logger: logger
        )
        for try await _ in rows { return true }
        return false
    }

    /// The user with this name in any case (user names are case-insensitive, as in a default Cognito pool).
    package func find(_ username: String) async throws -> PoolUser? {
        // No stored name holds such characters (and Postgres refuses NUL): nobody by that name.
        guard !username.unicodeScalars.contains(where: TextRules.isForbidden) else { return nil }
        let rows = try await client.query(
            """
            SELECT u.username, u.sub, u.password_hash, u.email, u.status, u.created_at, u.updated_at,
                   coalesce(array_agg(g.group_name ORDER BY g.group_name) FILTER (WHERE g.group_name IS NOT NULL), '{}'),
                   u.failed_sign_ins, u.locked_until
            FROM users u LEFT JOIN user_groups g ON g.pool_id = u.pool_id AND g.username = u.username
            WHERE u.pool_id = \(poolID) AND u.username_key = \(UserNamePolicy.key(username))
            GROUP BY u.username, u.sub, u.password_hash, u.email, u.status, u.created_at, u.updated_at, u.failed_sign_ins, u.locked_until
            """,
            logger: logger
        )
        for try await (name, sub, hash, email, status, created, updated, groups, failures, locked) in rows.decode(
            (String, UUID, String?, String?, String, Date, Date, [String], Int32, Date?).self
        ) {
            return PoolUser(
                username: name, sub: sub, passwordHash: hash, email: email, status: status, groups: groups,
                createdAt: created, updatedAt: updated, failedSignIns: Int(failures), lockedUntil: locked
            )
        }
        return nil
    }

    /// Counts a failed sign-in and returns the count of failures in a row; locks the user out for as
    /// long as `SignInLockout` says. The count is kept by Postgres, so concurrent failures each count;
    /// a lockout only ever grows (`greatest`), whichever of them sets it last.
    @discardableResult
    package func recordFailedSignIn(_ username: String) async throws -> Int {
        let rows = try await client.query(
            "UPDATE users SET failed_sign_ins = failed_sign_ins + 1 WHERE pool_id = \(poolID) AND username = \(username) RETURNING failed_sign_ins",
            logger: logger
        )
        var failures = 0
        for try await count in rows.decode(Int.self) { failures = count }
        if let lock = SignInLockout.lock(afterFailures: failures) {
            try await client.query(
                """
                UPDATE users SET locked_until = greatest(locked_until, now() + make_interval(secs => \(Double(lock.components.seconds))))
                WHERE pool_id = \(poolID) AND username = \(username)
                """,
                logger: logger
            )
        }
        return failures
    }

    package func recordSuccessfulSignIn(_ username: String) async throws {
        try await client.query(
            "UPDATE users SET failed_sign_ins = 0, locked_until = NULL WHERE pool_id = \(poolID) AND username = \(username) AND failed_sign_ins > 0",
            logger: logger
        )
    }

    /// Ends every session of a user (after an administrator set a new password).
    package func revokeRefreshTokens(_ username: String) async throws {
        try await client.query("DELETE FROM refresh_tokens WHERE pool_id = \(poolID) AND username = \(username)", logger: logger)
    }

    /// False when there is no such user. Clears a lockout.
    package func setPassword(_ username: String, hash: String, status: String) async throws -> Bool {
        let rows = try await client.query(
            """
            UPDATE users SET password_hash = \(hash), status = \(status), updated_at = now(), failed_sign_ins = 0, locked_until = NULL
            WHERE pool_id = \(poolID) AND username = \(username) RETURNING username
            """,
            logger: logger
        )
        for try await _ in rows { return true }
        return false
    }

    package func addToGroup(_ username: String, group: String) async throws {
        try await client.query(
            "INSERT INTO user_groups (pool_id, username, group_name) VALUES (\(poolID), \(username), \(group)) ON CONFLICT DO NOTHING",
            logger: logger
        )
    }

    /// Forgets one refresh token of `clientID` (nothing when there is none).
    package func revokeRefreshToken(hash: String, clientID: String) async throws {
        try await client.query("DELETE FROM refresh_tokens WHERE token_hash = \(hash) AND pool_id = \(poolID) AND client_id = \(clientID)", logger: logger)
    }

    package func storeRefreshToken(hash: String, username: String, clientID: String, expiresAt: Date) async throws {
        try await client.query(
            """
            INSERT INTO refresh_tokens (token_hash, pool_id, username, client_id, expires_at)
            VALUES (\(hash), \(poolID), \(username), \(clientID), \(expiresAt))
            """,
            logger: logger
        )
    }

    /// The user a live refresh token belongs to.
    package func refreshTokenOwner(hash: String, clientID: String) async throws -> String? {
        let rows = try await client.query(
            """
            SELECT username FROM refresh_tokens
            WHERE token_hash = \(hash) AND pool_id = \(poolID) AND client_id = \(clientID) AND expires_at > now()
            """,
            logger: logger
        )
        for try await name in rows.decode(String.self) { return name }
        return nil
    }
}
