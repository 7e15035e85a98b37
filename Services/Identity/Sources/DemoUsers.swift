import Logging

/// The contract's demo users, created at start when missing: `swn` (customer) and `admin` (group admin).
enum DemoUsers {
    static let users: [(name: String, password: String, email: String, groups: [String])] = [
        ("swn", "Swn-Passw0rd!", "swn@example.com", []),
        ("admin", "Admin-Passw0rd!", "admin@example.com", ["admin"]),
    ]

    static func create(in store: UserStore, hasher: PasswordHasher, logger: Logger) async throws {
        for user in users where try await store.find(user.name) == nil {
            if try await store.create(username: user.name, passwordHash: try hasher.hash(user.password), email: user.email, status: "CONFIRMED") {
                for group in user.groups { try await store.addToGroup(user.name, group: group) }
                logger.info("created demo user", metadata: ["username": "\(user.name)"])
            }
        }
    }
}
