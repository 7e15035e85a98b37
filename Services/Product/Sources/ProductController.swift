import Contracts
import Foundation
import Hummingbird
import NIOCore
import ServiceKit

/// The catalog's HTTP API: reads are public, writes need the admin group (checked here, from the
/// verified token, whatever the gateway decided).
package struct ProductController<Repository: ProductRepository> {
    let repository: Repository
    /// Answers of `GET /product/{id}`; the repository drops what it changes (nil: every read goes to it).
    let cache: ProductReadCache?

    package init(repository: Repository, cache: ProductReadCache? = nil) {
        self.repository = repository
        self.cache = cache
    }

    static var defaultPageSize: Int { 50 }
    static var maximumPageSize: Int { 200 }

    package func addRoutes(to group: RouterGroup<AppRequestContext>) {
        group
            .get(use: list)
            .get("facets", use: facets)
            .get(":id", use: get)
            .put(":id/image", use: putImage)
            .get(":id/image", use: getImage)
            .post(use: create)
            .put(":id", use: update)
            .delete(":id", use: delete)
    }

    /// The catalog by name, or (with `q`) the products matching the words, best first; both filtered
    /// by `category`, `ids`, `minPrice`, `maxPrice` and `inStock`. Kept in the cache (when there is
    /// one) until a change of the catalog.
    @Sendable func list(_ request: Request, context: AppRequestContext) async throws -> Response {
        let filter = try Self.filter(request)
        let repository = self.repository
        guard filter.searching else {
            let page = try PageRequest<ProductCursor>(request, defaultLimit: Self.defaultPageSize, maximumLimit: Self.maximumPageSize)
            return try await cached(.init(.list, filter, cursor: page.cursor?.cursor, limit: page.limit)) {
                let products = try await repository.list(filter, after: page.cursor, limit: page.fetchLimit)
                return try JSONOutput.body(page.page(products) { ProductCursor(name: $0.name, id: $0.id) })
            }
        }
        let page = try PageRequest<SearchCursor>(request, defaultLimit: Self.defaultPageSize, maximumLimit: Self.maximumPageSize)
        return try await cached(.init(.list, filter, cursor: page.cursor?.cursor, limit: page.limit)) {
            let found = page.page(try await repository.search(filter, after: page.cursor, limit: page.fetchLimit)) {
                SearchCursor(rank: $0.rank, name: $0.product.name, id: $0.product.id)
            }
            return try JSONOutput.body(Page(items: found.items.map(\.product), nextCursor: found.nextCursor))
        }
    }

    /// `GET /product/facets`: category counts and the price range for the same filters.
    @Sendable func facets(_ request: Request, context: AppRequestContext) async throws -> Response {
        let filter = try Self.filter(request)
        let repository = self.repository
        return try await cached(.init(.facets, filter)) { try JSONOutput.body(try await repository.facets(filter)) }
    }

    /// `read()`'s JSON, through the cache when there is one.
    private func cached(_ key: ProductReadCache.ListKey, _ read: @escaping @Sendable () async throws -> ByteBuffer) async throws -> Response {
        guard let cache else { return JSONOutput.response(json: try await read()) }
        return JSONOutput.response(json: try await cache.list(key, load: read))
    }

    static func filter(_ request: Request) throws -> ProductFilter {
        let parameters = FormQuery(request.uri.query)
        var query: [String: String] = [:]
        for name in ["q", "category", "minPrice", "maxPrice", "inStock"] {
            if let value = parameters[name] { query[name] = value }
        }
        var filter = try ProductFilter(query: query)
        filter.ids = try parameters["ids"].map { try Self.ids($0) }
        return filter
    }

    /// The product with its `ETag` (`"<version>.<stock>"`: it changes with every edit and every sale),
    /// what `PUT` takes in `If-Match`.
    @Sendable func get(_ request: Request, context: AppRequestContext) async throws -> Response {
        let id = try Self.productID(context)
        guard let cache else {
            guard let product = try await repository.find(id: id) else { throw Problem.notFound("no product with id \(id)") }
            return try JSONOutput.response(product, headers: [.eTag: product.tag.etag])
        }
        if let (body, etag) = cache.answer(for: id) { return Self.tagged(JSONOutput.response(json: body), etag) }
        let token = cache.beginRead()
        guard let product = try await repository.find(id: id) else { throw Problem.notFound("no product with id \(id)") }
        let body = try JSONOutput.body(product)
        cache.store(body, etag: product.tag.etag, for: id, readSince: token)
        return Self.tagged(JSONOutput.response(json: body), product.tag.etag)
    }

    /// `PUT /product/{id}/image` (admin): the body is the picture; its format is read from the bytes.
    @Sendable func putImage(_ request: Request, context: AppRequestContext) async throws -> Response {
        let id = try Self.productID(context)
        let buffer = try await JSONInput.body(of: request, upTo: ProductImageLimits.maximumBytes)
        let image: ProductImage
        do {
            image = try ProductImage(data: Data(buffer: buffer))
        } catch .unsupported {
            throw Problem(.unsupportedMediaType, detail: ProductImage.Refusal.unsupported.description, field: "body")
        } catch {
            throw Problem.unprocessable(error.description, field: "body")
        }
        guard let product = try await repository.setImage(image, of: id) else { throw Problem.notFound("no product with id \(id)") }
        return try JSONOutput.response(product, headers: [.eTag: product.tag.etag])
    }

    /// `GET /product/{id}/image` (public): the picture, with its `ETag` (a 304 for a matching
    /// `If-None-Match`), cacheable, never sniffed.
    @Sendable func getImage(_ request: Request, context: AppRequestContext) async throws -> Response {
        let id = try Self.productID(context)
        guard let image = try await repository.image(of: id) else { throw Problem.notFound("product \(id) has no picture") }
        var headers: HTTPFields = [
            .eTag: image.etag, .cacheControl: "public, max-age=300", .init("X-Content-Type-Options")!: "nosniff",
        ]
        let given = request.headers[.ifNoneMatch]?.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } ?? []
        if given.contains(image.etag) || given.contains("W/" + image.etag) || given.contains("*") {
            return Response(status: .notModified, headers: headers)
        }
        headers[.contentType] = image.contentType
        headers[.contentLength] = String(image.data.readableBytes)
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: image.data))
    }

    static func tagged(_ response: Response, _ etag: String?) -> Response {
        var response = response
        if let etag { response.headers[.eTag] = etag }
        return response
    }

    @Sendable func create(_ request: Request, context: AppRequestContext) async throws -> Response {
        let input = try await JSONInput.decode(ProductInput.self, from: request, context: context).validated()
        if input.stockDelta != nil { throw Problem.badRequest("stockDelta changes an existing product's stock (PUT); give stock", field: "stockDelta") }
        let product = try await repository.create(input)
        return try JSONOutput.response(product, status: .created, headers: [.location: "/product/\(product.id)"])
    }

    @Sendable func update(_ request: Request, context: AppRequestContext) async throws -> Response {
        let id = try Self.productID(context)
        let input = try await JSONInput.decode(ProductInput.self, from: request, context: context).validated()
        // `If-Match: *` asks only that the product exists; any other value names one state of it.
        let ifMatch = request.headers[.ifMatch]?.trimmingCharacters(in: .whitespaces)
        // Any other value that is not one of our tags matches no state of the product: 412 (RFC 9110 13.1.1).
        var expected: ProductTag?
        if let ifMatch, ifMatch != "*" { expected = ProductTag(etag: ifMatch) ?? ProductTag.matchingNothing }
        if input.stock != nil, ifMatch == nil || ifMatch == "*" {
            var problem = Problem(.preconditionRequired, detail: "setting stock outright needs If-Match with the product's ETag (from GET); or send stockDelta, units to add or take away", field: "stock")
            problem.headers[.contentType] = "application/problem+json"
            throw problem
        }
        switch try await repository.update(id: id, with: input, expected: expected) {
        case .updated(let product):
            return try JSONOutput.response(product, headers: [.eTag: product.tag.etag])
        case .notFound:
            throw Problem.notFound("no product with id \(id)")
        case .changedMeanwhile(let product):
            var problem = Problem(.preconditionFailed, detail: "the product changed since it was read (now ETag \(product.tag.etag), \(product.stock) in stock); read it again and retry", field: "If-Match")
            problem.headers[.eTag] = product.tag.etag
            throw problem
        case .stockWouldBeNegative(let product):
            throw Problem.conflict("stockDelta would take the stock below 0 (\(product.stock) in stock now)", field: "stockDelta")
        }
    }

    @Sendable func delete(_ request: Request, context: AppRequestContext) async throws -> HTTPResponse.Status {
        let id = try Self.productID(context)
        guard try await repository.delete(id: id) else { throw Problem.notFound("no product with id \(id)") }
        return .noContent
    }

    /// At most this many ids in one `?ids=` (a basket's lines).
    static var maximumIDs: Int { 100 }

    /// `ids`: comma-separated product ids, one request for many (basket-service's lookups).
    static func ids(_ raw: String) throws -> [UUID] {
        let parts = raw.split(separator: ",", omittingEmptySubsequences: false)
        guard parts.count <= maximumIDs else { throw Problem.badRequest("ids names at most \(maximumIDs) products", field: "ids") }
        return try parts.map { part in
            guard let id = UUID(uuidString: String(part)) else { throw Problem.badRequest("ids must be product ids (UUIDs) separated by commas", field: "ids") }
            return id
        }
    }

    static func productID(_ context: AppRequestContext) throws -> UUID {
        let raw = context.parameters.get("id") ?? ""
        guard let id = UUID(uuidString: raw) else { throw Problem.badRequest("id must be a UUID, got '\(raw)'", field: "id") }
        return id
    }
}
