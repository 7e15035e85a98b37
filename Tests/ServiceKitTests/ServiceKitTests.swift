import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import PostgresNIO
import ServiceKit
import Testing
import TestSupport

/// Settings fail fast naming the variable.
@Suite struct SettingsTests {
    @Test func valuesDefaultsAndErrorsNamingTheVariable() throws {
        let settings = Settings(["PORT": "8081", "FLAG": "yes", "EMPTY": "", "WAIT_MS": "250", "LIST": " a, ,b ,c", "BAD": "12x"])
        #expect(try settings.int("PORT", default: 1) == 8081)
        #expect(try settings.int("MISSING", default: 7) == 7)
        #expect(try settings.int("EMPTY", default: 7) == 7, "an empty variable counts as unset")
        #expect(try settings.bool("FLAG", default: false))
        #expect(try settings.milliseconds("WAIT_MS", default: 1) == .milliseconds(250))
        #expect(settings.list("LIST", default: "") == ["a", "b", "c"])
        #expect(settings.string("MISSING", default: "d") == "d")
        #expect(throws: SettingsError(key: "BAD", value: "12x", expected: "an integer")) { try settings.int("BAD", default: 0) }
        #expect(throws: SettingsError.self) { try settings.bool("PORT", default: false) }
        #expect(SettingsError(key: "BAD", value: "12x", expected: "an integer").description == "environment variable BAD=12x is not an integer")
    }

    @Test func databaseURLs() throws {
        let settings = try DatabaseSettings(settings: Settings(["DATABASE_URL": "postgres://u:p@db:6543/shop", "DATABASE_PASSWORD": "secret"]), default: "postgres://x@y/z")
        #expect(settings.host == "db" && settings.port == 6543 && settings.username == "u" && settings.database == "shop")
        #expect(settings.password == "secret", "a password from a secret store wins")
        #expect(throws: SettingsError.self) { try DatabaseSettings(url: "mysql://u@h/d") }
    }
}

extension SettingsError: Equatable {
    package static func == (a: SettingsError, b: SettingsError) -> Bool { a.key == b.key && a.value == b.value && a.expected == b.expected }
}

/// Errors become problem+json with the right status; nothing unexpected leaks its text.
@Suite struct ProblemTests {
    struct Unexpected: Error { var secret = "internal detail" }

    @Test func errorsMapToStatuses() throws {
        #expect(ProblemMiddleware<BasicRequestContext>.problem(for: Problem.unprocessable("bad", field: "name")).field == "name")
        #expect(ProblemMiddleware<BasicRequestContext>.problem(for: HTTPError(.notFound)).status == .notFound)
        #expect(ProblemMiddleware<BasicRequestContext>.problem(for: NIOTooManyBytesError(maxBytes: 1)).status == .contentTooLarge)
        let unexpected = ProblemMiddleware<BasicRequestContext>.problem(for: Unexpected())
        #expect(unexpected.status == .internalServerError && unexpected.detail?.contains("internal detail") != true)
        let decoding = ProblemMiddleware<BasicRequestContext>.problem(for: DecodingError.keyNotFound(
            AnyKey("price"), .init(codingPath: [], debugDescription: "missing")
        ))
        #expect(decoding.status == .badRequest && decoding.field == "price")
    }

    @Test func theBodyIsAProblemDocument() async throws {
        let router = Router()
        router.add(middleware: ProblemMiddleware())
        router.get("/fail") { _, _ -> String in throw Problem.unprocessable("quantity must be from 1 to 1000", field: "items[0].quantity") }
        try await Application(router: router).test(.router) { client in
            let response = try await client.execute(uri: "/fail", method: .get)
            #expect(response.status == .unprocessableContent)
            #expect(response.headers[.contentType] == "application/problem+json")
            let body = try JSONDecoder().decode(Problem.Body.self, from: Data(buffer: response.body))
            #expect(body.status == 422 && body.field == "items[0].quantity" && body.detail == "quantity must be from 1 to 1000")
        }
    }

    struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ string: String) { stringValue = string }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }
}

/// Money is `Decimal` with two places; stored text that is not a number is an error, never 0.
@Suite struct MoneyTests {
    @Test func validation() throws {
        try Money.validate(Decimal(string: "19.99")!, field: "price")
        try Money.validate(Money.maximum, field: "price")
        #expect(throws: Problem.self) { try Money.validate(-1, field: "price") }
        #expect(throws: Problem.self) { try Money.validate(Decimal(string: "0.001")!, field: "price") }
        #expect(throws: Problem.self) { try Money.validate(Money.maximum + 1, field: "price") }
        #expect(Decimal(string: "2.345")!.rounded(2) == Decimal(string: "2.35"))
    }

    @Test func storedAmountsParseOrFailLoudly() throws {
        #expect(try Money.parse("9999999999.99", column: "c") == Money.maximum)
        #expect(try Money.parse("0.10", column: "c") == Decimal(string: "0.1"))
        #expect(throws: UnreadableValue.self) { try Money.parse("", column: "c") }
        #expect(throws: UnreadableValue.self) { try Money.parse("NaN", column: "c") }
        #expect(throws: UnreadableValue.self) { try Money.parse("twelve", column: "c") }
    }
}

/// One pagination helper for every list.
@Suite struct PaginationTests {
    static func request(_ query: String) -> Request {
        Request(head: .init(method: .get, scheme: "http", authority: "x", path: "/items" + query), body: .init(buffer: ByteBuffer()))
    }

    @Test func limitsAndCursors() throws {
        let first = try PageRequest<NameCursor>(Self.request(""), defaultLimit: 2, maximumLimit: 5)
        #expect(first.limit == 2 && first.cursor == nil && first.fetchLimit == 3)
        let page = first.page(["a", "bé", "c"]) { NameCursor(name: $0) }
        #expect(page.items.count == 2)
        let next = try #require(page.nextCursor)
        let second = try PageRequest<NameCursor>(Self.request("?limit=5&cursor=\(next)"), defaultLimit: 2, maximumLimit: 5)
        #expect(second.cursor == NameCursor(name: "bé") && second.limit == 5)
        #expect(second.page(["c"]) { NameCursor(name: $0) }.nextCursor == nil, "the last page")
        for bad in ["?limit=0", "?limit=6", "?limit=x"] {
            #expect(throws: Problem.badRequest("limit must be an integer from 1 to 5", field: "limit")) {
                try PageRequest<NameCursor>(Self.request(bad), defaultLimit: 2, maximumLimit: 5)
            }
        }
        // Not base64url (a character outside it; one character left over); over-long.
        for bad in ["?cursor=a%2Bb", "?cursor=abcde", "?cursor=" + String(repeating: "A", count: 688)] {
            #expect(throws: Problem.self) { try PageRequest<NameCursor>(Self.request(bad), defaultLimit: 2, maximumLimit: 5) }
        }
    }

    /// Any text of the form decodes: bytes that are not UTF-8 and NUL become U+FFFD (a position
    /// Postgres can compare), never an error.
    @Test func everyTextCursorOfTheFormIsAPosition() throws {
        #expect(CursorPart.decodeText("") == "")
        #expect(CursorPart.decodeText("AA") == "\u{FFFD}", "NUL")
        #expect(CursorPart.decodeText("_w") == "\u{FFFD}", "0xFF alone is not UTF-8")
        #expect(CursorPart.decodeText("AB") == "\u{FFFD}", "leftover bits are ignored")
        #expect(CursorPart.decodeText("A") == nil && CursorPart.decodeText("a+b/") == nil)
        for text in ["swn", "josé", "🙂x", String(repeating: "ż", count: 128)] {
            #expect(CursorPart.decodeText(Substring(CursorPart.encode(text: text))) == text)
        }
        #expect(NameCursor(name: String(repeating: "🙂", count: 128)).cursor.count <= NameCursor.maximumLength)
    }
}

extension Problem: Equatable {
    package static func == (a: Problem, b: Problem) -> Bool { a.status == b.status && a.detail == b.detail && a.field == b.field }
}

/// Migrations and database creation against a real Postgres.
@Suite struct MigratorTests {
    @Test func migrationsRunOnceInOrderEvenWhenStartedTogether() async throws {
        try await TestDatabase.with { database in
            try await database.withClient { client in
                let migrations = [
                    Migration("001_t", ["CREATE TABLE t (n INT NOT NULL)", "INSERT INTO t VALUES (1)"]),
                    Migration("002_t", ["INSERT INTO t VALUES (2)"]),
                ]
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for _ in 0..<4 { group.addTask { try await Migrator(migrations).migrate(client: client, logger: TestDatabase.logger) } }
                    try await group.waitForAll()
                }
                try await Migrator(migrations + [Migration("003_t", ["INSERT INTO t VALUES (3)"])]).migrate(client: client, logger: TestDatabase.logger)
                var values: [Int] = []
                for try await n in try await client.query("SELECT n FROM t ORDER BY n", logger: TestDatabase.logger).decode(Int.self) { values.append(n) }
                #expect(values == [1, 2, 3])
            }
        }
    }

    @Test func aFailingMigrationLeavesNothingBehind() async throws {
        try await TestDatabase.with { database in
            try await database.withClient { client in
                let broken = Migration("001_broken", ["CREATE TABLE u (n INT)", "INSERT INTO nowhere VALUES (1)"])
                await #expect(throws: (any Error).self) { try await Migrator([broken]).migrate(client: client, logger: TestDatabase.logger) }
                var tables = 0
                for try await n in try await client.query("SELECT count(*)::bigint FROM pg_tables WHERE tablename = 'u'", logger: TestDatabase.logger).decode(Int.self) { tables = n }
                #expect(tables == 0, "the migration's transaction rolled back")
            }
        }
    }

    @Test func aServiceCreatesItsDatabaseOnce() async throws {
        let name = "bootstrap_\(UUID().uuidString.lowercased().prefix(8))"
        let settings = try TestDatabase.server.with(database: name)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<3 { group.addTask { try await DatabaseBootstrap.createIfMissing(settings, logger: TestDatabase.logger) } }
            try await group.waitForAll()
        }
        try await DatabaseBootstrap.createIfMissing(settings, logger: TestDatabase.logger)
        let exists = try await withTemporaryPostgresClient(try TestDatabase.server, logger: TestDatabase.logger) { client in
            var count = 0
            for try await n in try await client.query("SELECT count(*)::bigint FROM pg_database WHERE datname = \(name)", logger: TestDatabase.logger).decode(Int.self) { count = n }
            _ = try await client.query(PostgresQuery(unsafeSQL: "DROP DATABASE \(name) WITH (FORCE)"), logger: TestDatabase.logger)
            return count
        }
        #expect(exists == 1)
    }
}

@Suite struct RandomUUIDTests {
    /// Version 4, the RFC 9562 variant, parsed back the same by Foundation and Postgres' text form, never repeated.
    @Test func randomUUIDsAreVersion4AndDistinct() {
        var seen = Set<UUID>()
        for _ in 0..<10_000 {
            let id = UUID.random()
            let text = id.uuidString.lowercased()
            let characters = Array(text)
            #expect(characters[14] == "4")
            #expect("89ab".contains(characters[19]))
            #expect(UUID(uuidString: text) == id)
            seen.insert(id)
        }
        #expect(seen.count == 10_000)
    }
}
