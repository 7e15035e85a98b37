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
    ]
}
