import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import PostgresNIO
import ServiceKit
import TestSupport

enum Database {
    static func withClient<T: Sendable>(_ url: String, _ body: @escaping @Sendable (DatabasePool) async throws -> T) async throws -> T {
        try await withTemporaryPostgresClient(try DatabaseSettings(url: url), logger: TestDatabase.logger, body)
    }

    static func scalar(_ url: String, _ sql: String) async throws -> Int {
        try await withClient(url) { client in
            let rows = try await client.query(PostgresQuery(unsafeSQL: sql), logger: TestDatabase.logger)
            for try await value in rows.decode(Int.self) { return value }
            return 0
        }
    }

    static func execute(_ url: String, _ sql: String) async throws {
        try await withClient(url) { client in
            _ = try await client.query(PostgresQuery(unsafeSQL: sql), logger: TestDatabase.logger)
        }
    }
}

extension JSONDecoder {
    /// The string fields of a JSON object, skipping the rest.
    func decode(_ type: [String: String].Type, from data: Data, ignoringNonStrings: Bool) throws -> [String: String] {
        let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
        return object.compactMapValues { $0 as? String }
    }
}
