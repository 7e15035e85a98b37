import Logging
import Metrics
import NIOCore
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// A fixed-size pool of Postgres connections that survives the database going away.
///
/// Why not `PostgresClient`: its pool (postgres-nio 1.33.2) traps on a database restart when it is
/// configured with `minimumConnections > 0`. While the server refuses connections, the pool keeps
/// one attempt alive and drops the others (`destroyFailedConnection`), so it holds fewer connections
/// than its minimum; the next lease that finds none idle once the server is back reaches
/// `precondition(minimumConcurrentConnections <= stats.active)` in `createNewDemandConnectionIfPossible`
/// (the same precondition as vapor/postgres-nio#479, fixed in #480 for closed connections but not for
/// failed attempts). `minimumConnections = 0` avoids the trap but parks every released connection
/// with an idle-timeout timer, a `Task.sleep` whose memory Linux keeps until its deadline even when
/// cancelled (swiftlang/swift#60441): ~1 KB per query for a minute. So the pool is ours, over the
/// driver's `PostgresConnection`, and has no timers at all:
///
/// - up to `size` connections, opened on demand (`prewarm` of them once the first one connected) and kept;
/// - a connection the server closed is noticed when it comes back or is leased, and replaced;
/// - when an attempt to connect fails, the database is *unavailable*: leases fail at once with
///   `DatabaseUnavailable` (HTTP 503 with `Retry-After`, never a client timeout) until the next
///   attempt is due (capped exponential backoff, 50 ms to 2 s, with jitter); while unavailable one
///   attempt runs at a time, made by whichever lease comes after the backoff;
/// - one log line when the database becomes unreachable and one when it is back, not one per attempt.
///
/// Queries read their rows whole before the connection goes back (`DatabaseRows`), and every
/// operation is watched (`DatabaseConnection`): postgres-nio 1.33.2 writes a query to its channel
/// without a write promise, so a query written in the instant the server closes the connection
/// (after the pipeline's handlers are gone) is lost and its caller waits forever — seen under load
/// on a database restart, one stuck `GET /product/{id}` and one leaked pool slot per restart.
package final class DatabasePool: Service, Sendable {
    package let size: Int
    private let prewarm: Int
    private let configuration: PostgresConnection.Configuration
    private let logger: Logger
    private let state = Mutex(State())
    private let connectRequests: AsyncStream<Void>
    private let connectRequester: AsyncStream<Void>.Continuation
    private let connectionIDs = Atomic<Int>(0)
    private let waiterIDs = Atomic<Int>(0)

    package static let minimumBackoff: Duration = .milliseconds(50)
    package static let maximumBackoff: Duration = .seconds(2)

    private struct Waiter {
        let id: Int
        let continuation: CheckedContinuation<PooledConnection, any Error>
    }

    private struct State {
        var idle: [PooledConnection] = []
        /// Connections open or being opened (leased, idle and connecting).
        var open = 0
        var connecting = 0
        var waiters: [Waiter] = []
        /// Set while the last attempt to connect failed.
        var outage: Outage?
        var shuttingDown = false
        /// Whether the connections to open at start were asked for (after the first one connected).
        var prewarmed = false

        /// An attempt to connect gives up its slot; with no connection left, nothing will serve the
        /// waiters: they are taken out and returned, for the caller to fail outside the lock.
        mutating func giveUpAttempt() -> [Waiter] {
            connecting -= 1
            open -= 1
            guard open == 0 else { return [] }
            defer { waiters = [] }
            return waiters
        }

        /// An idle connection still open; the closed ones met on the way are counted out of `open` and
        /// added to `closed`, for the caller to close outside the lock.
        mutating func popOpenIdle(closed: inout [PooledConnection]) -> PooledConnection? {
            while let connection = idle.popLast() {
                if !connection.isClosed { return connection }
                open -= 1
                closed.append(connection)
            }
            return nil
        }
    }

    private struct Outage {
        let since: ContinuousClock.Instant
        var failedAttempts: Int
        var nextAttempt: ContinuousClock.Instant
        var lastError: String

        /// What a lease is answered with at `now`: retry once the next attempt is due.
        func unavailable(at now: ContinuousClock.Instant) -> DatabaseUnavailable {
            DatabaseUnavailable(reason: lastError, retryAfter: max(nextAttempt - now, DatabasePool.minimumBackoff))
        }
    }

    private static let shuttingDown = DatabaseUnavailable(reason: "shutting down", retryAfter: .seconds(1))

    /// What a lease decided under the lock.
    private enum LeaseDecision {
        case connection(PooledConnection)
        case wait(connect: Bool)
        case fail(any Error)
    }

    package init(settings: DatabaseSettings, logger: Logger) {
        size = max(1, settings.maximumConnections)
        prewarm = min(settings.minimumConnections ?? size, size)
        configuration = settings.connectionConfiguration
        self.logger = logger
        (connectRequests, connectRequester) = AsyncStream.makeStream(of: Void.self)
    }

    // MARK: Running

    /// Makes every connection the leases ask for (and the prewarm); on graceful
    /// shutdown (or cancellation) fails the waiting leases and closes the idle connections. Leased
    /// connections close when they come back.
    package func run() async {
        await withGracefulShutdownHandler {
            await withTaskCancellationHandler {
                await withDiscardingTaskGroup { group in
                    for await _ in connectRequests { group.addTask { await self.connect() } }
                }
            } onCancel: {
                self.connectRequester.finish()
            }
        } onGracefulShutdown: {
            self.connectRequester.finish()
        }
        shutDown()
    }

    /// Ends the pool: no new leases, waiting ones fail, idle connections close.
    package func shutDown() {
        let (waiters, idle) = state.withLock { state -> ([Waiter], [PooledConnection]) in
            state.shuttingDown = true
            defer { state.waiters = []; state.idle = [] }
            state.open -= state.idle.count
            return (state.waiters, state.idle)
        }
        for waiter in waiters { waiter.continuation.resume(throwing: Self.shuttingDown) }
        for connection in idle { Self.discard(connection) }
    }

    /// One connection attempt, asked for by a lease or the prewarm (already counted in `open`).
    ///
    /// When it fails while leases wait and other connections are open, it keeps its slot and tries again
    /// when the next attempt is due, for as long as leases wait: the open connections may never come
    /// back to them, since a task that holds one may be the very one waiting for a second (a transaction
    /// that calls a step which leases its own). Ending the attempt there left that task waiting for ever
    /// (seen in a loaded `swift test`: one connect timeout, then a test that never ended).
    private func connect() async {
        while case .retry(let delay) = await attempt() {
            _ = try? await cancelWhenGracefulShutdown { try await Task.sleep(for: delay) }
            let stopping = Task.isCancelled || Task.isShuttingDownGracefully
            // Still wanted? A released connection may have served the waiters meanwhile.
            let unwanted = state.withLock { state -> [Waiter]? in
                guard state.waiters.isEmpty || state.shuttingDown || stopping else { return nil }
                return state.giveUpAttempt()
            }
            if let unwanted {
                for waiter in unwanted { waiter.continuation.resume(throwing: Self.shuttingDown) }
                return
            }
        }
    }

    private enum AttemptOutcome {
        case connected
        /// The slot is given up (and the waiters failed when no connection is left to serve them).
        case failed
        /// The slot is kept: try again after the delay.
        case retry(after: Duration)
    }

    private func attempt() async -> AttemptOutcome {
        let id = connectionIDs.add(1, ordering: .relaxed).newValue
        do {
            // On the group's next event loop, not the caller's (the default when the caller runs on one,
            // as every task does under NIO_GLOBAL_EXECUTOR): the connections, and the tasks their answers
            // resume, spread over the loops instead of piling on the one the prewarm ran on.
            let connection = PooledConnection(try await PostgresConnection.connect(
                on: PostgresConnection.defaultEventLoopGroup.next(), configuration: configuration, id: id, logger: logger
            ))
            let (recovered, warmUp) = state.withLock { state -> (Outage?, Int) in
                state.connecting -= 1
                defer { state.outage = nil }
                // Once the database first answered, the rest of the connections opened at start.
                guard !state.prewarmed else { return (state.outage, 0) }
                state.prewarmed = true
                let count = max(0, prewarm - state.open)
                state.open += count
                state.connecting += count
                return (state.outage, count)
            }
            for _ in 0..<warmUp { connectRequester.yield() }
            if let recovered {
                logger.notice("database reachable again", metadata: [
                    "unavailableFor": "\(ContinuousClock.now - recovered.since)", "failedAttempts": "\(recovered.failedAttempts)",
                ])
            }
            give(connection)
            return .connected
        } catch {
            let now = ContinuousClock.now
            let stopping = Task.isCancelled || Task.isShuttingDownGracefully
            let (outcome, failed, firstFailure) = state.withLock { state -> (AttemptOutcome, [Waiter], Bool) in
                let first = state.outage == nil
                if var outage = state.outage, now < outage.nextAttempt {
                    // An attempt made alongside the one that failed first (connections that dropped
                    // together): same outage, no longer backoff.
                    outage.lastError = String(reflecting: error)
                    state.outage = outage
                } else {
                    let attempts = (state.outage?.failedAttempts ?? 0) + 1
                    state.outage = Outage(
                        since: state.outage?.since ?? now, failedAttempts: attempts,
                        nextAttempt: now + Self.backoff(afterFailures: attempts), lastError: String(reflecting: error)
                    )
                }
                // Leases wait and connections are open (they may not come back to them): try again when due.
                // (Should those connections come back closed, `give` answers the waiters at once.)
                if !state.waiters.isEmpty, state.open - state.connecting > 0, !state.shuttingDown, !stopping, let outage = state.outage {
                    return (.retry(after: max(outage.nextAttempt - now, Self.minimumBackoff)), [], first)
                }
                return (.failed, state.giveUpAttempt(), first)
            }
            if firstFailure {
                logger.warning("database unreachable; retrying with backoff", metadata: [
                    "host": "\(configuration.host ?? "")", "error": "\(String(reflecting: error))",
                ])
            }
            let unavailable = DatabaseUnavailable(reason: String(reflecting: error), retryAfter: Self.minimumBackoff)
            for waiter in failed { waiter.continuation.resume(throwing: unavailable) }
            return outcome
        }
    }

    /// The delay before attempt n + 1 after n failures in a row: 50 ms × 2^(n-1), at most 2 s, ± 25 %.
    package static func backoff(afterFailures failures: Int) -> Duration {
        let base = min(minimumBackoff * (1 << min(max(failures - 1, 0), 10)), maximumBackoff)
        return base * Double.random(in: 0.75...1.25)
    }

    // MARK: Leasing

    /// An idle connection when there is one (the usual case, no continuation); else the slow path.
    private func lease() async throws -> PooledConnection {
        var closed: [PooledConnection] = []
        let idle = state.withLock { state -> PooledConnection? in
            state.shuttingDown ? nil : state.popOpenIdle(closed: &closed)
        }
        for connection in closed { Self.discard(connection) }
        if let idle { return idle }
        return try await leaseOrWait()
    }

    /// Decides under the lock, with the waiter registered in the same step (so a connection that
    /// arrives meanwhile cannot miss it): fail at once during an outage, else wait, asking for a new
    /// connection when there is room.
    private func leaseOrWait() async throws -> PooledConnection {
        let id = waiterIDs.add(1, ordering: .relaxed).newValue
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<PooledConnection, any Error>) in
                let now = ContinuousClock.now
                var closed: [PooledConnection] = []
                let decision = state.withLock { state -> LeaseDecision in
                    if state.shuttingDown { return .fail(Self.shuttingDown) }
                    if Task.isCancelled { return .fail(CancellationError()) }
                    if let connection = state.popOpenIdle(closed: &closed) { return .connection(connection) }
                    // While the database is away one attempt runs at a time, once it is due; every other
                    // lease is answered at once.
                    if let outage = state.outage, state.connecting > 0 || now < outage.nextAttempt {
                        return .fail(outage.unavailable(at: now))
                    }
                    state.waiters.append(Waiter(id: id, continuation: continuation))
                    guard state.open < size else { return .wait(connect: false) }
                    state.open += 1
                    state.connecting += 1
                    return .wait(connect: true)
                }
                for connection in closed { Self.discard(connection) }
                switch decision {
                case .connection(let connection): continuation.resume(returning: connection)
                case .fail(let error): continuation.resume(throwing: error)
                case .wait(let connect): if connect { connectRequester.yield() }
                }
            }
        } onCancel: {
            let waiter = state.withLock { state -> Waiter? in
                guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
                return state.waiters.remove(at: index)
            }
            waiter?.continuation.resume(throwing: CancellationError())
        }
    }

    /// A connection is free again (new or released): to the first waiter, else idle. A closed one is
    /// replaced when leases wait for it (or they fail when the database is away and nothing else can
    /// serve them).
    private func give(_ connection: PooledConnection) {
        enum Next { case handOver(Waiter), keep, drop, replace, failWaiters([Waiter], any Error) }
        let now = ContinuousClock.now
        let next = state.withLock { state -> Next in
            guard connection.isClosed || state.shuttingDown else {
                if !state.waiters.isEmpty { return .handOver(state.waiters.removeFirst()) }
                state.idle.append(connection)
                return .keep
            }
            state.open -= 1
            guard !state.waiters.isEmpty, !state.shuttingDown else { return .drop }
            if let outage = state.outage, state.connecting > 0 || now < outage.nextAttempt {
                // Another connection may still come back to them. Attempts under way are not waited
                // for: during an outage a lease is answered promptly (503), not after the next attempt.
                guard state.open - state.connecting == 0 else { return .drop }
                defer { state.waiters = [] }
                return .failWaiters(state.waiters, outage.unavailable(at: now))
            }
            state.open += 1
            state.connecting += 1
            return .replace
        }
        switch next {
        case .handOver(let waiter): waiter.continuation.resume(returning: connection)
        case .keep: break
        case .drop: Self.discard(connection)
        case .replace:
            Self.discard(connection)
            connectRequester.yield()
        case .failWaiters(let waiters, let error):
            Self.discard(connection)
            for waiter in waiters { waiter.continuation.resume(throwing: error) }
        }
    }

    /// Closes a connection without waiting (errors do not matter: it is being dropped).
    fileprivate static func discard(_ connection: PooledConnection) {
        let closing: EventLoopFuture<Void> = connection.connection.close()
        // Kept until it is closed: the driver asserts that a connection is closed before it goes away.
        closing.whenComplete { _ in withExtendedLifetime(connection) {} }
    }

    // MARK: Using connections

    /// Lends a connection for `body`'s lifetime (`body` must not keep it).
    package func withConnection<Result>(
        isolation: isolated (any Actor)? = #isolation, _ body: (DatabaseConnection) async throws -> sending Result
    ) async throws -> sending Result {
        let connection = try await lease()
        defer { give(connection) }
        return try await body(DatabaseConnection(connection))
    }

    /// Lends a connection inside `BEGIN` … `COMMIT` (`ROLLBACK` when `body` throws).
    package func withTransaction<Result>(
        logger: Logger, isolation: isolated (any Actor)? = #isolation, _ body: (DatabaseConnection) async throws -> sending Result
    ) async throws -> sending Result {
        try await withConnection { try await $0.withTransaction(logger: logger, body) }
    }

    /// Runs `query` and reads its rows.
    @discardableResult
    package func query(_ query: PostgresQuery, logger: Logger? = nil, file: String = #fileID, line: Int = #line) async throws -> DatabaseRows {
        try await withConnection { try await $0.query(query, logger: logger ?? self.logger, file: file, line: line) }
    }

    /// Runs a prepared statement (prepared once per connection) and decodes its rows.
    package func execute<Statement: PostgresPreparedStatement>(
        _ statement: Statement, logger: Logger? = nil, file: String = #fileID, line: Int = #line
    ) async throws -> DecodedRows<Statement.Row> where Statement.Row: Sendable {
        try await withConnection { try await $0.execute(statement, logger: logger ?? self.logger, file: file, line: line) }
    }

    /// Runs a prepared statement that returns no rows; returns its command tag.
    @_disfavoredOverload
    @discardableResult
    package func execute<Statement: PostgresPreparedStatement>(
        _ statement: Statement, logger: Logger? = nil, file: String = #fileID, line: Int = #line
    ) async throws -> String where Statement.Row == () {
        try await withConnection { try await $0.execute(statement, logger: logger ?? self.logger, file: file, line: line) }
    }

    /// How the pool stands (tests).
    package var statistics: (open: Int, idle: Int, waiting: Int, unavailable: Bool) {
        state.withLock { ($0.open, $0.idle.count, $0.waiters.count, $0.outage != nil) }
    }
}

/// The database cannot be reached now; try again after `retryAfter`. HTTP answers it with 503.
package struct DatabaseUnavailable: Error, CustomStringConvertible {
    package let reason: String
    package let retryAfter: Duration

    package var description: String { "database unavailable (\(reason))" }

    /// Whether `error` means the database went away or cannot be reached now (rather than a query
    /// that is wrong): the connection dropped, the server shutting down or starting up, no room for
    /// another connection. Such errors answer 503 and are retried; they are not bugs.
    package static func isUnavailability(_ error: any Error) -> Bool {
        switch error {
        case is DatabaseUnavailable:
            return true
        case let error as PSQLError:
            guard error.code == .server else { return true }
            guard let state = error.serverInfo?[.sqlState] else { return false }
            // 08: connection exception; 57P01–57P03: admin/crash shutdown, cannot connect now; 53300: too many connections.
            return state.hasPrefix("08") || ["57P01", "57P02", "57P03", "53300"].contains(state)
        default:
            return false
        }
    }
}

/// The rows of a query, read whole; iterate them or `decode` them like a `PostgresRowSequence`.
package struct DatabaseRows: AsyncSequence, Sendable {
    package typealias Element = PostgresRow
    package let rows: [PostgresRow]

    package func makeAsyncIterator() -> DecodedRows<PostgresRow>.AsyncIterator {
        DecodedRows(rows: rows).makeAsyncIterator()
    }

    package func decode<Column: PostgresDecodable>(_: Column.Type, file: String = #fileID, line: Int = #line) -> LazyDecodedRows<Column> {
        LazyDecodedRows(rows: rows) { try $0.decode(Column.self, file: file, line: line) }
    }

    package func decode<each Column: PostgresDecodable>(
        _: (repeat each Column).Type, file: String = #fileID, line: Int = #line
    ) -> LazyDecodedRows<(repeat each Column)> {
        LazyDecodedRows(rows: rows) { try $0.decode((repeat each Column).self, file: file, line: line) }
    }
}

/// Rows already decoded, as an async sequence (what `for try await` over a query's result expects).
package struct DecodedRows<Element>: AsyncSequence {
    package let rows: [Element]

    package struct AsyncIterator: AsyncIteratorProtocol {
        var base: IndexingIterator<[Element]>
        package mutating func next() async throws -> Element? { base.next() }
    }

    package func makeAsyncIterator() -> AsyncIterator { AsyncIterator(base: rows.makeIterator()) }
}

extension DecodedRows: Sendable where Element: Sendable {}

/// Rows decoded one by one as they are iterated (a decoding error surfaces at that row).
package struct LazyDecodedRows<Element>: AsyncSequence {
    let rows: [PostgresRow]
    let decode: (PostgresRow) throws -> Element

    package struct AsyncIterator: AsyncIteratorProtocol {
        var base: IndexingIterator<[PostgresRow]>
        let decode: (PostgresRow) throws -> Element
        package mutating func next() async throws -> Element? {
            guard let row = base.next() else { return nil }
            return try decode(row)
        }
    }

    package func makeAsyncIterator() -> AsyncIterator { AsyncIterator(base: rows.makeIterator(), decode: decode) }
}

/// A connection of the pool with the operations under way on it, so that none outlives the
/// connection: when the connection closes, operations the driver has not answered within 250 ms
/// fail with `DatabaseUnavailable` (the driver fails those it knows of itself; this catches the
/// ones it lost), and operations begun after the close fail at once.
package final class PooledConnection: Sendable {
    package let connection: PostgresConnection
    private let operations = Mutex(Operations())

    private struct Operations {
        var closed = false
        var nextID = 0
        var pending: [Int: @Sendable (any Error) -> Void] = [:]
    }

    init(_ connection: PostgresConnection) {
        self.connection = connection
        connection.closeFuture.whenComplete { [weak self] _ in self?.closed() }
    }

    var isClosed: Bool { connection.isClosed }

    private func closed() {
        operations.withLock { $0.closed = true }
        connection.eventLoop.scheduleTask(in: .milliseconds(250)) { [self] in
            let lost = operations.withLock { operations in
                defer { operations.pending = [:] }
                return Array(operations.pending.values)
            }
            guard !lost.isEmpty else { return }
            // Operations the driver lost (see `DatabasePool`): counted, so that an upgrade of the driver that
            // fixes it shows as a flat zero on `/metrics`.
            Counter(label: "db_operations_abandoned_total").increment(by: lost.count)
            let error = DatabaseUnavailable(reason: "the connection closed before the database answered", retryAfter: DatabasePool.minimumBackoff)
            for fail in lost { fail(error) }
        }
    }

    /// Runs `operation` on this connection, answered by the driver or, if the connection closes
    /// first and the driver lost it, by the watch. The operation runs in a task of its own so that
    /// a lost one can be left behind.
    func watched<T: Sendable>(_ operation: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        let answer = Mutex<CheckedContinuation<T, any Error>?>(nil)
        return try await withCheckedThrowingContinuation { continuation in
            answer.withLock { $0 = continuation }
            let finish: @Sendable (Result<T, any Error>) -> Void = { result in
                answer.withLock { $0.take() }?.resume(with: result)
            }
            let id = operations.withLock { operations -> Int? in
                guard !operations.closed else { return nil }
                operations.nextID += 1
                operations.pending[operations.nextID] = { finish(.failure($0)) }
                return operations.nextID
            }
            guard let id else {
                finish(.failure(DatabaseUnavailable(reason: "the connection closed", retryAfter: DatabasePool.minimumBackoff)))
                return
            }
            let connection = connection
            Task {
                let result: Result<T, any Error>
                do { result = .success(try await operation(connection)) } catch { result = .failure(error) }
                self.operations.withLock { _ = $0.pending.removeValue(forKey: id) }
                finish(result)
            }
        }
    }
}

/// A leased connection: the operations `PostgresConnection` offers, each watched
/// (`PooledConnection.watched`), rows read whole.
///
/// **A write outside a transaction is answered once it has committed.** The server commits such a
/// statement when it reads the protocol's `Sync`, after it has put the statement's `CommandComplete`
/// in its output buffer, and the driver (postgres-nio 1.33.2) answers the query at `CommandComplete`.
/// Usually both reach the client together with `ReadyForQuery`, after the commit; but whatever flushes
/// the buffer in between hands the driver a finished statement whose commit may never happen: a crash
/// or an immediate shutdown of Postgres (every backend sends a warning as it dies, in the middle of a
/// commit's flush too), or a notice. A service that then acts on the write (deletes the message it
/// handled, answers 2xx) loses it: `make chaos` lost an order and an e-mail's outcome that way. So
/// after a statement that writes (its SQL holds `INSERT`, `UPDATE` or `DELETE`) outside `BEGIN` …
/// `COMMIT`, the connection runs an empty query: the driver sends it only after the write's
/// `ReadyForQuery`, and it fails if the connection ended before. Statements whose lost commit costs
/// only a redelivery (the bus's claims and deletes, the relay's deletes) say so (`LosableWrite`) and
/// skip it; a `COMMIT` commits before it answers and needs none.
package struct DatabaseConnection: Sendable {
    let pooled: PooledConnection
    /// Inside `withTransaction`: statements commit with its `COMMIT`.
    let inTransaction: Bool

    init(_ pooled: PooledConnection, inTransaction: Bool = false) {
        self.pooled = pooled
        self.inTransaction = inTransaction
    }

    /// Runs `query` and reads its rows.
    @discardableResult
    package func query(_ query: PostgresQuery, logger: Logger, file: String = #fileID, line: Int = #line) async throws -> DatabaseRows {
        let rows = try await run(writing: WriteStatements.writes(query.sql), logger: logger) { connection in
            try await connection.query(query, logger: logger, file: file, line: line).collect()
        }
        return DatabaseRows(rows: rows)
    }

    /// Runs a prepared statement (prepared once per connection) and decodes its rows.
    package func execute<Statement: PostgresPreparedStatement>(
        _ statement: Statement, logger: Logger, file: String = #fileID, line: Int = #line
    ) async throws -> DecodedRows<Statement.Row> where Statement.Row: Sendable {
        let rows = try await run(writing: WriteStatements.needConfirmation(Statement.self), logger: logger) { connection in
            var rows: [Statement.Row] = []
            for try await row in try await connection.execute(statement, logger: logger, file: file, line: line) { rows.append(row) }
            return rows
        }
        return DecodedRows(rows: rows)
    }

    /// Runs a prepared statement that returns no rows; returns its command tag.
    @_disfavoredOverload
    @discardableResult
    package func execute<Statement: PostgresPreparedStatement>(
        _ statement: Statement, logger: Logger, file: String = #fileID, line: Int = #line
    ) async throws -> String where Statement.Row == () {
        try await run(writing: WriteStatements.needConfirmation(Statement.self), logger: logger) { connection in
            try await connection.execute(statement, logger: logger, file: file, line: line)
        }
    }

    /// `operation`, watched; when it is a write outside a transaction, it returns only once the server
    /// has sent `ReadyForQuery` after it (so its commit is done), and throws if the connection ended
    /// first: an empty query, which the driver sends only after that (see above).
    private func run<T: Sendable>(
        writing: Bool, logger: Logger, _ operation: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws -> T {
        let confirm = writing && !inTransaction
        return try await pooled.watched { connection in
            let result = try await operation(connection)
            if confirm { _ = try await connection.query("", logger: logger).collect() }
            return result
        }
    }

    /// Closes the connection (its session ends, with whatever it holds); the pool replaces it when it
    /// comes back.
    package func close() {
        DatabasePool.discard(pooled)
    }

    /// `body` inside `BEGIN` … `COMMIT`; `ROLLBACK` when it throws, and its error is rethrown as is.
    package func withTransaction<Result>(
        logger: Logger, isolation: isolated (any Actor)? = #isolation, _ body: (DatabaseConnection) async throws -> sending Result
    ) async throws -> sending Result {
        try await query("BEGIN", logger: logger)
        let result: Result
        do {
            result = try await body(DatabaseConnection(pooled, inTransaction: true))
        } catch {
            // A failed rollback leaves nothing behind: the server rolls back when the connection ends.
            _ = try? await query("ROLLBACK", logger: logger)
            throw error
        }
        try await query("COMMIT", logger: logger)
        return result
    }

    /// Listens on `channel` for as long as `consume` runs (a connection held for it alone).
    package func listen<Value>(on channel: String, consume: (PostgresNotificationSequence) async throws -> Value) async throws -> Value {
        try await pooled.connection.listen(on: channel, consume: consume)
    }
}

/// A write outside a transaction whose commit, if a crash takes it back after the statement was
/// answered, costs only a redelivery (a claim or a delete on the bus, a relay's delete of published
/// rows): the connection does not wait for `ReadyForQuery` after it (see `DatabaseConnection`).
package protocol LosableWrite: PostgresPreparedStatement {}

/// Which statements write (see `DatabaseConnection`).
package enum WriteStatements {
    /// Per prepared statement type: whether it writes and is not a `LosableWrite`.
    private static let known = Mutex<[ObjectIdentifier: Bool]>([:])

    static func needConfirmation<Statement: PostgresPreparedStatement>(_ type: Statement.Type) -> Bool {
        let key = ObjectIdentifier(type)
        if let answer = known.withLock({ $0[key] }) { return answer }
        let answer = !(type is any LosableWrite.Type) && writes(type.sql)
        known.withLock { $0[key] = answer }
        return answer
    }

    /// Whether `sql` holds one of the words `INSERT`, `UPDATE` or `DELETE` (any case): a write, or a
    /// locking read (`FOR UPDATE`, which outside a transaction costs one more round trip for nothing).
    package static func writes(_ sql: String) -> Bool {
        let words: [[UInt8]] = [Array("INSERT".utf8), Array("UPDATE".utf8), Array("DELETE".utf8)]
        let bytes = Array(sql.utf8)
        func isWordByte(_ byte: UInt8) -> Bool {
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || byte == 0x5F
        }
        var index = 0
        while index + 6 <= bytes.count {
            if index > 0, isWordByte(bytes[index - 1]) {
                index += 1
                continue
            }
            for word in words {
                var matches = true
                for offset in 0..<6 where bytes[index + offset] & 0xDF != word[offset] {
                    matches = false
                    break
                }
                if matches, index + 6 == bytes.count || !isWordByte(bytes[index + 6]) { return true }
            }
            index += 1
        }
        return false
    }
}
