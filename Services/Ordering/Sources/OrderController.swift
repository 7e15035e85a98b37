import Contracts
import Foundation
import Hummingbird
import ServiceKit

/// The order HTTP API: a customer reads their own orders, cancels and returns them, an admin all
/// (checked here from the verified token).
package struct OrderController<Repository: OrderRepository> {
    let saga: SagaRunner<Repository>
    var repository: Repository { saga.repository }

    package init(saga: SagaRunner<Repository>) {
        self.saga = saga
    }

    package func addRoutes(to group: RouterGroup<AppRequestContext>) {
        group
            .get(use: list)
            .get(":userName", use: ordersOfUser)
            .get(":userName/:orderId", use: orderOfUser)
            .post(":userName/:orderId/cancel", use: cancel)
            .post(":userName/:orderId/return", use: requestReturn)
    }

    /// `POST /order/{userName}/{orderId}/cancel`: 202 while the order has not shipped (a completed one
    /// waits for shipping's answer, and asking again while it does is 202 too); 409 after.
    @Sendable func cancel(_ request: Request, context: AppRequestContext) async throws -> Response {
        let order = try await ownedOrder(context)
        switch try await saga.handle(.cancelRequested, orderId: order.orderId) {
        case .applied: break
        case .unknownOrder: throw Problem.notFound("no order \(order.orderId)")
        case .ignored:
            let now = try await repository.order(id: order.orderId) ?? order
            guard now.cancelRequested else {
                throw Problem.conflict("order \(order.orderId) is \(now.status.rawValue): it can be cancelled only until it is shipped")
            }
        }
        return try await accepted(order.orderId)
    }

    /// `POST /order/{userName}/{orderId}/return`: 202 for a delivered order within `RETURN_WINDOW_MS`; 409 else.
    @Sendable func requestReturn(_ request: Request, context: AppRequestContext) async throws -> Response {
        let order = try await ownedOrder(context)
        switch try await saga.handle(.returnRequested(now: Date(), window: saga.returnWindow.timeInterval), orderId: order.orderId) {
        case .applied: break
        case .unknownOrder: throw Problem.notFound("no order \(order.orderId)")
        case .ignored:
            let now = try await repository.order(id: order.orderId) ?? order
            if now.status == .delivered {
                throw Problem.conflict("order \(order.orderId) was delivered more than \(Self.describe(saga.returnWindow)) ago: the return window has closed")
            }
            throw Problem.conflict("order \(order.orderId) is \(now.status.rawValue): only a delivered order can be returned")
        }
        return try await accepted(order.orderId)
    }

    /// The order of the path's user; 404 when there is none with that id, or it is another user's.
    func ownedOrder(_ context: AppRequestContext) async throws -> Order {
        let userName = try PathUserName.parameter(context)
        let raw = context.parameters.get("orderId") ?? ""
        guard let id = UUID(uuidString: raw) else { throw Problem.badRequest("orderId must be a UUID, got '\(raw)'", field: "orderId") }
        guard let order = try await repository.order(id: id), order.userName.utf8.elementsEqual(userName.utf8) else {
            throw Problem.notFound("\(userName) has no order \(id)")
        }
        return order
    }

    func accepted(_ orderId: UUID) async throws -> Response {
        guard let order = try await repository.order(id: orderId) else { throw Problem.notFound("no order \(orderId)") }
        var response = try JSONOutput.response(order)
        response.status = .accepted
        return response
    }

    static func describe(_ window: Duration) -> String {
        let seconds = Int(window.timeInterval)
        if seconds >= 86_400, seconds % 86_400 == 0 { return "\(seconds / 86_400) days" }
        if seconds >= 60 { return "\(seconds / 60) minutes" }
        return "\(max(seconds, 0)) seconds"
    }

    @Sendable func ordersOfUser(_ request: Request, context: AppRequestContext) async throws -> Response {
        let userName = try PathUserName.parameter(context)
        var day: DateInterval?
        if let raw = request.uri.queryParameters["orderDate"], !raw.isEmpty {
            guard let start = Self.day(String(raw)) else {
                throw Problem.badRequest("orderDate must be a day like 2026-11-22", field: "orderDate")
            }
            day = DateInterval(start: start, duration: 86_400)
        }
        var checkoutId: UUID?
        if let raw = request.uri.queryParameters["checkoutId"] {
            guard let id = UUID(uuidString: String(raw)) else { throw Problem.badRequest("checkoutId must be a UUID", field: "checkoutId") }
            checkoutId = id
        }
        let limit = try PageRequest<OrderCursor>.limit(request.uri.queryParameters["limit"].map(String.init), default: 100, maximum: 500)
        let orders = try await repository.orders(of: userName, on: day, checkoutId: checkoutId, limit: limit)
        return try JSONOutput.response(orders)
    }

    /// One order of the user; 404 when there is none with that id, or it is another user's.
    @Sendable func orderOfUser(_ request: Request, context: AppRequestContext) async throws -> Response {
        try JSONOutput.response(try await ownedOrder(context))
    }

    @Sendable func list(_ request: Request, context: AppRequestContext) async throws -> Response {
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
