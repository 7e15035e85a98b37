import Contracts
import EventBus
import Foundation
import NIOCore
import Logging
import PostgresNIO
import ServiceKit

/// The catalog in Postgres. Prices travel as text and are cast to `NUMERIC` by the server, so no
/// binary conversion can round them. Every change records its catalog event in the outbox, in the
/// same transaction.
package struct PostgresProductRepository: ProductRepository {
    let client: DatabasePool
    let logger: Logger
    /// The answers of `GET /product/{id}` that every change here drops after its commit.
    let cache: ProductReadCache?

    package init(client: DatabasePool, logger: Logger, cache: ProductReadCache? = nil) {
        self.client = client
        self.logger = logger
        self.cache = cache
    }

    package func create(_ input: ProductInput) async throws -> Product {
        // Nothing kept by id changes; the lists and searches may.
        try await cache.dropping({ [] }) { try await createTransaction(input) }
    }

    private func createTransaction(_ input: ProductInput) async throws -> Product {
        try await client.withOutboxTransaction(logger: logger) { connection in
            let rows = try await connection.query(
                """
                INSERT INTO products (id, name, description, image_file, price, category, stock)
                VALUES (\(UUID.random()), \(input.name), \(input.description ?? ""), \(input.imageFile ?? ""),
                        \(input.price.description)::numeric, \(input.category), \(input.stock ?? 0))
                RETURNING \(unescaped: Self.columns)
                """,
                logger: logger
            )
            guard let product = try await Self.decode(rows).first else { throw PostgresProductRepositoryError.noRowReturned }
            try await record(.created(product), on: connection)
            return product
        }
    }

    /// Writes the catalog event of `change`, if it has one (`CatalogRules`), to the outbox on the caller's transaction.
    private func record(_ change: CatalogRules.Change, on connection: DatabaseConnection) async throws {
        guard let entry = try CatalogRules.event(for: change) else { return }
        try await Outbox.enqueue(entry, on: connection, logger: logger)
    }

    /// The hot read: a prepared statement (each connection parses and plans it once, then only binds).
    package func find(id: UUID) async throws -> Product? {
        for try await product in try await client.execute(ProductByID(id: id), logger: logger) { return product }
        return nil
    }

    struct ProductByID: PostgresPreparedStatement {
        static let name = "product_by_id"
        static let sql = "SELECT \(PostgresProductRepository.columns) FROM products WHERE id = $1"
        static let bindingDataTypes: [PostgresDataType] = [.uuid]
        typealias Row = Product
        let id: UUID

        func makeBindings() throws -> PostgresBindings { try PostgresBindings(binding: id) }

        func decodeRow(_ row: PostgresRow) throws -> Product {
            try PostgresProductRepository.product(from: row)
        }
    }

    package func list(_ filter: ProductFilter, after cursor: ProductCursor?, limit: Int) async throws -> [Product] {
        var sql = SQLBuilder("SELECT \(Self.columns) FROM products WHERE true")
        Self.restrict(&sql, to: filter)
        if let cursor {
            sql.append(" AND (name, id) > (\(sql.bind(cursor.name)), \(sql.bind(cursor.id)))")
        }
        sql.append(" ORDER BY name, id LIMIT \(sql.bind(limit))")
        return try await Self.decode(try await client.query(sql.query, logger: logger))
    }

    /// The filters other than the words, as `AND` conditions on `products`: only those given, so that
    /// the plan (a generic one, see `SQLBuilder`) is made for them.
    private static func restrict(_ sql: inout SQLBuilder, to filter: ProductFilter, withCategory: Bool = true) {
        if withCategory, let category = filter.category { sql.append(" AND category = \(sql.bind(category))") }
        if let ids = filter.ids { sql.append(" AND id = ANY(\(sql.bind(ids)))") }
        if let minPrice = filter.minPrice { sql.append(" AND price >= \(sql.bind(minPrice.description))::numeric") }
        if let maxPrice = filter.maxPrice { sql.append(" AND price <= \(sql.bind(maxPrice.description))::numeric") }
        if filter.inStock { sql.append(" AND stock > 0") }
    }

    /// The words become a `tsquery` in the database (`product_search_query`, see `ProductMigrations`),
    /// once per statement (`MATERIALIZED`), ranked by `ts_rank` over the weighted `search` column.
    package func search(_ filter: ProductFilter, after cursor: SearchCursor?, limit: Int) async throws -> [RankedProduct] {
        var sql = SQLBuilder()
        sql.append(
            """
            WITH query AS MATERIALIZED (SELECT product_search_query(\(sql.bind(filter.words))::text[]) AS q)
            SELECT \(Self.columns), ts_rank(search, query.q)::float4 AS rank FROM products, query
            WHERE search @@ query.q
            """
        )
        Self.restrict(&sql, to: filter)
        if let cursor {
            let rank = sql.bind(cursor.rank)
            sql.append(
                " AND (ts_rank(search, query.q)::float4 < \(rank)::float4 OR (ts_rank(search, query.q)::float4 = \(rank)::float4"
                    + " AND (name, id) > (\(sql.bind(cursor.after.name)), \(sql.bind(cursor.after.id)))))"
            )
        }
        sql.append(" ORDER BY rank DESC, name, id LIMIT \(sql.bind(limit))")
        var found: [RankedProduct] = []
        for try await row in try await client.query(sql.query, logger: logger) {
            let product = try Self.product(from: row)
            let rank = try row.decode((UUID, String, String, String, String, String, Int, Int, Date, Date, String?, Float).self).11
            found.append(RankedProduct(product: product, rank: rank))
        }
        return found
    }

    /// Category counts over every category (the filter's own category left aside, so the others can
    /// be offered), and the price range within the filter.
    package func facets(_ filter: ProductFilter) async throws -> ProductFacets {
        var sql = SQLBuilder()
        if filter.searching {
            sql.append(
                """
                WITH query AS MATERIALIZED (SELECT product_search_query(\(sql.bind(filter.words))::text[]) AS q), found AS (
                    SELECT category, price FROM products, query WHERE search @@ query.q
                """
            )
        } else {
            sql.append("WITH found AS (SELECT category, price FROM products WHERE true")
        }
        Self.restrict(&sql, to: filter, withCategory: false)
        sql.append(
            """
            )
            SELECT category, count(*)::bigint, min(price)::text, max(price)::text FROM found GROUP BY category
            """
        )
        var categories: [ProductFacets.Category] = []
        var low: Decimal?
        var high: Decimal?
        for try await (category, count, min, max) in try await client.query(sql.query, logger: logger).decode((String, Int, String, String).self) {
            categories.append(ProductFacets.Category(name: category, count: count))
            guard filter.category == nil || filter.category == category else { continue }
            let (categoryLow, categoryHigh) = (try Money.parse(min, column: "min(price)"), try Money.parse(max, column: "max(price)"))
            low = Swift.min(low ?? categoryLow, categoryLow)
            high = Swift.max(high ?? categoryHigh, categoryHigh)
        }
        categories.sort { ($1.count, $0.name) < ($0.count, $1.name) }
        return ProductFacets(categories: categories, price: ProductFacets.PriceRange(min: low, max: high))
    }

    package func update(id: UUID, with input: ProductInput, expected: ProductTag?) async throws -> ProductUpdate {
        try await cache.dropping({ [id] }) { try await updateTransaction(id: id, with: input, expected: expected) }
    }

    /// The row is locked first: `If-Match` and `stockDelta` are decided on the stock as it is at that
    /// moment, which no reservation can change before the commit.
    private func updateTransaction(id: UUID, with input: ProductInput, expected: ProductTag?) async throws -> ProductUpdate {
        try await client.withOutboxTransaction(logger: logger) { connection in
            let before = try await Self.decode(try await connection.query(
                "SELECT \(unescaped: Self.columns) FROM products WHERE id = \(id) FOR UPDATE", logger: logger
            )).first
            guard let before else { return .notFound }
            let decision = try CatalogRules.edit(before, with: input, expected: expected)
            guard case .updated(let after) = decision else { return decision }
            let rows = try await connection.query(
                """
                UPDATE products SET
                    name = \(after.name), description = \(after.description), image_file = \(after.imageFile),
                    price = \(after.price.description)::numeric, category = \(after.category),
                    stock = \(after.stock), version = \(after.version), updated_at = now()
                WHERE id = \(id)
                RETURNING \(unescaped: Self.columns)
                """,
                logger: logger
            )
            guard let product = try await Self.decode(rows).first else { return .notFound }
            try await record(.edited(before: before, after: product), on: connection)
            return .updated(product)
        }
    }

    package func setImage(_ image: ProductImage, of id: UUID) async throws -> Product? {
        try await cache.dropping({ [id] }) {
            try await client.withTransaction(logger: logger) { connection in
                let rows = try await connection.query(
                    "UPDATE products SET image_etag = \(image.etag), updated_at = now() WHERE id = \(id) RETURNING \(unescaped: Self.columns)", logger: logger
                )
                guard let product = try await Self.decode(rows).first else { return nil }
                try await connection.query(
                    """
                    INSERT INTO product_images (product_id, content_type, data, etag, width, height)
                    VALUES (\(id), \(image.format.contentType), \(ByteBuffer(data: image.data)), \(image.etag), \(image.width), \(image.height))
                    ON CONFLICT (product_id) DO UPDATE SET content_type = excluded.content_type, data = excluded.data, etag = excluded.etag,
                        width = excluded.width, height = excluded.height, updated_at = now()
                    """,
                    logger: logger
                )
                return product
            }
        }
    }

    package func image(of id: UUID) async throws -> StoredImage? {
        let rows = try await client.query("SELECT content_type, data, etag FROM product_images WHERE product_id = \(id)", logger: logger)
        for try await (contentType, data, etag) in rows.decode((String, ByteBuffer, String).self) {
            return StoredImage(contentType: contentType, data: data, etag: etag)
        }
        return nil
    }

    package func delete(id: UUID) async throws -> Bool {
        try await cache.dropping({ [id] }) { try await deleteTransaction(id: id) }
    }

    private func deleteTransaction(id: UUID) async throws -> Bool {
        try await client.withOutboxTransaction(logger: logger) { connection in
            let rows = try await connection.query("DELETE FROM products WHERE id = \(id) RETURNING \(unescaped: Self.columns)", logger: logger)
            guard let product = try await Self.decode(rows).first else { return false }
            try await record(.deleted(product), on: connection)
            return true
        }
    }

    package func count() async throws -> Int {
        let rows = try await client.query("SELECT count(*)::bigint FROM products", logger: logger)
        for try await count in rows.decode(Int.self) { return count }
        return 0
    }

    static let columns = "id, name, description, image_file, price::text, category, stock, version, created_at, updated_at, image_etag"

    static func decode<Rows: AsyncSequence>(_ rows: Rows) async throws -> [Product] where Rows.Element == PostgresRow {
        var products: [Product] = []
        for try await row in rows { products.append(try product(from: row)) }
        return products
    }

    /// One row of `columns`.
    static func product(from row: PostgresRow) throws -> Product {
        let (id, name, description, imageFile, price, category, stock, version, createdAt, updatedAt, imageTag) =
            try row.decode((UUID, String, String, String, String, String, Int, Int, Date, Date, String?).self)
        return Product(
            id: id, name: name, description: description, imageFile: imageFile, price: try Money.parse(price, column: "products.price"),
            category: category, stock: stock, version: version, createdAt: createdAt, updatedAt: updatedAt,
            imageUrl: imageTag.map { ProductImage.url(of: id, tag: $0) }
        )
    }
}

enum PostgresProductRepositoryError: Error {
    case noRowReturned
}

extension PostgresProductRepository: StockRepository {
    /// Decides on a plain read of the stock and takes the product rows only in the transaction's last
    /// statement (a guarded `UPDATE`, rows locked in id order), so an order holds the hot rows of a
    /// popular product for one round trip, not for the whole command. When stock ran out meanwhile
    /// the transaction is rolled back and the command decided again with the rows locked first.
    package func withReservation<T: Sendable>(orderId: UUID, productIds: [UUID], userName: String?, _ body: @Sendable (any ReservationStore) async throws -> T) async throws -> T {
        do {
            return try await reservationTransaction(orderId: orderId, productIds: productIds, userName: userName, lockProducts: false, body)
        } catch is StockChangedMeanwhile {
            return try await reservationTransaction(orderId: orderId, productIds: productIds, userName: userName, lockProducts: true, body)
        }
    }

    private func reservationTransaction<T: Sendable>(
        orderId: UUID, productIds: [UUID], userName: String?, lockProducts: Bool, _ body: @Sendable (any ReservationStore) async throws -> T
    ) async throws -> T {
        // A release changes the products of the order's record, which only the store reads.
        let changed = cache == nil ? nil : ChangedProducts()
        return try await cache.dropping({ changed?.all ?? [] }) {
            try await client.withOutboxTransaction(logger: logger) { connection in
                // One command of an order at a time; with a cap, one reservation of a customer at a time too (in
                // the same round trip), so two orders of theirs cannot both pass it.
                try await connection.lock(["reservation:" + orderId.uuidString] + (userName.map { ["customer:" + $0] } ?? []), logger: logger)
                return try await body(PostgresReservationStore(
                    orderId: orderId, productIds: productIds, userName: userName, lockProducts: lockProducts, connection: connection, logger: logger, changed: changed
                ))
            }
        }
    }

    package func reservation(orderId: UUID) async throws -> Reservation? {
        try await client.withConnection { connection in
            try await PostgresReservationStore(orderId: orderId, productIds: [], userName: nil, lockProducts: false, connection: connection, logger: logger).existing()
        }
    }
}

/// The stock a decision was made on fell below what it takes, between the read and the update.
struct StockChangedMeanwhile: Error {}

struct PostgresReservationStore: ReservationStore {
    let orderId: UUID
    let productIds: [UUID]
    /// The customer, kept with a new reservation (for the cap on what one customer holds).
    let userName: String?
    /// Lock the products when reading them (the retry after `StockChangedMeanwhile`).
    let lockProducts: Bool
    let connection: DatabaseConnection
    let logger: Logger
    /// Where `save` notes the products whose stock it changes (nil without a cache).
    var changed: ChangedProducts? = nil

    func existing() async throws -> Reservation? {
        let rows = try await connection.query("SELECT status, reason, lines FROM stock_reservations WHERE order_id = \(orderId)", logger: logger)
        for try await (status, reason, lines) in rows.decode((String, String?, String).self) {
            return try Self.reservation(orderId: orderId, status: status, reason: reason, lines: lines)
        }
        return nil
    }

    static func reservation(orderId: UUID, status: String, reason: String?, lines: String) throws -> Reservation {
        guard let status = Reservation.Status(rawValue: status) else { throw UnreadableValue(column: "stock_reservations.status", value: status) }
        return Reservation(orderId: orderId, status: status, reason: reason, lines: try JSONValue.decoder.decode([ReserveStock.Line].self, from: Data(lines.utf8)))
    }

    func available() async throws -> [UUID: StockLevel] {
        let ids = Array(Set(productIds)).sorted { $0.uuidString < $1.uuidString }
        let rows = lockProducts
            ? try await connection.query("SELECT id, stock, price::text FROM products WHERE id = ANY(\(ids)) ORDER BY id FOR UPDATE", logger: logger)
            : try await connection.query("SELECT id, stock, price::text FROM products WHERE id = ANY(\(ids))", logger: logger)
        var stock: [UUID: StockLevel] = [:]
        for try await (id, units, price) in rows.decode((UUID, Int, String).self) {
            stock[id] = StockLevel(stock: units, price: try Money.parse(price, column: "products.price"))
        }
        return stock
    }

    func held(by userName: String) async throws -> [UUID: Int] {
        var held: [UUID: Int] = [:]
        for try await (id, units) in try await connection.execute(HeldByCustomer(userName: userName, orderId: orderId, productIds: Array(Set(productIds))), logger: logger) {
            held[id] = units
        }
        return held
    }

    /// One statement on a plain read; the retry that locks the products reads them apart (in id order).
    func existingAndAvailable() async throws -> (existing: Reservation?, available: [UUID: StockLevel]) {
        if lockProducts { return (try await existing(), try await available()) }
        var existing: Reservation?
        var stock: [UUID: StockLevel] = [:]
        for try await (status, reason, lines, id, units, price) in try await connection.execute(
            ReservationAndStock(orderId: orderId, productIds: Array(Set(productIds))), logger: logger
        ) {
            if existing == nil, let status, let lines { existing = try Self.reservation(orderId: orderId, status: status, reason: reason, lines: lines) }
            if let id, let units, let price { stock[id] = StockLevel(stock: units, price: try Money.parse(price, column: "products.price")) }
        }
        return (existing, stock)
    }

    /// One statement (`SaveReservation`): the record, the reply in the outbox and, last, the stock;
    /// `StockChangedMeanwhile` when a decrease did not apply.
    func save(_ reservation: Reservation?, stockChanges: [UUID: Int], reply: PublishEntry?) async throws {
        let changes = stockChanges.sorted { $0.key.uuidString < $1.key.uuidString }
        guard reservation != nil || reply != nil || !changes.isEmpty else { return }
        changed?.insert(changes.map(\.key))
        // The prices the decision checked (a reservation's lines); none for releases.
        let prices = Dictionary((reservation?.status == .reserved ? reservation!.lines : []).compactMap { line in line.price.map { (line.productId, $0.description) } }, uniquingKeysWith: { a, _ in a })
        let statement = SaveReservation(
            orderId: orderId, reservation: reservation, userName: userName,
            changes: changes.map(\.key), amounts: changes.map(\.value), prices: changes.map { prices[$0.key] ?? "" },
            replies: reply.map { [$0] } ?? []
        )
        var decreased = 0
        for try await count in try await connection.execute(statement, logger: logger) { decreased = count }
        if decreased < changes.filter({ $0.value < 0 }).count { throw StockChangedMeanwhile() }
    }
}

/// `save` in one prepared statement: the record, the reply in the outbox and, last, the stock. The
/// products' rows are locked in id order (no deadlock between two orders) and stay locked only until
/// the commit; a decrease applies only while the stock covers it and the price is still the one the
/// order was placed at, both re-checked on the newest row (a price change between the decision's plain
/// read and this statement makes the caller decide again on locked rows: `PriceChanged`). Released
/// stock goes back even to a product whose row was deleted meanwhile: nothing to give back then. Each
/// part is empty when its parameters are (no record: a NULL status; no reply, no changes: empty arrays),
/// so one text serves every case and is planned once per connection.
struct SaveReservation: PostgresPreparedStatement {
    static let name = "product_save_reservation_v1"
    static let sql = """
        WITH reservation AS (
            INSERT INTO stock_reservations (order_id, status, reason, lines, user_name)
            SELECT $1, $2::text, $3::text, $4::text, $5::text WHERE $2::text IS NOT NULL
            ON CONFLICT (order_id) DO UPDATE SET status = excluded.status, reason = excluded.reason, lines = excluded.lines, updated_at = now()
        ), \(Outbox.insertSQL(as: "events", firstParameter: 9)),
        c AS (SELECT * FROM unnest($6::uuid[], $7::int8[], $8::text[]) AS c(id, change, price)),
        locked AS (SELECT p.id FROM products p JOIN c ON c.id = p.id ORDER BY p.id FOR UPDATE OF p),
        changed AS (
            UPDATE products AS p SET stock = p.stock + c.change, updated_at = now()
            FROM c WHERE p.id = c.id AND p.id IN (SELECT id FROM locked)
                AND (c.change >= 0 OR (p.stock + c.change >= 0 AND (c.price = '' OR p.price = c.price::numeric)))
            RETURNING c.change < 0 AS decreased
        )
        SELECT count(*) FILTER (WHERE decreased)::int FROM changed
        """
    static let bindingDataTypes: [PostgresDataType] = [.uuid, .text, .text, .text, .text, .uuidArray, .int8Array, .textArray] + Outbox.bindingDataTypes
    typealias Row = Int
    let orderId: UUID
    let reservation: Reservation?
    let userName: String?
    let changes: [UUID]
    let amounts: [Int]
    let prices: [String]
    let replies: [PublishEntry]

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 8 + Outbox.bindingDataTypes.count)
        bindings.append(orderId)
        bindings.append(reservation?.status.rawValue)
        bindings.append(reservation?.reason)
        bindings.append(try reservation.map { String(decoding: try JSONValue.encoder.encode($0.lines), as: UTF8.self) })
        bindings.append(userName)
        bindings.append(changes)
        bindings.append(amounts)
        bindings.append(prices)
        try Outbox.appendBindings(replies, to: &bindings)
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> Int { try row.decode(Int.self) }
}

/// The units one customer holds in other unpaid orders, per product (prepared once per connection).
struct HeldByCustomer: PostgresPreparedStatement {
    static let name = "product_held_by_customer_v1"
    static let sql = """
        SELECT l."productId", sum(l.quantity)::bigint
        FROM stock_reservations r, jsonb_to_recordset(r.lines::jsonb) AS l("productId" uuid, quantity int)
        WHERE r.user_name = $1 AND r.status = 'reserved' AND r.order_id <> $2 AND l."productId" = ANY($3::uuid[])
        GROUP BY 1
        """
    static let bindingDataTypes: [PostgresDataType] = [.text, .uuid, .uuidArray]
    typealias Row = (UUID, Int)
    let userName: String
    let orderId: UUID
    let productIds: [UUID]

    func makeBindings() throws -> PostgresBindings { try PostgresBindings(binding: userName, orderId, productIds) }
    func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(Row.self) }
}

/// An order's reservation, if any, and the products' stock and prices, on a plain read (prepared
/// once per connection).
struct ReservationAndStock: PostgresPreparedStatement {
    static let name = "product_reservation_and_stock_v1"
    static let sql = """
        SELECT r.status, r.reason, r.lines, p.id, p.stock, p.price::text
        FROM (SELECT 1) AS one
        LEFT JOIN stock_reservations r ON r.order_id = $1
        LEFT JOIN products p ON p.id = ANY($2::uuid[])
        """
    static let bindingDataTypes: [PostgresDataType] = [.uuid, .uuidArray]
    typealias Row = (String?, String?, String?, UUID?, Int?, String?)
    let orderId: UUID
    let productIds: [UUID]

    func makeBindings() throws -> PostgresBindings { try PostgresBindings(binding: orderId, productIds) }
    func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(Row.self) }
}
