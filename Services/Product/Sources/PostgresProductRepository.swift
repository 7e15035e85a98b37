import Foundation
import Logging
import PostgresNIO
import ServiceKit

/// The catalog in Postgres. Prices travel as text and are cast to `NUMERIC` by the server, so no
/// binary conversion can round them.
package struct PostgresProductRepository: ProductRepository {
    let client: PostgresClient
    let logger: Logger

    package init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    package func create(_ input: ProductInput) async throws -> Product {
        let rows = try await client.query(
            """
            INSERT INTO products (id, name, description, image_file, price, category)
            VALUES (\(UUID()), \(input.name), \(input.description ?? ""), \(input.imageFile ?? ""),
                    \(input.price.description)::numeric, \(input.category))
            RETURNING \(unescaped: Self.columns)
            """,
            logger: logger
        )
        guard let product = try await Self.decode(rows).first else { throw PostgresProductRepositoryError.noRowReturned }
        return product
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
        let rows = try await client.query(
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
        return try await Self.decode(rows).first
    }

    package func delete(id: UUID) async throws -> Bool {
        let rows = try await client.query("DELETE FROM products WHERE id = \(id) RETURNING id", logger: logger)
        for try await _ in rows { return true }
        return false
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
            guard let price = Decimal(string: price) else { throw PostgresProductRepositoryError.badPrice(price) }
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
    case badPrice(String)
}
