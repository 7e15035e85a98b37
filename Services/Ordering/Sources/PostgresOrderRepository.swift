import Contracts
import EventBus
import Foundation
import Logging
import PostgresNIO
import ServiceKit
import Synchronization

/// Orders in Postgres. The unique `checkout_id` makes order creation idempotent.
package struct PostgresOrderRepository: OrderRepository {
    let client: DatabasePool
    let logger: Logger

    package init(client: DatabasePool, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// One statement, outside a transaction: the saga's first decision is made on the new order's
    /// state before anything is written (it depends on the checkout alone), and the order goes in with
    /// it — its row in its first step, the history, the deadline and the first command in the outbox —
    /// or, for a checkout that already has its order, nothing does. Before, the order was inserted and
    /// then read back, locked and written again in a transaction: five round trips and two versions of
    /// the wide row instead of one of each.
    package func createOrder(from checkout: CheckoutBasket, _ start: @Sendable (any SagaStore) async throws -> Void) async throws -> Bool {
        let items = String(decoding: try JSONOutput.encoder.encode(checkout.items), as: UTF8.self)
        let store = NewOrderStore(state: SagaState(
            orderId: UUID.random(), checkoutId: checkout.checkoutId, userName: checkout.userName, cardInfo: checkout.cardInfo,
            items: checkout.items, totalPrice: checkout.totalPrice, status: .pending, step: .reservingStock,
            firstName: checkout.firstName, email: checkout.email
        ))
        try await start(store)
        let first = store.decided
        var created = false
        for try await _ in try await client.execute(
            InsertOrder(checkout: checkout, items: items, orderId: store.orderId, decision: first?.decision, entries: first?.entries ?? [], deadline: first?.deadline),
            logger: logger
        ) { created = true }
        if created { Outbox.committed() }
        return created
    }

    package func order(id: UUID) async throws -> Order? {
        try await client.withConnection { connection in
            let rows = try await connection.query("SELECT \(unescaped: Self.columns) FROM orders WHERE order_id = \(id)", logger: logger)
            return try await Self.decode(rows, connection: connection, logger: logger).first
        }
    }

    /// A saga step without a transaction first: the state is read as it is, and the decision is
    /// stored by one statement only if the order's row is still the version that was read (its
    /// `xmin`). When another step changed the order in between, the step is decided again with the
    /// row locked. The row is locked only inside that one statement, and a step costs two round trips
    /// instead of four (BEGIN, locking read, write, COMMIT).
    package func withSaga<T: Sendable>(orderId: UUID, _ body: @Sendable (any SagaStore) async throws -> T) async throws -> T {
        do {
            let result = try await client.withConnection { connection in
                try await body(PostgresSagaStore(orderId: orderId, connection: connection, logger: logger, readVersion: SagaRowVersion()))
            }
            Outbox.committed()
            return result
        } catch is SagaStateChangedMeanwhile {
            return try await client.withOutboxTransaction(logger: logger) { connection in
                try await body(PostgresSagaStore(orderId: orderId, connection: connection, logger: logger))
            }
        }
    }

    /// Claims overdue steps: their rows in `order_deadlines` move `lease` ahead, in the statement that
    /// picks them (`SKIP LOCKED`), so another replica's scan passes them by; a replica that dies with a
    /// claim leaves it to the next scan after the lease. The saga decides on the order's own deadline.
    package func claimOverdue(limit: Int, lease: Duration) async throws -> [UUID] {
        let rows = try await client.query(
            """
            UPDATE order_deadlines SET deadline = now() + make_interval(secs => \(lease.timeInterval))
            WHERE order_id IN (
                SELECT order_id FROM order_deadlines WHERE deadline <= now()
                ORDER BY deadline LIMIT \(limit) FOR UPDATE SKIP LOCKED
            )
            RETURNING order_id
            """,
            logger: logger
        )
        var ids: [UUID] = []
        for try await id in rows.decode(UUID.self) { ids.append(id) }
        return ids
    }

    package func orders(of userName: String, on day: DateInterval?, checkoutId: UUID?, limit: Int) async throws -> [Order] {
        try await client.withConnection { connection in
            let rows = try await connection.query(
                """
                SELECT \(unescaped: Self.columns) FROM orders
                WHERE user_name = \(userName)
                  AND (\(day?.start)::timestamptz IS NULL OR (order_date >= \(day?.start) AND order_date < \(day?.end)))
                  AND (\(checkoutId)::uuid IS NULL OR checkout_id = \(checkoutId))
                ORDER BY order_date DESC, order_id DESC LIMIT \(limit)
                """,
                logger: logger
            )
            return try await Self.decode(rows, connection: connection, logger: logger)
        }
    }

    package func allOrders(before cursor: OrderCursor?, limit: Int) async throws -> [Order] {
        try await client.withConnection { connection in
            let rows = try await connection.query(
                """
                SELECT \(unescaped: Self.columns) FROM orders
                WHERE (\(cursor?.orderDateMicroseconds)::bigint IS NULL
                       OR (order_date, order_id) < ('epoch'::timestamptz + \(cursor?.orderDateMicroseconds) * interval '1 microsecond', \(cursor?.orderId)))
                ORDER BY order_date DESC, order_id DESC LIMIT \(limit)
                """,
                logger: logger
            )
            return try await Self.decode(rows, connection: connection, logger: logger)
        }
    }

    static let columns = """
        order_id, checkout_id, user_name, first_name, last_name, email, address, payment_method, card_info,
        items, total_price::text, order_date, status, cancellation_reason, saga_step,
        shipment_status, carrier, tracking_number, shipped_at, delivered_at
        """

    static func decode<Rows: AsyncSequence>(_ rows: Rows, connection: DatabaseConnection, logger: Logger) async throws -> [Order] where Rows.Element == PostgresRow {
        var orders: [Order] = []
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = Timestamp.decodingStrategy
        for try await row in rows {
            let (orderId, checkoutId, userName, firstName, lastName, email, address, paymentMethod, cardInfo, items, total, orderDate, status, reason) =
                try row.decode((UUID, UUID, String, String, String, String, String, String, String, String, String, Date, String, String?).self)
            let columns = row.makeRandomAccess()
            let step = try columns[14].decode(String.self)
            let shipment = try OrderShipment(
                stored: columns[15].decode(String?.self), carrier: columns[16].decode(String?.self), trackingNumber: columns[17].decode(String?.self),
                shippedAt: columns[18].decode(Date?.self), deliveredAt: columns[19].decode(Date?.self)
            )
            orders.append(Order(
                orderId: orderId, checkoutId: checkoutId, userName: userName, firstName: firstName, lastName: lastName,
                email: email, address: address, paymentMethod: paymentMethod, cardInfo: cardInfo,
                items: try decoder.decode([OrderLine].self, from: Data(items.utf8)),
                totalPrice: try Money.parse(total, column: "orders.total_price"), orderDate: orderDate,
                status: try OrderStatus(stored: status), cancellationReason: try reason.map(CancellationReason.init(stored:)), statusHistory: [],
                shipment: shipment, cancelRequested: step == SagaStep.stoppingDispatch.rawValue
            ))
        }
        guard !orders.isEmpty else { return orders }
        let history = try await connection.query(
            "SELECT order_id, status, changed_at, reason FROM order_status_history WHERE order_id = ANY(\(orders.map(\.orderId))) ORDER BY id",
            logger: logger
        )
        var changes: [UUID: [StatusChange]] = [:]
        for try await (id, status, at, reason) in history.decode((UUID, String, Date, String?).self) {
            changes[id, default: []].append(StatusChange(status: try OrderStatus(stored: status), at: at, reason: reason))
        }
        for index in orders.indices { orders[index].statusHistory = changes[orders[index].orderId] ?? [] }
        return orders
    }
}

/// The order's row was changed by another step between the read and the write of an unlocked step.
struct SagaStateChangedMeanwhile: Error {}

/// The version (`xmin`) of the order's row an unlocked step read.
final class SagaRowVersion: Sendable {
    private let value = Mutex<String?>(nil)

    var xmin: String? {
        get { value.withLock { $0 } }
        set { value.withLock { $0 = newValue } }
    }
}

struct PostgresSagaStore: SagaStore {
    let orderId: UUID
    let connection: DatabaseConnection
    let logger: Logger
    /// Set: the step runs without a transaction; `state()` notes the row's version here and `apply`
    /// writes only over that version. Nil: inside a transaction, on the row locked by `state()`.
    var readVersion: SagaRowVersion? = nil

    func state() async throws -> SagaState? {
        if let readVersion {
            for try await row in try await connection.execute(UnlockedState(orderId: orderId), logger: logger) {
                readVersion.xmin = try row.makeRandomAccess()[Self.stateColumnCount].decode(String.self)
                return try Self.state(orderId, row)
            }
            return nil
        }
        for try await row in try await connection.execute(LockedState(orderId: orderId), logger: logger) {
            return try Self.state(orderId, row)
        }
        return nil
    }

    /// The saga's columns of the order, in the order `state(_:_:)` reads them.
    static let stateColumns = """
        checkout_id, user_name, card_info, items, total_price::text, status, saga_step, cancellation_reason, deadline,
        shipment_status, carrier, tracking_number, shipped_at, delivered_at, first_name, email
        """
    static let stateColumnCount = 16

    static func state(_ orderId: UUID, _ row: PostgresRow) throws -> SagaState {
        let (checkoutId, userName, cardInfo, items, total, status, step, reason, deadline) =
            try row.decode((UUID, String, String, String, String, String, String, String?, Date?).self)
        let columns = row.makeRandomAccess()
        guard let sagaStep = SagaStep(rawValue: step) else { throw UnreadableValue(column: "orders.saga_step", value: step) }
        return SagaState(
            orderId: orderId, checkoutId: checkoutId, userName: userName, cardInfo: cardInfo,
            items: try JSONValue.decoder.decode([OrderLine].self, from: Data(items.utf8)),
            totalPrice: try Money.parse(total, column: "orders.total_price"), status: try OrderStatus(stored: status), step: sagaStep,
            cancellationReason: try reason.map(CancellationReason.init(stored:)), deadline: deadline,
            shipment: try OrderShipment(
                stored: columns[9].decode(String?.self), carrier: columns[10].decode(String?.self), trackingNumber: columns[11].decode(String?.self),
                shippedAt: columns[12].decode(Date?.self), deliveredAt: columns[13].decode(Date?.self)
            ),
            firstName: try columns[14].decode(String.self), email: try columns[15].decode(String.self)
        )
    }

    /// The saga's columns of the order, its row locked until the transaction ends (prepared once per connection).
    struct LockedState: PostgresPreparedStatement {
        static let name = "order_saga_state_v3"
        static let sql = "SELECT \(stateColumns) FROM orders WHERE order_id = $1 FOR UPDATE"
        static let bindingDataTypes: [PostgresDataType] = [.uuid]
        let orderId: UUID

        func makeBindings() throws -> PostgresBindings { try PostgresBindings(binding: orderId) }
        func decodeRow(_ row: PostgresRow) throws -> PostgresRow { row }
    }

    /// The saga's columns of the order and the version of its row, unlocked (prepared once per connection).
    struct UnlockedState: PostgresPreparedStatement {
        static let name = "order_saga_state_unlocked_v3"
        static let sql = "SELECT \(stateColumns), xmin::text FROM orders WHERE order_id = $1"
        static let bindingDataTypes: [PostgresDataType] = [.uuid]
        let orderId: UUID

        func makeBindings() throws -> PostgresBindings { try PostgresBindings(binding: orderId) }
        func decodeRow(_ row: PostgresRow) throws -> PostgresRow { row }
    }

    /// One statement: the order's row (only the version read, for an unlocked step), then the status
    /// history, the deadline and the outbox, only when the row was written.
    func apply(_ decision: SagaDecision, entries: [PublishEntry], deadline: Date?) async throws {
        var version: String?
        if let readVersion {
            guard let xmin = readVersion.xmin else { throw SagaStateChangedMeanwhile() }
            version = xmin
        }
        var written = 0
        for try await count in try await connection.execute(
            ApplyStep(orderId: orderId, decision: decision, deadline: deadline, version: version, entries: entries), logger: logger
        ) { written = count }
        guard written == 1 else { throw SagaStateChangedMeanwhile() }
    }

    /// A step's decision (prepared once per connection): the order's columns (over the version read
    /// when `$6` is set), its status history (a missing reason travels as ''), its deadline where the
    /// timeout scan finds it (no row: no deadline) and its events in the outbox.
    struct ApplyStep: PostgresPreparedStatement {
        static let name = "order_apply_step_v3"
        static let sql = """
            WITH updated AS (
                UPDATE orders SET status = coalesce($2::text, status), saga_step = $3, deadline = $4::timestamptz,
                    cancellation_reason = coalesce($5::text, cancellation_reason),
                    shipment_status = coalesce($9::text, shipment_status), carrier = coalesce($10::text, carrier),
                    tracking_number = coalesce($11::text, tracking_number), shipped_at = coalesce($12::timestamptz, shipped_at),
                    delivered_at = coalesce($13::timestamptz, delivered_at)
                WHERE order_id = $1 AND ($6::text IS NULL OR xmin = $6::text::xid)
                RETURNING order_id
            ), history AS (
                INSERT INTO order_status_history (order_id, status, reason)
                SELECT $1, h.status, nullif(h.reason, '')
                FROM unnest($7::text[], $8::text[]) WITH ORDINALITY AS h(status, reason, n)
                WHERE EXISTS (SELECT 1 FROM updated)
                ORDER BY h.n
            ), due AS (
                INSERT INTO order_deadlines (order_id, deadline) SELECT order_id, $4::timestamptz FROM updated WHERE $4::timestamptz IS NOT NULL
                ON CONFLICT (order_id) DO UPDATE SET deadline = excluded.deadline
            ), not_due AS (
                DELETE FROM order_deadlines WHERE order_id = $1 AND $4::timestamptz IS NULL AND EXISTS (SELECT 1 FROM updated)
            ), \(Outbox.insertSQL(as: "events", firstParameter: 14, onlyIf: "EXISTS (SELECT 1 FROM updated)"))
            SELECT count(*)::int FROM updated
            """
        static let bindingDataTypes: [PostgresDataType] = [
            .uuid, .text, .text, .timestamptz, .text, .text, .textArray, .textArray,
            .text, .text, .text, .timestamptz, .timestamptz,
        ] + Outbox.bindingDataTypes
        typealias Row = Int
        let orderId: UUID
        let decision: SagaDecision
        let deadline: Date?
        let version: String?
        let entries: [PublishEntry]

        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 13 + Outbox.bindingDataTypes.count)
            bindings.append(orderId)
            bindings.append(decision.statuses.last?.status.rawValue)
            bindings.append(decision.step.rawValue)
            bindings.append(deadline)
            bindings.append(decision.cancellationReason?.rawValue)
            bindings.append(version)
            bindings.append(decision.statuses.map(\.status.rawValue))
            bindings.append(decision.statuses.map { $0.reason ?? "" })
            bindings.append(decision.shipment?.status.rawValue)
            bindings.append(decision.shipment?.carrier)
            bindings.append(decision.shipment?.trackingNumber)
            bindings.append(decision.shipment?.shippedAt)
            bindings.append(decision.shipment?.deliveredAt)
            try Outbox.appendBindings(entries, to: &bindings)
            return bindings
        }

        func decodeRow(_ row: PostgresRow) throws -> Int { try row.decode(Int.self) }
    }
}

/// The saga of an order not yet stored: it reads the state the order will have and keeps the first
/// decision for `InsertOrder` to store with the order.
final class NewOrderStore: SagaStore {
    let state: SagaState
    private let decision = Mutex<(decision: SagaDecision, entries: [PublishEntry], deadline: Date?)?>(nil)

    init(state: SagaState) { self.state = state }

    var orderId: UUID { state.orderId }
    var decided: (decision: SagaDecision, entries: [PublishEntry], deadline: Date?)? { decision.withLock { $0 } }

    func state() async throws -> SagaState? { state }

    func apply(_ decision: SagaDecision, entries: [PublishEntry], deadline: Date?) async throws {
        self.decision.withLock { $0 = (decision, entries, deadline) }
    }
}

/// A new order in its saga's first step, once per checkout (prepared once per connection): the row,
/// and only if it was inserted, its status history, its deadline and its events in the outbox.
struct InsertOrder: PostgresPreparedStatement {
    static let name = "order_insert_v2"
    static let sql = """
        WITH created AS (
            INSERT INTO orders (order_id, checkout_id, user_name, first_name, last_name, email, address,
                                payment_method, card_info, items, total_price, order_date, status, saga_step, deadline)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::numeric, $12, $13, $14, $15::timestamptz)
            ON CONFLICT (checkout_id) DO NOTHING
            RETURNING order_id
        ), history AS (
            INSERT INTO order_status_history (order_id, status, reason)
            SELECT c.order_id, h.status, nullif(h.reason, '')
            FROM created c, unnest($16::text[], $17::text[]) WITH ORDINALITY AS h(status, reason, n)
            ORDER BY h.n
        ), due AS (
            INSERT INTO order_deadlines (order_id, deadline) SELECT order_id, $15::timestamptz FROM created WHERE $15::timestamptz IS NOT NULL
        ), \(Outbox.insertSQL(as: "events", firstParameter: 18, onlyIf: "EXISTS (SELECT 1 FROM created)"))
        SELECT order_id FROM created
        """
    static let bindingDataTypes: [PostgresDataType] = [
        .uuid, .uuid, .text, .text, .text, .text, .text, .text, .text, .text, .text, .timestamptz, .text, .text, .timestamptz,
        .textArray, .textArray,
    ] + Outbox.bindingDataTypes
    typealias Row = UUID
    let checkout: CheckoutBasket
    let items: String
    let orderId: UUID
    /// The saga's first decision (nil: the order is stored pending, with no history, deadline or events).
    let decision: SagaDecision?
    let entries: [PublishEntry]
    let deadline: Date?

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 17 + Outbox.bindingDataTypes.count)
        bindings.append(orderId)
        bindings.append(checkout.checkoutId)
        bindings.append(checkout.userName)
        bindings.append(checkout.firstName)
        bindings.append(checkout.lastName)
        bindings.append(checkout.email)
        bindings.append(checkout.address)
        bindings.append(checkout.paymentMethod)
        bindings.append(checkout.cardInfo)
        bindings.append(items)
        bindings.append(checkout.totalPrice.description)
        bindings.append(checkout.checkoutDate)
        bindings.append((decision?.statuses.last?.status ?? .pending).rawValue)
        bindings.append((decision?.step ?? .reservingStock).rawValue)
        bindings.append(deadline)
        bindings.append(decision?.statuses.map(\.status.rawValue) ?? [])
        bindings.append(decision?.statuses.map { $0.reason ?? "" } ?? [])
        try Outbox.appendBindings(entries, to: &bindings)
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> UUID { try row.decode(UUID.self) }
}

extension OrderShipment {
    /// The shipment's columns of an order; nil before it has one.
    init?(stored status: String?, carrier: String?, trackingNumber: String?, shippedAt: Date?, deliveredAt: Date?) throws {
        guard let status else { return nil }
        guard let known = ShipmentStatus(rawValue: status) else { throw UnreadableValue(column: "orders.shipment_status", value: status) }
        self.init(status: known, carrier: carrier, trackingNumber: trackingNumber, shippedAt: shippedAt, deliveredAt: deliveredAt)
    }
}

extension CancellationReason {
    init(stored: String) throws {
        guard let reason = CancellationReason(rawValue: stored) else { throw UnreadableValue(column: "cancellation_reason", value: stored) }
        self = reason
    }
}
