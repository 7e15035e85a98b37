import Contracts
import EventBus
import Foundation
import ServiceKit

/// Where an order's saga stands: waiting for the stock, waiting for the payment, waiting for
/// shipping's answer to a customer's cancel of a completed order, or done (fulfilment then moves the
/// order on by shipping's events and the customer's return).
package enum SagaStep: String, Codable, Sendable, CaseIterable {
    case reservingStock, charging, stoppingDispatch, finished
}

/// The parcel as the order shows it (`shipment`), from shipping's events.
package struct OrderShipment: Codable, Sendable, Equatable {
    package var status: ShipmentStatus
    // Every field is present (null until known), as the contract writes it.
    @NullWhenAbsent package var carrier: String?
    @NullWhenAbsent package var trackingNumber: String?
    @NullWhenAbsent package var shippedAt: Date?
    @NullWhenAbsent package var deliveredAt: Date?

    package init(status: ShipmentStatus, carrier: String? = nil, trackingNumber: String? = nil, shippedAt: Date? = nil, deliveredAt: Date? = nil) {
        self.status = status
        self.carrier = carrier
        self.trackingNumber = trackingNumber
        self.shippedAt = shippedAt
        self.deliveredAt = deliveredAt
    }

    /// The shipment after one of shipping's events.
    init(_ status: ShipmentStatus, _ event: ShipmentEvent) {
        self.init(status: status, carrier: event.carrier, trackingNumber: event.trackingNumber, shippedAt: event.shippedAt, deliveredAt: event.deliveredAt)
    }
}

/// What the saga knows of an order.
package struct SagaState: Sendable, Equatable {
    package var orderId: UUID
    package var checkoutId: UUID
    package var userName: String
    package var cardInfo: String
    package var items: [OrderLine]
    package var totalPrice: Decimal
    package var status: OrderStatus
    package var step: SagaStep
    package var cancellationReason: CancellationReason?
    /// When the current step gives up.
    package var deadline: Date?
    package var shipment: OrderShipment?
    /// Whom the order events tell (the notifications write to them).
    package var firstName: String
    package var email: String

    package init(
        orderId: UUID, checkoutId: UUID, userName: String, cardInfo: String, items: [OrderLine], totalPrice: Decimal,
        status: OrderStatus, step: SagaStep, cancellationReason: CancellationReason? = nil, deadline: Date? = nil, shipment: OrderShipment? = nil,
        firstName: String = "", email: String = ""
    ) {
        self.orderId = orderId
        self.checkoutId = checkoutId
        self.userName = userName
        self.cardInfo = cardInfo
        self.items = items
        self.totalPrice = totalPrice
        self.status = status
        self.step = step
        self.cancellationReason = cancellationReason
        self.deadline = deadline
        self.shipment = shipment
        self.firstName = firstName
        self.email = email
    }
}

/// What moves a saga on: the start, a reply, or the clock.
package enum SagaEvent: Sendable, Equatable {
    case started
    case stockReserved
    case stockReservationFailed(reason: String)
    case paymentApproved
    case paymentDeclined(reason: String)
    case paymentRefunded
    /// The current step's deadline passed (checked again against `deadline` when handled).
    case deadlinePassed(now: Date)
    /// The customer (or an admin) asks to cancel.
    case cancelRequested
    /// Shipping stopped the dispatch (its answer to `CancelShipment`).
    case shipmentCancelled(ShipmentEvent)
    /// The parcel moved: `shipped`, `delivered` or `returned`.
    case shipmentMoved(ShipmentStatus, ShipmentEvent)
    /// The customer asks to return the order; `window` is how long after delivery that is allowed.
    case returnRequested(now: Date, window: TimeInterval)
}

/// A message the saga sends through the outbox.
package enum SagaCommand: Sendable, Equatable {
    case reserveStock, releaseStock, commitStock, chargePayment, refundPayment, orderCompleted, orderCancelled
    case cancelShipment, returnShipment, restockOrder
}

/// What handling an event does: the statuses the order goes through, its new step and deadline,
/// and the messages to send, all stored in one transaction.
package struct SagaDecision: Sendable, Equatable {
    package enum Deadline: Sendable, Equatable { case none, step, payment }

    package var statuses: [(status: OrderStatus, reason: String?)]
    package var step: SagaStep
    package var deadline: Deadline
    package var cancellationReason: CancellationReason?
    package var commands: [SagaCommand]
    /// The order's shipment after the decision (nil: unchanged).
    package var shipment: OrderShipment?

    package init(
        statuses: [(status: OrderStatus, reason: String?)] = [], step: SagaStep, deadline: Deadline = .none, cancellationReason: CancellationReason? = nil,
        commands: [SagaCommand], shipment: OrderShipment? = nil
    ) {
        self.statuses = statuses
        self.step = step
        self.deadline = deadline
        self.cancellationReason = cancellationReason
        self.commands = commands
        self.shipment = shipment
    }

    package static func == (a: SagaDecision, b: SagaDecision) -> Bool {
        a.statuses.map(\.status) == b.statuses.map(\.status) && a.statuses.map(\.reason) == b.statuses.map(\.reason)
            && a.step == b.step && a.deadline == b.deadline && a.cancellationReason == b.cancellationReason && a.commands == b.commands
            && a.shipment == b.shipment
    }
}

/// The order saga as a pure state machine (the seed course's Step Functions flow): reserve stock →
/// charge → complete; on a refusal or a step timeout, compensate in reverse order (refund, then
/// release) and cancel. Replies that come late or twice are handled: a late reservation is released,
/// a late approval refunded, anything else that no longer applies changes nothing.
package enum OrderSaga {
    /// nil: the event changes nothing (a duplicate, or a reply the saga no longer waits for and that
    /// needs no compensation).
    package static func decide(_ state: SagaState, _ event: SagaEvent) -> SagaDecision? {
        switch (state.step, event) {
        case (_, .started):
            return SagaDecision(statuses: [(.pending, nil)], step: .reservingStock, deadline: .step, commands: [.reserveStock])

        case (.reservingStock, .stockReserved):
            return SagaDecision(statuses: [(.stockReserved, nil)], step: .charging, deadline: .payment, commands: [.chargePayment])
        case (.reservingStock, .stockReservationFailed(let reason)):
            // Nothing was reserved and nothing charged: no compensation.
            return cancel(CancellationReason(rawValue: reason).flatMap { [.priceChanged, .reservationLimit].contains($0) ? $0 : nil } ?? .outOfStock, compensations: [])
        case (.reservingStock, .deadlinePassed(let now)) where state.deadline.map { $0 <= now } ?? true:
            // The reservation may still happen: release it (product keeps a mark if it has none yet).
            return cancel(.stepTimeout, compensations: [.releaseStock])

        case (.charging, .paymentApproved):
            return SagaDecision(
                statuses: [(.paid, nil), (.completed, nil)], step: .finished, commands: [.commitStock, .orderCompleted], shipment: OrderShipment(status: .preparing)
            )
        case (.charging, .paymentDeclined(let reason)):
            return cancel(.paymentDeclined, detail: reason, compensations: [.releaseStock])
        case (.charging, .deadlinePassed(let now)) where state.deadline.map { $0 <= now } ?? true:
            // Reverse order: the payment (which may still be approved) first, then the stock.
            return cancel(.stepTimeout, compensations: [.refundPayment, .releaseStock])

        // The customer cancels: before the payment nothing was taken but (maybe) the stock; while charging
        // the payment may still be approved; once completed, only shipping can say whether the parcel
        // is still here, so it is asked (and its answer decides: it never both ships and stops).
        case (.reservingStock, .cancelRequested):
            return cancel(.customerCancelled, compensations: [.releaseStock])
        case (.charging, .cancelRequested):
            return cancel(.customerCancelled, compensations: [.refundPayment, .releaseStock])
        case (.finished, .cancelRequested) where state.status == .completed:
            return SagaDecision(step: .stoppingDispatch, commands: [.cancelShipment])
        case (.stoppingDispatch, .shipmentCancelled(let event)):
            var decision = cancel(.customerCancelled, compensations: [.refundPayment, .restockOrder])
            decision.shipment = OrderShipment(.cancelled, event)
            return decision

        case (.finished, .shipmentMoved(let moved, let event)), (.stoppingDispatch, .shipmentMoved(let moved, let event)):
            return fulfilment(state, moved, event)

        case (.finished, .returnRequested(let now, let window)) where state.status == .delivered:
            guard let deliveredAt = state.shipment?.deliveredAt, now.timeIntervalSince(deliveredAt) <= window else { return nil }
            var shipment = state.shipment ?? OrderShipment(status: .returnRequested)
            shipment.status = .returnRequested
            return SagaDecision(statuses: [(.returnRequested, nil)], step: .finished, commands: [.returnShipment], shipment: shipment)

        case (.finished, .stockReserved) where state.status == .cancelled:
            // A reservation that arrived after the saga gave up on it.
            return SagaDecision(step: .finished, cancellationReason: state.cancellationReason, commands: [.releaseStock])
        case (.finished, .paymentApproved) where state.status == .cancelled:
            // Money taken for an order that ended cancelled goes back.
            return SagaDecision(step: .finished, cancellationReason: state.cancellationReason, commands: [.refundPayment])

        default:
            return nil
        }
    }

    /// The order follows its parcel, forward only (shipping's events may come out of order: each
    /// carries the whole shipment, so a `Delivered` seen first records `Shipped` too). A parcel that
    /// arrived back (`returned`) is refunded and its units go back on sale.
    static func fulfilment(_ state: SagaState, _ moved: ShipmentStatus, _ event: ShipmentEvent) -> SagaDecision? {
        let path: [OrderStatus] = [.completed, .shipped, .delivered, .returnRequested, .returned]
        let target: OrderStatus
        switch moved {
        case .shipped: target = .shipped
        case .delivered: target = .delivered
        case .returned: target = .returned
        case .preparing, .returnRequested, .cancelled: return nil
        }
        guard let from = path.firstIndex(of: state.status), let to = path.firstIndex(of: target), from < to else { return nil }
        // A return is the customer's move: shipping's `returned` follows only a `ReturnRequested` order.
        if target == .returned, state.status != .returnRequested { return nil }
        if target != .returned, state.status == .returnRequested { return nil }
        let tooLate = state.step == .stoppingDispatch ? cancelTooLateReason : nil
        let statuses = path[(from + 1)...to].map { status in (status: status, reason: status == .shipped ? tooLate : nil) }
        return SagaDecision(
            statuses: statuses, step: .finished, commands: target == .returned ? [.refundPayment, .restockOrder] : [], shipment: OrderShipment(moved, event)
        )
    }

    static func cancel(_ reason: CancellationReason, detail: String? = nil, compensations: [SagaCommand]) -> SagaDecision {
        SagaDecision(
            statuses: [(.cancelled, detail.map { "\(reason.rawValue): \($0)" } ?? reason.rawValue)], step: .finished,
            cancellationReason: reason, commands: compensations + [.orderCancelled]
        )
    }

    /// The outbox entries of `commands` for the order in `state`.
    package static func entries(_ commands: [SagaCommand], for state: SagaState, cancellationReason: CancellationReason?) throws -> [PublishEntry] {
        let order = OrderReference(orderId: state.orderId)
        return try commands.map { command in
            switch command {
            case .reserveStock:
                try ShopEvents.reserveStock.entry(ReserveStock(orderId: state.orderId, lines: state.items.map {
                    ReserveStock.Line(productId: $0.productId, quantity: $0.quantity, price: $0.price)
                }, userName: state.userName))
            case .releaseStock: try ShopEvents.releaseStock.entry(order)
            case .commitStock: try ShopEvents.commitStock.entry(order)
            case .chargePayment:
                try ShopEvents.chargePayment.entry(ChargePayment(
                    orderId: state.orderId, userName: state.userName, amount: state.totalPrice, cardInfo: state.cardInfo
                ))
            case .refundPayment: try ShopEvents.refundPayment.entry(order)
            case .cancelShipment: try ShopEvents.cancelShipment.entry(ShipmentCommand(orderId: state.orderId, userName: state.userName))
            case .returnShipment: try ShopEvents.returnShipment.entry(ShipmentCommand(orderId: state.orderId, userName: state.userName))
            case .restockOrder: try ShopEvents.restockOrder.entry(order)
            case .orderCompleted, .orderCancelled:
                try (command == .orderCompleted ? ShopEvents.orderCompleted : ShopEvents.orderCancelled).entry(OrderFinished(
                    orderId: state.orderId, checkoutId: state.checkoutId, userName: state.userName, totalPrice: state.totalPrice,
                    cancellationReason: cancellationReason?.rawValue, firstName: state.firstName.isEmpty ? nil : state.firstName,
                    email: state.email.isEmpty ? nil : state.email, items: state.items
                ))
            }
        }
    }

    /// The saga event a reply carries; nil for a message that is not a saga reply.
    package static func event(of envelope: EventEnvelope) throws -> (orderId: UUID, event: SagaEvent)? {
        if let reply = try ShopEvents.stockReserved.detail(of: envelope) { return (reply.orderId, .stockReserved) }
        if let reply = try ShopEvents.stockReservationFailed.detail(of: envelope) { return (reply.orderId, .stockReservationFailed(reason: reply.reason)) }
        if let reply = try ShopEvents.paymentApproved.detail(of: envelope) { return (reply.orderId, .paymentApproved) }
        if let reply = try ShopEvents.paymentDeclined.detail(of: envelope) { return (reply.orderId, .paymentDeclined(reason: reply.reason ?? "declined")) }
        if let reply = try ShopEvents.paymentRefunded.detail(of: envelope) { return (reply.orderId, .paymentRefunded) }
        if let event = try ShopEvents.orderShipped.detail(of: envelope) { return (event.orderId, .shipmentMoved(.shipped, event)) }
        if let event = try ShopEvents.orderDelivered.detail(of: envelope) { return (event.orderId, .shipmentMoved(.delivered, event)) }
        if let event = try ShopEvents.orderReturned.detail(of: envelope) { return (event.orderId, .shipmentMoved(.returned, event)) }
        if let event = try ShopEvents.shipmentCancelled.detail(of: envelope) { return (event.orderId, .shipmentCancelled(event)) }
        // The state machine's step timed out (SAGA_ENGINE=stepfunctions): as on the saga's own deadline
        // (ordering's is a backstop later than the state machine's, so it is not waited for).
        if let report = try ShopEvents.sagaStepTimedOut.detail(of: envelope) { return (report.orderId, .deadlinePassed(now: .distantFuture)) }
        return nil
    }
}
