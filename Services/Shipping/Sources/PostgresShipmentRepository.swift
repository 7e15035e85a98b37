import Contracts
import EventBus
import Foundation
import Logging
import PostgresNIO
import ServiceKit

/// Shipments in Postgres; each command or move runs in a transaction holding the order's row.
package struct PostgresShipmentRepository: ShipmentRepository {
    let client: DatabasePool
    let logger: Logger

    package init(client: DatabasePool, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    package func withShipment<T: Sendable>(orderId: UUID, _ body: @Sendable (any ShipmentStore) async throws -> T) async throws -> T {
        try await client.withOutboxTransaction(logger: logger) { connection in
            // Serialises the commands and moves of one order even before its row exists.
            try await connection.lock(["shipment:" + orderId.uuidString], logger: logger)
            return try await body(PostgresShipmentStore(orderId: orderId, connection: connection, logger: logger))
        }
    }

    package func shipment(orderId: UUID) async throws -> Shipment? {
        try await client.withConnection { connection in
            try await PostgresShipmentStore(orderId: orderId, connection: connection, logger: logger).record()?.shipment
        }
    }

    package func shipments(before cursor: TimeCursor?, limit: Int) async throws -> [Shipment] {
        let rows = try await client.query(
            """
            SELECT \(unescaped: Self.columns) FROM shipments
            WHERE (\(cursor?.microseconds)::bigint IS NULL
                   OR (created_at, order_id) < ('epoch'::timestamptz + \(cursor?.microseconds) * interval '1 microsecond', \(cursor?.id)))
            ORDER BY created_at DESC, order_id DESC LIMIT \(limit)
            """,
            logger: logger
        )
        var shipments: [Shipment] = []
        for try await row in rows { shipments.append(try Self.record(row).shipment) }
        return shipments
    }

    /// `due_at` moves `lease` ahead in the statement that picks the rows (`SKIP LOCKED`), so another
    /// replica's scan passes them by; one that dies with a claim leaves it to the next scan after the
    /// lease. Each move checks that the shipment is still in the status it was claimed in.
    package func claimDue(limit: Int, lease: Duration) async throws -> [(orderId: UUID, status: ShipmentStatus)] {
        let rows = try await client.query(
            """
            UPDATE shipments SET due_at = now() + make_interval(secs => \(lease.timeInterval))
            WHERE order_id IN (
                SELECT order_id FROM shipments WHERE due_at <= now()
                ORDER BY due_at LIMIT \(limit) FOR UPDATE SKIP LOCKED
            )
            RETURNING order_id, status
            """,
            logger: logger
        )
        var claimed: [(orderId: UUID, status: ShipmentStatus)] = []
        for try await (id, status) in rows.decode((UUID, String).self) { claimed.append((id, try ShipmentStatus(stored: status))) }
        return claimed
    }

    static let columns = """
        order_id, user_name, status, carrier, tracking_number, created_at, shipped_at, delivered_at, return_requested_at, returned_at,
        cancelled_at, due_at
        """

    static func record(_ row: PostgresRow) throws -> ShipmentRecord {
        let (orderId, userName, status, carrier, trackingNumber, createdAt, shippedAt, deliveredAt, returnRequestedAt, returnedAt, cancelledAt, dueAt) =
            try row.decode((UUID, String, String, String?, String?, Date, Date?, Date?, Date?, Date?, Date?, Date?).self)
        return ShipmentRecord(
            shipment: Shipment(
                orderId: orderId, userName: userName, status: try ShipmentStatus(stored: status), carrier: carrier, trackingNumber: trackingNumber,
                createdAt: createdAt, shippedAt: shippedAt, deliveredAt: deliveredAt, returnRequestedAt: returnRequestedAt, returnedAt: returnedAt,
                cancelledAt: cancelledAt
            ),
            dueAt: dueAt
        )
    }
}

struct PostgresShipmentStore: ShipmentStore {
    let orderId: UUID
    let connection: DatabaseConnection
    let logger: Logger

    func record() async throws -> ShipmentRecord? {
        let rows = try await connection.query(
            "SELECT \(unescaped: PostgresShipmentRepository.columns) FROM shipments WHERE order_id = \(orderId)", logger: logger
        )
        for try await row in rows { return try PostgresShipmentRepository.record(row) }
        return nil
    }

    /// One statement: the shipment and its events in the outbox.
    func save(_ record: ShipmentRecord?, events: [PublishEntry]) async throws {
        var statement = SQLStatement()
        if let record {
            let shipment = record.shipment
            statement.with("""
                shipment AS (
                    INSERT INTO shipments (order_id, user_name, status, carrier, tracking_number, created_at, shipped_at, delivered_at,
                                           return_requested_at, returned_at, cancelled_at, due_at)
                    VALUES (\(try statement.bind(orderId)), \(try statement.bind(shipment.userName)), \(try statement.bind(shipment.status.rawValue)),
                            \(try statement.bind(shipment.carrier))::text, \(try statement.bind(shipment.trackingNumber))::text,
                            \(try statement.bind(shipment.createdAt)), \(try statement.bind(shipment.shippedAt))::timestamptz,
                            \(try statement.bind(shipment.deliveredAt))::timestamptz, \(try statement.bind(shipment.returnRequestedAt))::timestamptz,
                            \(try statement.bind(shipment.returnedAt))::timestamptz, \(try statement.bind(shipment.cancelledAt))::timestamptz,
                            \(try statement.bind(record.dueAt))::timestamptz)
                    ON CONFLICT (order_id) DO UPDATE SET status = excluded.status, shipped_at = excluded.shipped_at,
                        delivered_at = excluded.delivered_at, return_requested_at = excluded.return_requested_at,
                        returned_at = excluded.returned_at, cancelled_at = excluded.cancelled_at, due_at = excluded.due_at
                )
                """)
        }
        if !events.isEmpty { try Outbox.insert(events, as: "events", into: &statement) }
        guard statement.withElements > 0 else { return }
        statement.append(" SELECT 1")
        try await connection.query(statement.query, logger: logger)
    }
}

enum ShippingMigrations {
    static let all: [Migration] = [
        Migration("001_shipments", [
            """
            CREATE TABLE shipments (
                order_id UUID PRIMARY KEY,
                user_name TEXT NOT NULL,
                status TEXT NOT NULL \(unescaped: OrderLifecycleDocuments.check("status", in: ShipmentStatus.allCases.map(\.rawValue))),
                carrier TEXT,
                tracking_number TEXT,
                created_at TIMESTAMPTZ NOT NULL,
                shipped_at TIMESTAMPTZ,
                delivered_at TIMESTAMPTZ,
                return_requested_at TIMESTAMPTZ,
                returned_at TIMESTAMPTZ,
                cancelled_at TIMESTAMPTZ,
                due_at TIMESTAMPTZ
            ) WITH (fillfactor = 80)
            """,
            // Only the shipments with a move ahead: the scan's index stays small.
            "CREATE INDEX shipments_due ON shipments (due_at) WHERE due_at IS NOT NULL",
            "CREATE INDEX shipments_created ON shipments (created_at DESC, order_id DESC)",
        ]),
    ] + Outbox.migrations
}

extension ShipmentStatus {
    init(stored: String) throws {
        guard let status = ShipmentStatus(rawValue: stored) else { throw UnreadableValue(column: "shipments.status", value: stored) }
        self = status
    }
}
