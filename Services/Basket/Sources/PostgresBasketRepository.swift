import EventBus
import Foundation
import Logging
import PostgresNIO
import ServiceKit

/// Baskets in Postgres. A checkout holds a per-user advisory lock for its transaction, so two
/// checkouts of one basket run one after the other: the first empties it, the second finds it empty
/// (or, with the same `Idempotency-Key`, finds the first answer).
package struct PostgresBasketRepository: BasketRepository {
    let client: PostgresClient
    let logger: Logger

    package init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// The basket, with the price changes since the user last looked; looking clears them.
    package func find(userName: String) async throws -> Basket {
        try await client.withConnection { connection in
            let basket = try await Self.basket(userName, on: connection, logger: logger)
            if basket.items.contains(where: { $0.previousPrice != nil }) {
                try await connection.query(
                    "UPDATE basket_items SET previous_price = NULL WHERE user_name = \(userName) AND previous_price IS NOT NULL",
                    logger: logger
                )
            }
            return basket
        }
    }

    package func replace(userName: String, items: [BasketItem]) async throws -> Basket {
        try await client.withTransaction(logger: logger) { connection in
            try await Self.lock(userName, on: connection, logger: logger)
            try await connection.query("DELETE FROM basket_items WHERE user_name = \(userName)", logger: logger)
            for (line, item) in items.enumerated() {
                try await connection.query(
                    """
                    INSERT INTO basket_items (user_name, line, product_id, product_name, quantity, color, price)
                    VALUES (\(userName), \(line), \(item.productId), \(item.productName), \(item.quantity), \(item.color), \(item.price.description)::numeric)
                    """,
                    logger: logger
                )
            }
            return try await Self.basket(userName, on: connection, logger: logger)
        }
    }

    package func delete(userName: String) async throws {
        try await client.query("DELETE FROM basket_items WHERE user_name = \(userName)", logger: logger)
    }

    package func list(after cursor: String?, limit: Int) async throws -> [Basket] {
        try await client.withConnection { connection in
            let rows = try await connection.query(
                """
                SELECT DISTINCT user_name FROM basket_items
                WHERE (\(cursor)::text IS NULL OR user_name > \(cursor))
                ORDER BY user_name LIMIT \(limit)
                """,
                logger: logger
            )
            var names: [String] = []
            for try await name in rows.decode(String.self) { names.append(name) }
            var baskets: [Basket] = []
            for name in names { baskets.append(try await Self.basket(name, on: connection, logger: logger)) }
            return baskets
        }
    }

    package func checkout(_ request: CheckoutRequest, idempotencyKey: String?, eventBusName: String) async throws -> CheckoutOutcome {
        let requestJSON = String(decoding: try JSONOutput.encoder.encode(request.masked), as: UTF8.self)
        return try await client.withTransaction(logger: logger) { connection in
            try await Self.lock(request.userName, on: connection, logger: logger)
            if let idempotencyKey {
                let rows = try await connection.query(
                    "SELECT request, response FROM checkouts WHERE user_name = \(request.userName) AND idempotency_key = \(idempotencyKey)",
                    logger: logger
                )
                for try await (storedRequest, response) in rows.decode((String, String).self) {
                    guard storedRequest == requestJSON else { return .idempotencyKeyReused }
                    return .replayed(try JSONValue.decoder.decode(CheckoutBasket.self, from: Data(response.utf8)))
                }
            }
            let basket = try await Self.basket(request.userName, on: connection, logger: logger)
            guard !basket.items.isEmpty else { return .emptyBasket }
            let unavailable = basket.items.filter { !$0.available }
            guard unavailable.isEmpty else { return .unavailableItems(unavailable.map(\.productName)) }
            // Prices may have risen since the basket was stored.
            try Basket.checkAmounts(of: basket.items)

            let checkout = CheckoutBasket(
                checkoutId: UUID(), userName: request.userName, firstName: request.firstName, lastName: request.lastName,
                email: request.email, address: request.address, paymentMethod: request.paymentMethod,
                cardInfo: CardNumber.mask(request.cardInfo), items: basket.items, totalPrice: basket.totalPrice,
                checkoutDate: Timestamp.now()
            )
            try await Outbox.enqueue(
                PublishEntry(
                    eventBusName: eventBusName, source: CheckoutBasket.source, detailType: CheckoutBasket.detailType,
                    detail: try JSONValue(encoding: checkout), time: checkout.checkoutDate
                ),
                on: connection, logger: logger
            )
            try await connection.query("DELETE FROM basket_items WHERE user_name = \(request.userName)", logger: logger)
            let response = String(decoding: try JSONValue.encoder.encode(checkout), as: UTF8.self)
            try await connection.query(
                """
                INSERT INTO checkouts (checkout_id, user_name, idempotency_key, request, response, total_price)
                VALUES (\(checkout.checkoutId), \(request.userName), \(idempotencyKey), \(requestJSON), \(response), \(checkout.totalPrice.description)::numeric)
                """,
                logger: logger
            )
            return .accepted(checkout)
        }
    }

    package func knownProducts(_ ids: [UUID]) async throws -> [UUID: KnownProduct] {
        let rows = try await client.query(
            "SELECT product_id, name, price::text, deleted FROM catalog_products WHERE product_id = ANY(\(ids))",
            logger: logger
        )
        var known: [UUID: KnownProduct] = [:]
        for try await (id, name, price, deleted) in rows.decode((UUID, String, String, Bool).self) {
            known[id] = KnownProduct(product: CatalogProduct(id: id, name: name, price: Decimal(string: price) ?? 0), deleted: deleted)
        }
        return known
    }

    package func apply(_ change: CatalogChange) async throws -> Bool {
        try await client.withTransaction(logger: logger) { connection in
            // Only a newer version wins: a late or repeated event changes nothing.
            let rows = try await connection.query(
                """
                INSERT INTO catalog_products (product_id, name, price, version, deleted)
                VALUES (\(change.productId), \(change.name), \(change.price.description)::numeric, \(change.version), \(change.deleted))
                ON CONFLICT (product_id) DO UPDATE SET name = excluded.name, price = excluded.price,
                    version = excluded.version, deleted = excluded.deleted, updated_at = now()
                WHERE catalog_products.version < excluded.version
                RETURNING product_id
                """,
                logger: logger
            )
            var applied = false
            for try await _ in rows { applied = true }
            guard applied else { return false }
            if change.deleted {
                try await connection.query("UPDATE basket_items SET unavailable = true WHERE product_id = \(change.productId)", logger: logger)
            } else {
                try await connection.query(
                    """
                    UPDATE basket_items SET
                        previous_price = CASE WHEN price <> \(change.price.description)::numeric THEN coalesce(previous_price, price) ELSE previous_price END,
                        price = \(change.price.description)::numeric, product_name = \(change.name), unavailable = false
                    WHERE product_id = \(change.productId)
                    """,
                    logger: logger
                )
                // A price that went back to what the user saw is no change.
                try await connection.query(
                    "UPDATE basket_items SET previous_price = NULL WHERE product_id = \(change.productId) AND previous_price = price",
                    logger: logger
                )
            }
            return true
        }
    }

    /// Serialises writers of one user's basket until the transaction ends.
    static func lock(_ userName: String, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query("SELECT pg_advisory_xact_lock(hashtextextended(\("basket:" + userName), 0))", logger: logger)
    }

    static func basket(_ userName: String, on connection: PostgresConnection, logger: Logger) async throws -> Basket {
        let rows = try await connection.query(
            """
            SELECT product_id, product_name, quantity, color, price::text, previous_price::text, unavailable FROM basket_items
            WHERE user_name = \(userName) ORDER BY line
            """,
            logger: logger
        )
        var items: [BasketItem] = []
        for try await (productId, name, quantity, color, price, previous, unavailable) in rows.decode((UUID, String, Int, String, String, String?, Bool).self) {
            items.append(BasketItem(
                productId: productId, productName: name, quantity: quantity, color: color, price: Decimal(string: price) ?? 0,
                previousPrice: previous.flatMap { Decimal(string: $0) }, available: !unavailable
            ))
        }
        return Basket(userName: userName, items: items)
    }
}

extension CheckoutRequest {
    /// The request with the card masked, as it is kept for idempotent replays.
    var masked: CheckoutRequest {
        var copy = self
        copy.cardInfo = CardNumber.mask(cardInfo)
        return copy
    }
}
