import Contracts
import EventBus
import Foundation
import Logging
import PostgresNIO
import ServiceKit

/// The catalog in Postgres. Prices travel as text and are cast to `NUMERIC` by the server, so no
/// binary conversion can round them. Every change records its catalog event in the outbox, in the
/// same transaction.
package struct PostgresProductRepository: ProductRepository {
    let client: PostgresClient
    let logger: Logger
    let eventBusName: String

    package init(client: PostgresClient, logger: Logger, eventBusName: String = BusTopology.defaultEventBusName) {
        self.client = client
        self.logger = logger
        self.eventBusName = eventBusName
    }

    package func create(_ input: ProductInput) async throws -> Product {
        try await client.withTransaction(logger: logger) { connection in
            let rows = try await connection.query(
                """
                INSERT INTO products (id, name, description, image_file, price, category)
                VALUES (\(UUID()), \(input.name), \(input.description ?? ""), \(input.imageFile ?? ""),
                        \(input.price.description)::numeric, \(input.category))
                RETURNING \(unescaped: Self.columns)
                """,
                logger: logger
            )
            guard let product = try await Self.decode(rows).first else { throw PostgresProductRepositoryError.noRowReturned }
            try await record(ShopEvents.productCreated, product, oldPrice: nil, on: connection)
            return product
        }
    }

    /// Writes a catalog event to the outbox on the caller's transaction.
    private func record(_ type: EventType<ProductChange>, _ product: Product, oldPrice: Decimal?, on connection: PostgresConnection) async throws {
        let change = ProductChange(
            productId: product.id, name: product.name, category: product.category, price: product.price,
            oldPrice: oldPrice, version: product.version
        )
        try await Outbox.enqueue(try type.entry(change, eventBusName: eventBusName), on: connection, logger: logger)
    }

    package func find(id: UUID) async throws -> Product? {
        let rows = try await client.query(
            "SELECT \(unescaped: Self.columns) FROM products WHERE id = \(id)",
            logger: logger
        )
        return try await Self.decode(rows).first
    }

    package func list(category: String?, after cursor: ProductCursor?, limit: Int) async throws -> [Product] {
        // NULL parameters switch the filters off, so one statement serves every combination.
        let rows = try await client.query(
            """
            SELECT \(unescaped: Self.columns) FROM products
            WHERE (\(category)::text IS NULL OR category = \(category))
              AND (\(cursor?.name)::text IS NULL OR (name, id) > (\(cursor?.name), \(cursor?.id)))
            ORDER BY name, id
            LIMIT \(limit)
            """,
            logger: logger
        )
        return try await Self.decode(rows)
    }

    package func update(id: UUID, with input: ProductInput) async throws -> Product? {
        try await client.withTransaction(logger: logger) { connection in
            let before = try await connection.query(
                "SELECT price::text FROM products WHERE id = \(id) FOR UPDATE", logger: logger
            )
            var oldPrice: Decimal?
            for try await price in before.decode(String.self) { oldPrice = try Money.parse(price, column: "products.price") }
            guard let oldPrice else { return nil }
            let rows = try await connection.query(
                """
                UPDATE products SET
                    name = \(input.name), description = \(input.description ?? ""), image_file = \(input.imageFile ?? ""),
                    price = \(input.price.description)::numeric, category = \(input.category),
                    version = version + 1, updated_at = now()
                WHERE id = \(id)
                RETURNING \(unescaped: Self.columns)
                """,
                logger: logger
            )
            guard let product = try await Self.decode(rows).first else { return nil }
            if product.price != oldPrice {
                try await record(ShopEvents.productPriceChanged, product, oldPrice: oldPrice, on: connection)
            }
            return product
        }
    }

    package func delete(id: UUID) async throws -> Bool {
        try await client.withTransaction(logger: logger) { connection in
            let rows = try await connection.query("DELETE FROM products WHERE id = \(id) RETURNING \(unescaped: Self.columns)", logger: logger)
            guard var product = try await Self.decode(rows).first else { return false }
            // The deletion is one more change of the product: it outranks every earlier event.
            product.version += 1
            try await record(ShopEvents.productDeleted, product, oldPrice: nil, on: connection)
            return true
        }
    }

    package func count() async throws -> Int {
        let rows = try await client.query("SELECT count(*)::bigint FROM products", logger: logger)
        for try await count in rows.decode(Int.self) { return count }
        return 0
    }

    static let columns = "id, name, description, image_file, price::text, category, version, created_at, updated_at"

    static func decode(_ rows: PostgresRowSequence) async throws -> [Product] {
        var products: [Product] = []
        for try await (id, name, description, imageFile, price, category, version, createdAt, updatedAt)
            in rows.decode((UUID, String, String, String, String, String, Int, Date, Date).self)
        {
            let price = try Money.parse(price, column: "products.price")
            products.append(Product(
                id: id, name: name, description: description, imageFile: imageFile, price: price,
                category: category, version: version, createdAt: createdAt, updatedAt: updatedAt
            ))
        }
        return products
    }
}

enum PostgresProductRepositoryError: Error {
    case noRowReturned
}
