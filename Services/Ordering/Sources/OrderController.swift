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
    }

    struct OrderPage: Codable {
        var items: [Order]
        var nextCursor: String?
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
        let orders = try await repository.orders(of: userName, on: day, limit: try Self.limit(request, default: 100, maximum: 500))
        return try JSONOutput.response(orders)
    }

    @Sendable func list(_ request: Request, context: AppRequestContext) async throws -> Response {
        try context.requireAdmin()
        let limit = try Self.limit(request, default: 50, maximum: 200)
        var cursor: OrderCursor?
        if let raw = request.uri.queryParameters["cursor"], !raw.isEmpty {
            let parts = raw.split(separator: "_")
            guard parts.count == 2, let millis = Int64(parts[0]), let id = UUID(uuidString: String(parts[1])) else {
                throw Problem.badRequest("cursor is not one this service issued", field: "cursor")
            }
            cursor = OrderCursor(orderDate: Date(timeIntervalSince1970: Double(millis) / 1000), orderId: id)
        }
        var orders = try await repository.allOrders(before: cursor, limit: limit + 1)
        var next: String?
        if orders.count > limit {
            orders.removeLast()
            next = orders.last.map { "\(Int64(($0.orderDate.timeIntervalSince1970 * 1000).rounded()))_\($0.orderId)" }
        }
        return try JSONOutput.response(OrderPage(items: orders, nextCursor: next))
    }

    static func limit(_ request: Request, default defaultValue: Int, maximum: Int) throws -> Int {
        guard let raw = request.uri.queryParameters["limit"] else { return defaultValue }
        guard let value = Int(String(raw)), (1...maximum).contains(value) else {
            throw Problem.badRequest("limit must be an integer from 1 to \(maximum)", field: "limit")
        }
        return value
    }

    /// Midnight UTC of a `YYYY-MM-DD` day.
    static func day(_ raw: String) -> Date? {
        guard raw.count == 10 else { return nil }
        return try? Date.ISO8601FormatStyle().year().month().day().parse(raw)
    }
}
