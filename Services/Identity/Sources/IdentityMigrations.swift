import ServiceKit

enum IdentityMigrations {
    static let all: [Migration] = [
        Migration("001_identity", [
            """
            CREATE TABLE users (
                pool_id TEXT NOT NULL,
                username TEXT NOT NULL,
                sub UUID NOT NULL UNIQUE,
                password_hash TEXT,
                email TEXT,
                status TEXT NOT NULL,
                created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
                updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
                PRIMARY KEY (pool_id, username)
            )
            """,
            """
            CREATE TABLE user_groups (
                pool_id TEXT NOT NULL,
                username TEXT NOT NULL,
                group_name TEXT NOT NULL,
                PRIMARY KEY (pool_id, username, group_name),
                FOREIGN KEY (pool_id, username) REFERENCES users (pool_id, username) ON DELETE CASCADE
            )
            """,
            """
            CREATE TABLE signing_keys (
                kid TEXT PRIMARY KEY,
                private_key_pem TEXT NOT NULL,
                created_at TIMESTAMPTZ NOT NULL DEFAULT now()
            )
            """,
            """
            CREATE TABLE refresh_tokens (
                token_hash TEXT PRIMARY KEY,
                pool_id TEXT NOT NULL,
                username TEXT NOT NULL,
                client_id TEXT NOT NULL,
                expires_at TIMESTAMPTZ NOT NULL
            )
            """,
        ]),
        // Case-insensitive uniqueness (the key is computed by UserNamePolicy.key), and the failed
        // sign-ins that lock a user out for a while, as Cognito does.
        Migration("002_username_key_and_lockout", [
            "ALTER TABLE users ADD COLUMN username_key TEXT",
            "UPDATE users SET username_key = lower(username)",
            "ALTER TABLE users ALTER COLUMN username_key SET NOT NULL",
            "CREATE UNIQUE INDEX users_username_key ON users (pool_id, username_key)",
            "ALTER TABLE users ADD COLUMN failed_sign_ins INT NOT NULL DEFAULT 0",
            "ALTER TABLE users ADD COLUMN locked_until TIMESTAMPTZ",
            "CREATE INDEX refresh_tokens_user ON refresh_tokens (pool_id, username)",
        ]),
        SharedRateLimiter.migration,
    ]
}
