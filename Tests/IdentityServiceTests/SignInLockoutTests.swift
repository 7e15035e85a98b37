import Foundation
import ServiceKit
import Testing
import TestSupport

@testable import IdentityService

/// The lockout's rule, without a database, and the store that keeps its count in Postgres.
@Suite struct SignInLockoutTests {
    @Test func theFifthFailureLocksForASecondAndEachFurtherOneDoublesItUpToFifteenMinutes() {
        for failures in 0..<SignInLockout.threshold {
            #expect(SignInLockout.lock(afterFailures: failures) == nil, "\(failures) failures")
        }
        #expect(SignInLockout.lock(afterFailures: 5) == .seconds(1))
        #expect(SignInLockout.lock(afterFailures: 6) == .seconds(2))
        #expect(SignInLockout.lock(afterFailures: 7) == .seconds(4))
        #expect(SignInLockout.lock(afterFailures: 14) == .seconds(512))
        #expect(SignInLockout.lock(afterFailures: 15) == .seconds(900), "1,024 s is past the 15-minute cap")
        #expect(SignInLockout.lock(afterFailures: 1_000_000) == .seconds(900), "no overflow however many")
    }

    @Test func concurrentFailuresEachCountAndALockoutOnlyGrows() async throws {
        try await TestDatabase.with { database in
            try await database.withClient { client in
                try await Migrator(IdentityMigrations.all).migrate(client: client, logger: TestDatabase.logger)
                let users = UserStore(client: client, poolID: "pool", logger: TestDatabase.logger)
                #expect(try await users.create(username: "helga", passwordHash: nil, email: nil, status: "CONFIRMED"))
                let counts = try await withThrowingTaskGroup(of: Int.self) { group in
                    for _ in 0..<8 { group.addTask { try await users.recordFailedSignIn("helga") } }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                #expect(counts.sorted() == Array(1...8), "each failure has its own count")
                let user = try #require(try await users.find("helga"))
                #expect(user.failedSignIns == 8)
                // The eighth failure's lock (8 s) is the longest; an earlier one finishing last keeps it.
                let locked = try #require(user.lockedUntil)
                #expect(locked > Date().addingTimeInterval(6) && locked < Date().addingTimeInterval(9))

                try await users.recordSuccessfulSignIn("helga")
                let cleared = try #require(try await users.find("helga"))
                #expect(cleared.failedSignIns == 0 && cleared.lockedUntil == nil)
                #expect(try await users.recordFailedSignIn("nobody") == 0, "no such user: nothing counted")
            }
        }
    }
}
