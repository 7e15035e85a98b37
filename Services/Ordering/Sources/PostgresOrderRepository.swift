import Contracts
import Foundation
import Logging
import PostgresNIO
import ServiceKit

/// Orders in Postgres. The unique `checkout_id` makes order creation idempotent.
package struct PostgresOrderRepository: OrderRepository {
    let client: PostgresClient
    let logger: Logger

    package init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    package func createOrder(from checkout: CheckoutBasket) async throws -> Bool {
        let items = String(decoding: try JSONOutput.encoder.encode(checkout.items), as: UTF8.self)
        return try await client.withTransaction(logger: logger) { connection in
            let rows = try await connection.query(
                """
                INSERT INTO orders (order_id, checkout_id, user_name, first_name, last_name, email, address,
                                    payment_method, card_info, items, total_price, order_date, status)
                VALUES (\(UUID()), \(checkout.checkoutId), \(checkout.userName), \(checkout.firstName), \(checkout.lastName),
                        \(checkout.email), \(checkout.address), \(checkout.paymentMethod), \(checkout.cardInfo), \(items),
                        \(checkout.totalPrice.description)::numeric, \(checkout.checkoutDate), \(OrderStatus.pending.rawValue))
                ON CONFLICT (checkout_id) DO NOTHING
                RETURNING order_id
                """,
                logger: logger
            )
            var created: UUID?
            for try await id in rows.decode(UUID.self) { created = id }
            guard let created else { return false }
            try await connection.query(
                "INSERT INTO order_status_history (order_id, status) VALUES (\(created), \(OrderStatus.pending.rawValue))",
                logger: logger
            )
            return true
        }
    }

    package func orders(of userName: String, on day: DateInterval?, limit: Int) async throws -> [Order] {
        try await client.withConnection { connection in
            let rows = try await connection.query(
                """
                SELECT \(unescaped: Self.columns) FROM orders
                WHERE user_name = \(userName)
                  AND (\(day?.start)::timestamptz IS NULL OR (order_date >= \(day?.start) AND order_date < \(day?.end)))
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
        items, total_price::text, order_date, status
        """

    static func decode(_ rows: PostgresRowSequence, connection: PostgresConnection, logger: Logger) async throws -> [Order] {
        var orders: [Order] = []
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = Timestamp.decodingStrategy
        for try await row in rows {
            let (orderId, checkoutId, userName, firstName, lastName, email, address, paymentMethod, cardInfo, items, total, orderDate, status) =
                try row.decode((UUID, UUID, String, String, String, String, String, String, String, String, String, Date, String).self)
            orders.append(Order(
                orderId: orderId, checkoutId: checkoutId, userName: userName, firstName: firstName, lastName: lastName,
                email: email, address: address, paymentMethod: paymentMethod, cardInfo: cardInfo,
                items: try decoder.decode([OrderLine].self, from: Data(items.utf8)),
                totalPrice: try Money.parse(total, column: "orders.total_price"), orderDate: orderDate,
                status: try OrderStatus(stored: status), statusHistory: []
            ))
        }
        guard !orders.isEmpty else { return orders }
        let history = try await connection.query(
            "SELECT order_id, status, changed_at FROM order_status_history WHERE order_id = ANY(\(orders.map(\.orderId))) ORDER BY changed_at, id",
            logger: logger
        )
        var changes: [UUID: [StatusChange]] = [:]
        for try await (id, status, at) in history.decode((UUID, String, Date).self) {
            changes[id, default: []].append(StatusChange(status: try OrderStatus(stored: status), at: at))
        }
        for index in orders.indices { orders[index].statusHistory = changes[orders[index].orderId] ?? [] }
        return orders
    }
}
