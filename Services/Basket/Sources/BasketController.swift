import Foundation
import HTTPTypes
import Hummingbird
import Logging
import ServiceKit
import Contracts

/// The basket HTTP API: a customer reaches their own basket, an admin every basket (checked here
/// from the verified token, against the user name this service itself read from path or body).
package struct BasketController<Repository: BasketRepository, Catalog: ProductCatalog> {
    let repository: Repository
    let catalog: Catalog
    let fingerprintKey: String

    package init(repository: Repository, catalog: Catalog, fingerprintKey: String = BasketServiceConfig.localFingerprintKey) {
        self.repository = repository
        self.catalog = catalog
        self.fingerprintKey = fingerprintKey
    }

    package func addRoutes(to group: RouterGroup<AppRequestContext>) {
        group
            .get(use: list)
            .post(use: store)
            .post("checkout", use: checkout)
            .get(":userName", use: get)
            .delete(":userName", use: delete)
    }

    @Sendable func get(_ request: Request, context: AppRequestContext) async throws -> Response {
        let userName = try PathUserName.parameter(context)
        return try JSONOutput.response(try await repository.find(userName: userName))
    }

    @Sendable func delete(_ request: Request, context: AppRequestContext) async throws -> HTTPResponse.Status {
        let userName = try PathUserName.parameter(context)
        try await repository.delete(userName: userName)
        return .noContent
    }

    @Sendable func list(_ request: Request, context: AppRequestContext) async throws -> Response {
        let page = try PageRequest<NameCursor>(request, defaultLimit: 50, maximumLimit: 200)
        let baskets = try await repository.list(after: page.cursor?.name, limit: page.fetchLimit)
        return try JSONOutput.response(page.page(baskets) { NameCursor(name: $0.userName) })
    }

    /// Stores the basket with names and prices looked up in the catalog.
    @Sendable func store(_ request: Request, context: AppRequestContext) async throws -> Response {
        let decoded = try await JSONInput.decode(BasketInput.self, from: request, context: context)
        try context.requireActing(for: decoded.userName, field: "userName")
        let input = try decoded.validated()
        let products = try await lookUp(Set(input.items.map(\.productId)), logger: context.logger, fieldFor: { id in
            let index = input.items.firstIndex { $0.productId == id } ?? 0
            return "items[\(index)].productId"
        })
        let items = input.items.map { item in
            let product = products[item.productId]!
            return BasketItem(productId: item.productId, productName: product.name, quantity: item.quantity, color: item.color ?? "", price: product.price)
        }
        try Basket.checkAmounts(of: items)
        return try JSONOutput.response(try await repository.replace(userName: input.userName, items: items))
    }

    @Sendable func checkout(_ request: Request, context: AppRequestContext) async throws -> Response {
        let decoded = try await JSONInput.decode(CheckoutRequest.self, from: request, context: context)
        try context.requireActing(for: decoded.userName, field: "userName")
        let input = try decoded.validated()
        var key = request.headers[.idempotencyKey]?.trimmingCharacters(in: .whitespaces)
        if key?.isEmpty == true { key = nil }
        if let key, key.count > 200 {
            throw Problem.badRequest("Idempotency-Key must be at most 200 characters", field: "Idempotency-Key")
        }
        if let priceChanged = try await checkPrices(input, logger: context.logger) { return priceChanged }
        switch try await CheckoutRules.perform(input, idempotencyKey: key, fingerprintKey: fingerprintKey, on: repository) {
        case .accepted(let checkout):
            context.logger.info("checkout accepted", metadata: ["checkoutId": "\(checkout.checkoutId)", "userName": "\(checkout.userName)"])
            return try JSONOutput.response(checkout, status: .accepted)
        case .replayed(let checkout):
            return try JSONOutput.response(checkout, status: .accepted, headers: [.idempotentReplayed: "true"])
        case .emptyBasket:
            throw Problem.conflict("the basket of \(input.userName) is empty; add items before checking out")
        case .unavailableItems(let names):
            throw Problem.conflict("these items are no longer available; remove them before checking out: \(names.joined(separator: ", "))", field: "items")
        case .idempotencyKeyReused:
            throw Problem.unprocessable("this Idempotency-Key was used for a different checkout request", field: "Idempotency-Key")
        }
    }

    /// The prices a checkout is about to be charged, checked against the catalog itself: the read model
    /// the catalog events keep may lag behind (a consumer down, an event dead-lettered, a basket stored
    /// while the event was on its way). A stale line is brought up to date the way the event would
    /// have done it (the read model and every basket holding the product, `previousPrice` kept), and
    /// the checkout answered 409 `PriceChanged` with the basket at the new prices, so the customer
    /// confirms them; so is a checkout whose `expectedTotal` is not the basket's total. When the
    /// catalog cannot answer, the checkout goes on: the stock reservation checks every line's price
    /// again and cancels the order (`PriceChanged`, nothing charged) if one changed.
    func checkPrices(_ input: CheckoutRequest, logger: Logger) async throws -> Response? {
        var basket = try await repository.find(userName: input.userName)
        let lines = basket.items.filter(\.available)
        guard !lines.isEmpty else { return nil }
        var repriced = false
        do {
            let current = try await catalog.products(ids: Set(lines.map(\.productId)))
            for product in current.values {
                guard let version = product.version,
                      lines.contains(where: { $0.productId == product.id && $0.price.rounded(2) != product.price.rounded(2) })
                else { continue }
                let change = CatalogChange(productId: product.id, name: product.name, price: product.price, version: version, deleted: false)
                _ = try await CatalogEventHandler.apply(change, on: repository)
                repriced = true
            }
        } catch let error as CatalogUnavailable {
            logger.warning("prices not checked against the catalog; the stock reservation checks them", metadata: ["error": "\(error.reason)"])
        }
        if repriced { basket = try await repository.find(userName: input.userName) }
        let confirmed = input.expectedTotal.map { $0.rounded(2) == basket.totalPrice.rounded(2) }
        guard confirmed == false || (repriced && confirmed == nil) else { return nil }
        logger.info("checkout refused: prices changed", metadata: ["userName": "\(input.userName)", "total": "\(basket.totalPrice)"])
        let problem = PriceChangedProblem(
            detail: "prices changed since the basket was filled; the basket holds the new prices (total \(basket.totalPrice)): confirm them by checking out with expectedTotal",
            basket: basket
        )
        var response = try JSONOutput.response(problem, status: .conflict)
        response.headers[.contentType] = "application/problem+json"
        return response
    }

    /// Looks products up in the read model the catalog events keep, and asks the catalog only for the
    /// products it has not heard of, all in one call: unknown → 422 naming the field, catalog down → 503.
    func lookUp(_ ids: Set<UUID>, logger: Logger, fieldFor: (UUID) -> String) async throws -> [UUID: CatalogProduct] {
        let known = try await repository.knownProducts(Array(ids))
        var found: [UUID: CatalogProduct] = [:]
        for (id, entry) in known where !entry.deleted { found[id] = entry.product }
        let unheardOf = ids.filter { known[$0] == nil }
        if !unheardOf.isEmpty {
            do {
                found.merge(try await catalog.products(ids: unheardOf)) { a, _ in a }
            } catch let error as CatalogUnavailable {
                logger.warning("catalog lookup failed", metadata: ["products": "\(unheardOf.count)", "error": "\(error.reason)"])
                throw Problem.unavailable("the product catalog is unavailable; try again shortly")
            }
        }
        var products: [UUID: CatalogProduct] = [:]
        for id in ids {
            guard let product = found[id] else {
                throw Problem.unprocessable("unknown product \(id)", field: fieldFor(id))
            }
            products[id] = product
        }
        return products
    }
}

/// 409 for a checkout at prices the customer has not seen: a problem+json with the basket as it is now.
struct PriceChangedProblem: Encodable {
    var type = "about:blank"
    var title = "Conflict"
    var status = 409
    var code = "PriceChanged"
    var field = "items"
    var detail: String
    var basket: Basket
}

extension HTTPField.Name {
    package static let idempotencyKey = Self("Idempotency-Key")!
    static let idempotentReplayed = Self("Idempotent-Replayed")!
}
