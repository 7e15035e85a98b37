import Contracts
import EventBus
import Foundation
import Logging

/// What the catalog knows of one order's stock: reserved (taken off `stock`), rejected (nothing
/// taken), released (given back, or never taken because the order gave up first), committed (final),
/// returned (a committed order cancelled before it shipped, or returned: its units back on sale).
package struct Reservation: Codable, Sendable, Equatable {
    package enum Status: String, Codable, Sendable { case reserved, rejected, released, committed, returned }

    package var orderId: UUID
    package var status: Status
    package var reason: String?
    /// Units per product, as taken off the stock (lines of one product summed).
    package var lines: [ReserveStock.Line]

    package init(orderId: UUID, status: Status, reason: String? = nil, lines: [ReserveStock.Line]) {
        self.orderId = orderId
        self.status = status
        self.reason = reason
        self.lines = lines
    }
}

/// The stock rules of the saga, apart from storage. Every outcome is idempotent per order: a
/// repeated command finds the record and answers as the first time.
package enum StockRules {
    /// The answer to the saga.
    package enum Reply: Sendable, Equatable {
        case reserved
        case failed(reason: String)
    }

    /// What to store and answer for `command`, given the order's record (if any) and the stock and
    /// price of its products (a product missing from `available` was deleted). All lines or none; a
    /// line whose price is not the product's price now is refused as `PriceChanged`.
    ///
    /// With a `limit`, the customer may hold at most that many units of a product in unpaid orders
    /// (`held`: what their other reservations hold now), whatever the colours or the number of orders:
    /// beyond it the order is refused as `ReservationLimit`, so a declining or slow card cannot hoard.
    package static func reserve(
        _ command: ReserveStock, existing: Reservation?, available: [UUID: StockLevel], held: [UUID: Int] = [:], limit: Int? = nil
    ) -> (store: Reservation?, stockChanges: [UUID: Int], reply: Reply) {
        if let existing {
            switch existing.status {
            case .reserved, .committed: return (nil, [:], .reserved)
            case .rejected: return (nil, [:], .failed(reason: existing.reason ?? "OutOfStock"))
            case .released, .returned: return (nil, [:], .failed(reason: "Released"))
            }
        }
        var wanted: [UUID: Int] = [:]
        var prices: [UUID: Decimal] = [:]
        for line in command.lines {
            wanted[line.productId, default: 0] += line.quantity
            if let price = line.price { prices[line.productId] = price }
        }
        let lines = wanted.keys.sorted { $0.uuidString < $1.uuidString }.map {
            ReserveStock.Line(productId: $0, quantity: wanted[$0]!, price: prices[$0])
        }
        guard !lines.isEmpty, lines.allSatisfy({ $0.quantity > 0 }) else {
            return (Reservation(orderId: command.orderId, status: .rejected, reason: "OutOfStock", lines: []), [:], .failed(reason: "OutOfStock"))
        }
        for line in lines where (available[line.productId]?.stock ?? -1) < line.quantity {
            return (Reservation(orderId: command.orderId, status: .rejected, reason: "OutOfStock", lines: lines), [:], .failed(reason: "OutOfStock"))
        }
        if let limit, limit > 0, lines.contains(where: { (held[$0.productId] ?? 0) + $0.quantity > limit }) {
            return (Reservation(orderId: command.orderId, status: .rejected, reason: "ReservationLimit", lines: lines), [:], .failed(reason: "ReservationLimit"))
        }
        // Every line, not only the merged one: two lines of one product at two prices cannot both be right.
        for line in command.lines {
            guard let price = line.price, let current = available[line.productId]?.price else { continue }
            if price.rounded(2) != current.rounded(2) {
                return (Reservation(orderId: command.orderId, status: .rejected, reason: "PriceChanged", lines: lines), [:], .failed(reason: "PriceChanged"))
            }
        }
        var changes: [UUID: Int] = [:]
        for line in lines { changes[line.productId] = -line.quantity }
        return (Reservation(orderId: command.orderId, status: .reserved, lines: lines), changes, .reserved)
    }

    /// Gives back a reservation. Before any (the order gave up first) it leaves a `released` mark,
    /// so that a late `ReserveStock` takes nothing. A committed or rejected one stays as it is.
    package static func release(orderId: UUID, existing: Reservation?) -> (store: Reservation?, stockChanges: [UUID: Int]) {
        guard let existing else { return (Reservation(orderId: orderId, status: .released, lines: []), [:]) }
        guard existing.status == .reserved else { return (nil, [:]) }
        var changes: [UUID: Int] = [:]
        for line in existing.lines { changes[line.productId, default: 0] += line.quantity }
        var released = existing
        released.status = .released
        return (released, changes)
    }

    /// Puts an order's units back on sale, once: a completed order cancelled before it shipped, or
    /// returned. A reservation not yet committed (the commit is still on its way) is given back the same
    /// way, and the late commit then finds nothing to make final. Before any reservation it leaves a
    /// mark, so a late `ReserveStock` takes nothing.
    package static func restock(orderId: UUID, existing: Reservation?) -> (store: Reservation?, stockChanges: [UUID: Int]) {
        guard let existing else { return (Reservation(orderId: orderId, status: .returned, lines: []), [:]) }
        guard existing.status == .committed || existing.status == .reserved else { return (nil, [:]) }
        var changes: [UUID: Int] = [:]
        for line in existing.lines { changes[line.productId, default: 0] += line.quantity }
        var returned = existing
        returned.status = .returned
        return (returned, changes)
    }

    /// Makes a reservation final (the order completed).
    package static func commit(existing: Reservation?) -> Reservation? {
        guard var reservation = existing, reservation.status == .reserved else { return nil }
        reservation.status = .committed
        return reservation
    }
}

/// A product's stock and price, as a reservation decides on them.
package struct StockLevel: Sendable, Equatable {
    package var stock: Int
    package var price: Decimal

    package init(stock: Int, price: Decimal) {
        self.stock = stock
        self.price = price
    }
}

/// Storage of reservations. One transaction per command holds the order's record and its products.
package protocol StockRepository: Sendable {
    /// `userName`: the customer whose reservations the body may count (their commands run one at a time).
    func withReservation<T: Sendable>(orderId: UUID, productIds: [UUID], userName: String?, _ body: @Sendable (any ReservationStore) async throws -> T) async throws -> T
    func reservation(orderId: UUID) async throws -> Reservation?
}

package protocol ReservationStore: Sendable {
    func existing() async throws -> Reservation?
    /// Stock and price of the products asked for that still exist.
    func available() async throws -> [UUID: StockLevel]
    /// Stores the record (when given), applies the stock changes and records the reply (when given).
    func save(_ reservation: Reservation?, stockChanges: [UUID: Int], reply: PublishEntry?) async throws
    /// `existing()` and `available()` together (one round trip where the store can).
    func existingAndAvailable() async throws -> (existing: Reservation?, available: [UUID: StockLevel])
    /// Units of `productIds` the customer holds in other orders' reservations not yet final (unpaid).
    func held(by userName: String) async throws -> [UUID: Int]
}

extension ReservationStore {
    package func existingAndAvailable() async throws -> (existing: Reservation?, available: [UUID: StockLevel]) {
        (try await existing(), try await available())
    }
}

/// Runs the saga's stock commands from `product-stock`.
package struct StockCommandHandler<Repository: StockRepository>: MessageHandler {
    let repository: Repository
    let logger: Logger
    /// `MAX_RESERVED_PER_CUSTOMER`: units of one product one customer may hold in unpaid orders (0: no cap).
    let maxReservedPerCustomer: Int

    package init(repository: Repository, logger: Logger, maxReservedPerCustomer: Int = 0) {
        self.repository = repository
        self.logger = logger
        self.maxReservedPerCustomer = maxReservedPerCustomer
    }

    package func handle(_ message: QueueMessage) async throws {
        let envelope = try EventEnvelope(message: message)
        if let command = try ShopEvents.reserveStock.detail(of: envelope) {
            let capped = maxReservedPerCustomer > 0 ? command.userName : nil
            let limit = maxReservedPerCustomer
            let reply = try await repository.withReservation(orderId: command.orderId, productIds: command.lines.map(\.productId), userName: capped) { store in
                let (existing, available) = try await store.existingAndAvailable()
                var held: [UUID: Int] = [:]
                if existing == nil, let capped { held = try await store.held(by: capped) }
                let decision = StockRules.reserve(command, existing: existing, available: available, held: held, limit: capped == nil ? nil : limit)
                let reply: PublishEntry = switch decision.reply {
                case .reserved: try ShopEvents.stockReserved.entry(OrderReference(orderId: command.orderId))
                case .failed(let reason): try ShopEvents.stockReservationFailed.entry(StepFailed(orderId: command.orderId, reason: reason))
                }
                try await store.save(decision.store, stockChanges: decision.stockChanges, reply: reply)
                return decision.reply
            }
            logger.info("stock reservation", metadata: ["orderId": "\(command.orderId)", "outcome": "\(reply)"])
        } else if let command = try ShopEvents.releaseStock.detail(of: envelope) {
            try await repository.withReservation(orderId: command.orderId, productIds: [], userName: nil) { store in
                let existing = try await store.existing()
                let decision = StockRules.release(orderId: command.orderId, existing: existing)
                try await store.save(decision.store, stockChanges: decision.stockChanges, reply: nil)
            }
            logger.info("stock released", metadata: ["orderId": "\(command.orderId)"])
        } else if let command = try ShopEvents.commitStock.detail(of: envelope) {
            try await repository.withReservation(orderId: command.orderId, productIds: [], userName: nil) { store in
                try await store.save(StockRules.commit(existing: try await store.existing()), stockChanges: [:], reply: nil)
            }
        } else if let command = try ShopEvents.restockOrder.detail(of: envelope) {
            try await repository.withReservation(orderId: command.orderId, productIds: [], userName: nil) { store in
                let decision = StockRules.restock(orderId: command.orderId, existing: try await store.existing())
                try await store.save(decision.store, stockChanges: decision.stockChanges, reply: nil)
            }
            logger.info("order restocked", metadata: ["orderId": "\(command.orderId)"])
        } else {
            throw UnprocessableMessage("product-service does not handle \(envelope.source)/\(envelope.detailType)")
        }
    }
}
