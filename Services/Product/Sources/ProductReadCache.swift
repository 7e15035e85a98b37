import Foundation
import NIOCore
import Synchronization

/// The JSON of `GET /product/{id}` kept in memory, so the catalog's hot read does not go to Postgres
/// for a product nobody changed; and the answers of `GET /product` (pages, searches) and
/// `GET /product/facets`, which any change of the catalog may change: every drop drops them all.
///
/// Fresh within this process: every write of this process (the admin's update and delete, and every
/// stock change of the saga) drops the products it changed after its commit, and a read that began
/// before such a drop does not store what it read (a generation counter), so no answer older than the
/// last write of this process is ever served. Writes of another replica (two tasks in
/// `deploy/aws`) are seen within `timeToLive`: no entry is served longer than that.
/// Not found answers are not kept; at `capacity` entries (`listCapacityBytes` for the lists) expired
/// ones are dropped, and when none has expired a new answer is not kept.
///
/// Identical list reads that miss at the same time make one read of Postgres, which they all answer
/// with (`list(_:load:)`): a popular search that expires costs one query, not one per waiting client.
package final class ProductReadCache: Sendable {
    struct Entry {
        let body: ByteBuffer
        let etag: String?
        let expires: ContinuousClock.Instant
        /// For lists: from when a request rereads it in the background (see `list(_:load:)`).
        var refreshAt: ContinuousClock.Instant? = nil
    }

    /// A list answer: which one (`kind`: page or search, or facets), for which filter, from where.
    package struct ListKey: Hashable, Sendable {
        package enum Kind: Hashable, Sendable { case list, facets }
        let kind: Kind
        let filter: ProductFilter
        let cursor: String?
        let limit: Int

        package init(_ kind: Kind, _ filter: ProductFilter, cursor: String? = nil, limit: Int = 0) {
            self.kind = kind
            self.filter = filter
            self.cursor = cursor
            self.limit = limit
        }
    }

    /// A read of Postgres for a list answer, which identical misses of the same generation join.
    struct Load {
        let id: UInt64
        let generation: UInt64
        let task: Task<ByteBuffer, any Error>
    }

    struct State {
        var entries: [UUID: Entry] = [:]
        var lists: [ListKey: Entry] = [:]
        var listBytes = 0
        var loads: [ListKey: Load] = [:]
        var loadsStarted: UInt64 = 0
        /// Counts the drops: a read stores what it read only when no drop happened since it began.
        var generation: UInt64 = 0
    }

    /// Taken before a read of Postgres, given back with what it read.
    package struct ReadToken: Sendable {
        let generation: UInt64
    }

    let timeToLive: Duration
    let capacity: Int
    let listCapacityBytes: Int
    private let state = Mutex(State())

    package init(timeToLive: Duration, capacity: Int = 10_000, listCapacityBytes: Int = 32 << 20) {
        self.timeToLive = timeToLive
        self.capacity = capacity
        self.listCapacityBytes = listCapacityBytes
    }

    /// The kept answer for `key`; else the answer of a read of the same key already under way;
    /// else `load()`'s, kept until `timeToLive` after it began unless a drop happened meanwhile.
    /// A kept answer in the last quarter of its time is still served, and the first request to see it
    /// there starts its reread in the background (refresh ahead): a list in steady demand is reread
    /// once per `timeToLive` without a request ever waiting for it.
    package func list(_ key: ListKey, load: @escaping @Sendable () async throws -> ByteBuffer) async throws -> ByteBuffer {
        enum Step {
            case kept(ByteBuffer)
            case wait(Task<ByteBuffer, any Error>)
        }
        let now = ContinuousClock.now
        let step = state.withLock { state -> Step in
            if let entry = state.lists[key] {
                if entry.expires > now {
                    if let refreshAt = entry.refreshAt, now >= refreshAt, state.loads[key]?.generation != state.generation {
                        _ = startLoad(key, load, began: now, in: &state)
                    }
                    return .kept(entry.body)
                }
                state.lists[key] = nil
                state.listBytes -= entry.body.readableBytes
            }
            if let load = state.loads[key], load.generation == state.generation { return .wait(load.task) }
            return .wait(startLoad(key, load, began: now, in: &state))
        }
        switch step {
        case .kept(let body): return body
        case .wait(let task): return try await task.value
        }
    }

    /// Starts `load` for `key` (in the lock) in a task of its own, which keeps its answer (unless a
    /// drop happened since `began`) whether or not anyone still waits for it.
    private func startLoad(
        _ key: ListKey, _ load: @escaping @Sendable () async throws -> ByteBuffer, began: ContinuousClock.Instant, in state: inout State
    ) -> Task<ByteBuffer, any Error> {
        state.loadsStarted &+= 1
        let (id, generation) = (state.loadsStarted, state.generation)
        let task = Task {
            do {
                let body = try await load()
                keep(body, for: key, load: id, generation: generation, began: began)
                return body
            } catch {
                self.state.withLock { state in if state.loads[key]?.id == id { state.loads[key] = nil } }
                throw error
            }
        }
        state.loads[key] = Load(id: id, generation: generation, task: task)
        return task
    }

    private func keep(_ body: ByteBuffer, for key: ListKey, load id: UInt64, generation: UInt64, began: ContinuousClock.Instant) {
        let entry = Entry(body: body, etag: nil, expires: began.advanced(by: timeToLive), refreshAt: began.advanced(by: timeToLive * 3 / 4))
        state.withLock { state in
            if state.loads[key]?.id == id { state.loads[key] = nil }
            guard state.generation == generation else { return }
            if state.listBytes + body.readableBytes > listCapacityBytes {
                let now = ContinuousClock.now
                state.lists = state.lists.filter { $0.value.expires > now && $0.key != key }
                state.listBytes = state.lists.values.reduce(0) { $0 + $1.body.readableBytes }
                guard state.listBytes + body.readableBytes <= listCapacityBytes else { return }
            }
            if let replaced = state.lists.updateValue(entry, forKey: key) {
                state.listBytes -= replaced.body.readableBytes
            }
            state.listBytes += body.readableBytes
        }
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
            state.lists = [:]
            state.listBytes = 0
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
