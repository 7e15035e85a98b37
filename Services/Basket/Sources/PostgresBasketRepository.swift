import Contracts
import EventBus
import Foundation
import Logging
import PostgresNIO
import ServiceKit

/// Baskets in Postgres. A checkout holds a per-user advisory lock for its transaction, so two
/// checkouts of one basket run one after the other: the first empties it, the second finds it empty
/// (or, with the same `Idempotency-Key`, finds the first answer).
package struct PostgresBasketRepository: BasketRepository {
    let client: DatabasePool
    let logger: Logger

    package init(client: DatabasePool, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    package func find(userName: String) async throws -> Basket {
        try await client.withConnection { connection in try await Self.basket(userName, on: connection, logger: logger) }
    }

    package func replace(userName: String, items: [BasketItem]) async throws -> Basket {
        try await client.withTransaction(logger: logger) { connection in
            try await Self.lock(userName, on: connection, logger: logger)
            // One statement: lines past the new count go, the others are written over (the two sets
            // are apart, so the parts of the statement never touch the same row); every line of the
            // basket is written, so what it returns is the whole basket.
            let rows = try await connection.execute(ReplaceItems(userName: userName, items: items), logger: logger)
            var lines: [(line: Int, item: BasketItem)] = []
            for try await (productId, name, quantity, color, price, previous, unavailable, line) in rows {
                lines.append((line, try Self.item(productId, name, quantity, color, price, previous, unavailable)))
            }
            return Basket(userName: userName, items: lines.sorted { $0.line < $1.line }.map(\.item))
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

    package func knownProducts(_ ids: [UUID]) async throws -> [UUID: KnownProduct] {
        let rows = try await client.withConnection { connection in try await connection.execute(KnownProducts(ids: ids), logger: logger) }
        var known: [UUID: KnownProduct] = [:]
        for try await (id, name, price, deleted) in rows {
            known[id] = KnownProduct(product: CatalogProduct(id: id, name: name, price: try Money.parse(price, column: "catalog_products.price")), deleted: deleted)
        }
        return known
    }

    package func checkout<T: Sendable>(userName: String, _ body: @Sendable (any CheckoutStore) async throws -> T) async throws -> T {
        try await client.withOutboxTransaction(logger: logger) { connection in
            try await Self.lock(userName, on: connection, logger: logger)
            return try await body(PostgresCheckoutStore(userName: userName, connection: connection, logger: logger))
        }
    }

    package func updateCatalog<T: Sendable>(productId: UUID, _ body: @Sendable (any CatalogStore) async throws -> T) async throws -> T {
        try await client.withTransaction(logger: logger) { connection in
            try await body(PostgresCatalogStore(productId: productId, connection: connection, logger: logger))
        }
    }

    /// Serialises writers of one user's basket until the transaction ends.
    static func lock(_ userName: String, on connection: DatabaseConnection, logger: Logger) async throws {
        try await connection.lock(["basket:" + userName], logger: logger)
    }

    static func basket(_ userName: String, on connection: DatabaseConnection, logger: Logger) async throws -> Basket {
        var items: [BasketItem] = []
        for try await (productId, name, quantity, color, price, previous, unavailable) in try await connection.execute(BasketItems(userName: userName), logger: logger) {
            items.append(try item(productId, name, quantity, color, price, previous, unavailable))
        }
        return Basket(userName: userName, items: items)
    }

    /// The columns of a basket line that `item` reads, in its order.
    static let itemColumns = "product_id, product_name, quantity, color, price::text, previous_price::text, unavailable"

    static func item(
        _ productId: UUID, _ name: String, _ quantity: Int, _ color: String, _ price: String, _ previous: String?, _ unavailable: Bool
    ) throws -> BasketItem {
        BasketItem(
            productId: productId, productName: name, quantity: quantity, color: color, price: try Money.parse(price, column: "basket_items.price"),
            previousPrice: try previous.map { try Money.parse($0, column: "basket_items.previous_price") }, available: !unavailable
        )
    }
}

struct PostgresCheckoutStore: CheckoutStore {
    let userName: String
    let connection: DatabaseConnection
    let logger: Logger

    func storedCheckout(idempotencyKey: String) async throws -> StoredCheckout? {
        for try await (request, response) in try await connection.execute(StoredCheckoutRow(userName: userName, idempotencyKey: idempotencyKey), logger: logger) {
            return StoredCheckout(request: request, response: try JSONValue.decoder.decode(CheckoutBasket.self, from: Data(response.utf8)))
        }
        return nil
    }

    func basket() async throws -> Basket {
        try await PostgresBasketRepository.basket(userName, on: connection, logger: logger)
    }

    /// One statement: the event in the outbox, the basket emptied, the checkout kept for retries.
    func record(_ checkout: CheckoutBasket, event: PublishEntry, idempotencyKey: String?, request: String) async throws {
        let response = String(decoding: try JSONValue.encoder.encode(checkout), as: UTF8.self)
        _ = try await connection.execute(
            RecordCheckout(checkout: checkout, userName: userName, idempotencyKey: idempotencyKey, request: request, response: response, event: event),
            logger: logger
        )
    }
}

struct PostgresCatalogStore: CatalogStore {
    let productId: UUID
    let connection: DatabaseConnection
    let logger: Logger

    func knownVersion() async throws -> Int? {
        let rows = try await connection.query("SELECT version FROM catalog_products WHERE product_id = \(productId) FOR UPDATE", logger: logger)
        for try await version in rows.decode(Int.self) { return version }
        return nil
    }

    func saveKnown(_ change: CatalogChange) async throws {
        try await connection.query(
            """
            INSERT INTO catalog_products (product_id, name, price, version, deleted)
            VALUES (\(change.productId), \(change.name), \(change.price.description)::numeric, \(change.version), \(change.deleted))
            ON CONFLICT (product_id) DO UPDATE SET name = excluded.name, price = excluded.price,
                version = excluded.version, deleted = excluded.deleted, updated_at = now()
            """,
            logger: logger
        )
    }

    func lines() async throws -> [BasketLine] {
        let rows = try await connection.query(
            """
            SELECT user_name, line, product_name, quantity, color, price::text, previous_price::text, unavailable FROM basket_items
            WHERE product_id = \(productId) ORDER BY user_name, line FOR UPDATE
            """,
            logger: logger
        )
        var lines: [BasketLine] = []
        for try await (userName, line, name, quantity, color, price, previous, unavailable) in rows.decode((String, Int, String, Int, String, String, String?, Bool).self) {
            lines.append(BasketLine(userName: userName, line: line, item: BasketItem(
                productId: productId, productName: name, quantity: quantity, color: color, price: try Money.parse(price, column: "basket_items.price"),
                previousPrice: try previous.map { try Money.parse($0, column: "basket_items.previous_price") }, available: !unavailable
            )))
        }
        return lines
    }

    /// One statement for all lines (arrays unnested side by side).
    func save(_ lines: [BasketLine]) async throws {
        guard !lines.isEmpty else { return }
        try await connection.query(
            """
            UPDATE basket_items AS b SET product_name = u.name, price = u.price::numeric,
                previous_price = NULLIF(u.previous, '')::numeric, unavailable = NOT u.available
            FROM unnest(\(lines.map(\.userName))::text[], \(lines.map(\.line))::int[], \(lines.map(\.item.productName))::text[],
                        \(lines.map(\.item.price.description))::text[], \(lines.map { $0.item.previousPrice?.description ?? "" })::text[],
                        \(lines.map(\.item.available))::bool[])
                AS u(user_name, line, name, price, previous, available)
            WHERE b.user_name = u.user_name AND b.line = u.line AND b.product_id = \(productId)
            """,
            logger: logger
        )
    }
}

// MARK: The hot statements, prepared once per connection

/// One user's basket lines, in order.
struct BasketItems: PostgresPreparedStatement {
    static let name = "basket_items_v1"
    static let sql = "SELECT \(PostgresBasketRepository.itemColumns) FROM basket_items WHERE user_name = $1 ORDER BY line"
    static let bindingDataTypes: [PostgresDataType] = [.text]
    typealias Row = (UUID, String, Int, String, String, String?, Bool)
    let userName: String

    func makeBindings() throws -> PostgresBindings { try PostgresBindings(binding: userName) }
    func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(Row.self) }
}

/// A basket's lines written over (see `replace`); returns every line with its position.
struct ReplaceItems: PostgresPreparedStatement {
    static let name = "basket_replace_v1"
    static let sql = """
        WITH removed AS (DELETE FROM basket_items WHERE user_name = $1 AND line >= $2)
        INSERT INTO basket_items (user_name, line, product_id, product_name, quantity, color, price)
        SELECT $1, i.n - 1, i.product_id, i.product_name, i.quantity, i.color, i.price::numeric
        FROM unnest($3::uuid[], $4::text[], $5::int[], $6::text[], $7::text[]) WITH ORDINALITY AS i(product_id, product_name, quantity, color, price, n)
        ON CONFLICT (user_name, line) DO UPDATE SET product_id = excluded.product_id, product_name = excluded.product_name,
            quantity = excluded.quantity, color = excluded.color, price = excluded.price, previous_price = NULL, unavailable = false
        RETURNING \(PostgresBasketRepository.itemColumns), line
        """
    static let bindingDataTypes: [PostgresDataType] = [.text, .int8, .uuidArray, .textArray, .int8Array, .textArray, .textArray]
    typealias Row = (UUID, String, Int, String, String, String?, Bool, Int)
    let userName: String
    let items: [BasketItem]

    func makeBindings() throws -> PostgresBindings {
        try PostgresBindings(binding: userName, items.count, items.map(\.productId), items.map(\.productName), items.map(\.quantity),
                             items.map(\.color), items.map(\.price.description))
    }

    func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(Row.self) }
}

/// What the catalog events told basket about these products.
struct KnownProducts: PostgresPreparedStatement {
    static let name = "basket_known_products_v1"
    static let sql = "SELECT product_id, name, price::text, deleted FROM catalog_products WHERE product_id = ANY($1::uuid[])"
    static let bindingDataTypes: [PostgresDataType] = [.uuidArray]
    typealias Row = (UUID, String, String, Bool)
    let ids: [UUID]

    func makeBindings() throws -> PostgresBindings { try PostgresBindings(binding: ids) }
    func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(Row.self) }
}

/// The checkout a user made with this `Idempotency-Key`, if any.
struct StoredCheckoutRow: PostgresPreparedStatement {
    static let name = "basket_stored_checkout_v1"
    static let sql = "SELECT request, response FROM checkouts WHERE user_name = $1 AND idempotency_key = $2"
    static let bindingDataTypes: [PostgresDataType] = [.text, .text]
    typealias Row = (String, String)
    let userName: String
    let idempotencyKey: String

    func makeBindings() throws -> PostgresBindings { try PostgresBindings(binding: userName, idempotencyKey) }
    func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(Row.self) }
}

/// The checkout's event in the outbox, the basket emptied and the checkout kept for retries.
struct RecordCheckout: PostgresPreparedStatement {
    static let name = "basket_record_checkout_v2"
    static let sql = """
        WITH \(Outbox.insertSQL(as: "events", firstParameter: 7)),
        emptied AS (DELETE FROM basket_items WHERE user_name = $2)
        INSERT INTO checkouts (checkout_id, user_name, idempotency_key, request, response, total_price)
        VALUES ($1, $2, $3::text, $4, $5, $6::numeric)
        """
    static let bindingDataTypes: [PostgresDataType] = [.uuid, .text, .text, .text, .text, .text] + Outbox.bindingDataTypes
    typealias Row = ()
    let checkout: CheckoutBasket
    let userName: String
    let idempotencyKey: String?
    let request: String
    let response: String
    let event: PublishEntry

    func makeBindings() throws -> PostgresBindings {
        var bindings = try PostgresBindings(binding: checkout.checkoutId, userName)
        bindings.append(idempotencyKey)
        try bindings.append(request)
        try bindings.append(response)
        try bindings.append(checkout.totalPrice.description)
        try Outbox.appendBindings([event], to: &bindings)
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws {}
}
