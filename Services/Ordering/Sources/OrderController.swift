import Foundation
import Hummingbird
import ServiceKit

/// The order HTTP API: a customer reads their own orders, an admin all (checked here from the
/// verified token).
package struct OrderController<Repository: OrderRepository> {
    let repository: Repository

    package init(repository: Repository) {
        self.repository = repository
    }

    package func addRoutes(to group: RouterGroup<AppRequestContext>) {
        group
            .get(use: list)
            .get(":userName", use: ordersOfUser)
            .get(":userName/:orderId", use: orderOfUser)
    }

    @Sendable func ordersOfUser(_ request: Request, context: AppRequestContext) async throws -> Response {
        let userName = try PathUserName.parameter(context)
        try context.requireActing(for: userName, field: "userName")
        var day: DateInterval?
        if let raw = request.uri.queryParameters["orderDate"], !raw.isEmpty {
            guard let start = Self.day(String(raw)) else {
                throw Problem.badRequest("orderDate must be a day like 2026-11-22", field: "orderDate")
            }
            day = DateInterval(start: start, duration: 86_400)
        }
        let limit = try PageRequest<OrderCursor>.limit(request.uri.queryParameters["limit"].map(String.init), default: 100, maximum: 500)
        let orders = try await repository.orders(of: userName, on: day, limit: limit)
        return try JSONOutput.response(orders)
    }

    /// One order of the user; 404 when there is none with that id, or it is another user's.
    @Sendable func orderOfUser(_ request: Request, context: AppRequestContext) async throws -> Response {
        let userName = try PathUserName.parameter(context)
        try context.requireActing(for: userName, field: "userName")
        let raw = context.parameters.get("orderId") ?? ""
        guard let id = UUID(uuidString: raw) else { throw Problem.badRequest("orderId must be a UUID, got '\(raw)'", field: "orderId") }
        guard let order = try await repository.order(id: id), order.userName.utf8.elementsEqual(userName.utf8) else {
            throw Problem.notFound("\(userName) has no order \(id)")
        }
        return try JSONOutput.response(order)
    }

    @Sendable func list(_ request: Request, context: AppRequestContext) async throws -> Response {
        try context.requireAdmin()
        let page = try PageRequest<OrderCursor>(request, defaultLimit: 50, maximumLimit: 200)
        let orders = try await repository.allOrders(before: page.cursor, limit: page.fetchLimit)
        return try JSONOutput.response(page.page(orders) { OrderCursor(orderDate: $0.orderDate, orderId: $0.orderId) })
    }

    /// Midnight UTC of a `YYYY-MM-DD` day.
    static func day(_ raw: String) -> Date? {
        guard raw.count == 10 else { return nil }
        return try? Date.ISO8601FormatStyle().year().month().day().parse(raw)
    }
}
