import Foundation
import NIOCore
import Synchronization

/// The JSON of `GET /product/{id}` kept in memory, so the catalog's hot read does not go to Postgres
/// for a product nobody changed.
///
/// Fresh within this process: every write of this process (the admin's update and delete, and every
/// stock change of the saga) drops the products it changed after its commit, and a read that began
/// before such a drop does not store what it read (a generation counter), so no answer older than the
/// last write of this process is ever served. Writes of another replica (two tasks in
/// `deploy/aws`) are seen within `timeToLive`: no entry is served longer than that.
/// Not found answers are not kept; at `capacity` entries expired ones are dropped, and when none
/// has expired a new answer is not kept.
package final class ProductReadCache: Sendable {
    struct Entry {
        let body: ByteBuffer
        let etag: String?
        let expires: ContinuousClock.Instant
    }

    struct State {
        var entries: [UUID: Entry] = [:]
        /// Counts the drops: a read stores what it read only when no drop happened since it began.
        var generation: UInt64 = 0
    }

    /// Taken before a read of Postgres, given back with what it read.
    package struct ReadToken: Sendable {
        let generation: UInt64
    }

    let timeToLive: Duration
    let capacity: Int
    private let state = Mutex(State())

    package init(timeToLive: Duration, capacity: Int = 10_000) {
        self.timeToLive = timeToLive
        self.capacity = capacity
    }

    /// The kept answer for `id`, unless it expired.
    package func body(for id: UUID) -> ByteBuffer? {
        answer(for: id)?.body
    }

    /// The kept answer for `id` and its `ETag`, unless it expired.
    package func answer(for id: UUID) -> (body: ByteBuffer, etag: String?)? {
        let now = ContinuousClock.now
        return state.withLock { state in
            guard let entry = state.entries[id] else { return nil }
            guard entry.expires > now else {
                state.entries[id] = nil
                return nil
            }
            return (entry.body, entry.etag)
        }
    }

    package func beginRead() -> ReadToken {
        ReadToken(generation: state.withLock { $0.generation })
    }

    /// Keeps `body`, read from Postgres after `token` was taken, unless a write dropped anything since.
    package func store(_ body: ByteBuffer, etag: String? = nil, for id: UUID, readSince token: ReadToken) {
        let expires = ContinuousClock.now.advanced(by: timeToLive)
        state.withLock { state in
            guard state.generation == token.generation else { return }
            if state.entries.count >= capacity, state.entries[id] == nil {
                let now = ContinuousClock.now
                state.entries = state.entries.filter { $0.value.expires > now }
                guard state.entries.count < capacity else { return }
            }
            state.entries[id] = Entry(body: body, etag: etag, expires: expires)
        }
    }

    /// After a write's commit (or its failure): the answers of `ids` are read again from Postgres.
    package func drop(_ ids: some Sequence<UUID>) {
        state.withLock { state in
            state.generation &+= 1
            for id in ids { state.entries[id] = nil }
        }
    }
}

/// The products a transaction changed, to drop from the cache once it has ended.
final class ChangedProducts: Sendable {
    private let ids = Mutex<[UUID]>([])

    func insert(_ changed: some Sequence<UUID>) {
        ids.withLock { $0.append(contentsOf: changed) }
    }

    var all: [UUID] { ids.withLock { $0 } }
}

extension Optional where Wrapped == ProductReadCache {
    /// Runs `write`, then drops `ids()` whether it committed or failed (a failed commit may have
    /// committed).
    func dropping<T>(_ ids: () -> [UUID], after write: () async throws -> T) async throws -> T {
        guard let self else { return try await write() }
        do {
            let result = try await write()
            self.drop(ids())
            return result
        } catch {
            self.drop(ids())
            throw error
        }
    }
}
