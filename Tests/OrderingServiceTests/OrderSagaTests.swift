import Contracts
import EventBus
import Foundation
import Logging
import Testing

@testable import OrderingService

/// The saga as a state machine, and the runner on the in-memory repository: every path, late and
/// repeated replies, without a database.
@Suite struct OrderSagaTests {
    static func state(_ step: SagaStep, _ status: OrderStatus, reason: CancellationReason? = nil, deadline: Date? = nil, shipment: OrderShipment? = nil) -> SagaState {
        SagaState(
            orderId: UUID(), checkoutId: UUID(), userName: "ann", cardInfo: "**** **** **** 4242",
            items: [OrderLine(productId: UUID(), productName: "Phone", quantity: 2, color: "", price: Decimal(string: "19.99")!)],
            totalPrice: Decimal(string: "39.98")!, status: status, step: step, cancellationReason: reason, deadline: deadline, shipment: shipment
        )
    }

    static func parcel(_ orderId: UUID = UUID(), shippedAt: Date? = Date(), deliveredAt: Date? = nil) -> ShipmentEvent {
        ShipmentEvent(orderId: orderId, userName: "ann", carrier: "UPS", trackingNumber: "1Z0000000001", at: Date(), shippedAt: shippedAt, deliveredAt: deliveredAt)
    }

    @Test func aCustomerCancelUndoesWhatTheOrderDidSoFar() {
        let reserving = OrderSaga.decide(Self.state(.reservingStock, .pending), .cancelRequested)
        #expect(reserving?.cancellationReason == .customerCancelled && reserving?.commands == [.releaseStock, .orderCancelled])
        let charging = OrderSaga.decide(Self.state(.charging, .stockReserved), .cancelRequested)
        #expect(charging?.commands == [.refundPayment, .releaseStock, .orderCancelled], "reverse order: the money first")
        // Completed: only shipping knows whether the parcel left; the order waits for its answer.
        let completed = OrderSaga.decide(Self.state(.finished, .completed, shipment: OrderShipment(status: .preparing)), .cancelRequested)
        #expect(completed?.statuses.isEmpty == true && completed?.step == .stoppingDispatch && completed?.commands == [.cancelShipment])
        #expect(OrderSaga.decide(Self.state(.stoppingDispatch, .completed), .cancelRequested) == nil, "asked once")
        let stopped = OrderSaga.decide(Self.state(.stoppingDispatch, .completed), .shipmentCancelled(Self.parcel(shippedAt: nil)))
        #expect(stopped?.statuses.map(\.status) == [.cancelled] && stopped?.cancellationReason == .customerCancelled)
        #expect(stopped?.commands == [.refundPayment, .restockOrder, .orderCancelled] && stopped?.shipment?.status == .cancelled)
        for status in [OrderStatus.shipped, .delivered, .returnRequested, .returned, .cancelled] {
            #expect(OrderSaga.decide(Self.state(.finished, status), .cancelRequested) == nil, "\(status) cannot be cancelled")
        }
    }

    @Test func aCancelThatLostTheRaceLeavesTheOrderShipped() {
        let tooLate = OrderSaga.decide(Self.state(.stoppingDispatch, .completed), .shipmentMoved(.shipped, Self.parcel()))
        #expect(tooLate?.statuses.map(\.status) == [.shipped] && tooLate?.statuses.first?.reason == cancelTooLateReason)
        #expect(tooLate?.step == .finished && tooLate?.commands == [] && tooLate?.shipment?.trackingNumber == "1Z0000000001")
        #expect(OrderSaga.decide(Self.state(.finished, .shipped), .shipmentCancelled(Self.parcel())) == nil, "no second winner")
    }

    @Test func theOrderFollowsItsParcelForwardOnly() {
        let delivered = Self.parcel(deliveredAt: Date())
        let both = OrderSaga.decide(Self.state(.finished, .completed), .shipmentMoved(.delivered, delivered))
        #expect(both?.statuses.map(\.status) == [.shipped, .delivered], "a Delivered seen first records Shipped too")
        #expect(OrderSaga.decide(Self.state(.finished, .delivered), .shipmentMoved(.shipped, Self.parcel())) == nil, "a late Shipped changes nothing")
        #expect(OrderSaga.decide(Self.state(.finished, .delivered), .shipmentMoved(.delivered, delivered)) == nil, "a repeat changes nothing")
        #expect(OrderSaga.decide(Self.state(.finished, .cancelled), .shipmentMoved(.shipped, Self.parcel())) == nil)
        #expect(OrderSaga.decide(Self.state(.finished, .delivered), .shipmentMoved(.returned, delivered)) == nil, "no return the customer did not ask for")
    }

    @Test func aReturnWithinTheWindowRefundsAndRestocksWhenTheParcelIsBack() {
        let now = Date()
        let delivered = OrderShipment(status: .delivered, carrier: "UPS", trackingNumber: "1Z0000000001", shippedAt: now - 100, deliveredAt: now - 50)
        let asked = OrderSaga.decide(Self.state(.finished, .delivered, shipment: delivered), .returnRequested(now: now, window: 60))
        #expect(asked?.statuses.map(\.status) == [.returnRequested] && asked?.commands == [.returnShipment] && asked?.shipment?.status == .returnRequested)
        #expect(OrderSaga.decide(Self.state(.finished, .delivered, shipment: delivered), .returnRequested(now: now, window: 10)) == nil, "window closed")
        #expect(OrderSaga.decide(Self.state(.finished, .shipped), .returnRequested(now: now, window: 60)) == nil, "not delivered yet")
        let back = OrderSaga.decide(Self.state(.finished, .returnRequested, shipment: delivered), .shipmentMoved(.returned, Self.parcel(deliveredAt: now - 50)))
        #expect(back?.statuses.map(\.status) == [.returned] && back?.commands == [.refundPayment, .restockOrder] && back?.shipment?.status == .returned)
        #expect(OrderSaga.decide(Self.state(.finished, .returned), .returnRequested(now: now, window: 60)) == nil, "returned once")
    }

    /// Every move the saga can make is a declared transition (`OrderStatus.transitions`, from which the
    /// README's diagram is drawn), and every declared transition is made by some event.
    @Test func theSagaMakesExactlyTheDeclaredMoves() {
        let now = Date()
        let shipment = OrderShipment(status: .delivered, deliveredAt: now)
        let events: [SagaEvent] = [
            .started, .stockReserved, .stockReservationFailed(reason: "OutOfStock"), .paymentApproved, .paymentDeclined(reason: "card_declined"),
            .paymentRefunded, .deadlinePassed(now: now + 3600), .cancelRequested, .shipmentCancelled(Self.parcel()),
            .shipmentMoved(.shipped, Self.parcel()), .shipmentMoved(.delivered, Self.parcel(deliveredAt: now)), .shipmentMoved(.returned, Self.parcel()),
            .returnRequested(now: now, window: 60),
        ]
        let declared = Set(OrderStatus.transitions.map { "\($0.from.rawValue)→\($0.to.rawValue)" })
        var made = Set<String>()
        // The statuses each step is found with (the saga writes them together).
        let reachable: [SagaStep: [OrderStatus]] = [
            .reservingStock: [.pending], .charging: [.stockReserved], .stoppingDispatch: [.completed],
            .finished: [.completed, .shipped, .delivered, .returnRequested, .returned, .cancelled],
        ]
        #expect(Set(reachable.keys) == Set(SagaStep.allCases))
        for (step, statuses) in reachable {
            for status in statuses {
                for event in events where event != .started {
                    guard let decision = OrderSaga.decide(Self.state(step, status, deadline: now, shipment: shipment), event) else { continue }
                    var from = status
                    for change in decision.statuses {
                        let move = "\(from.rawValue)→\(change.status.rawValue)"
                        #expect(declared.contains(move), "\(step)/\(status) on \(event) makes the undeclared move \(move)")
                        made.insert(move)
                        from = change.status
                    }
                }
            }
        }
        #expect(made == declared, "declared but never made: \(declared.subtracting(made))")
    }

    @Test func theHappyPath() {
        let start = OrderSaga.decide(Self.state(.reservingStock, .pending), .started)
        #expect(start?.commands == [.reserveStock] && start?.deadline == .step)
        let reserved = OrderSaga.decide(Self.state(.reservingStock, .pending), .stockReserved)
        #expect(reserved?.statuses.map(\.status) == [.stockReserved] && reserved?.step == .charging && reserved?.commands == [.chargePayment] && reserved?.deadline == .payment)
        let paid = OrderSaga.decide(Self.state(.charging, .stockReserved), .paymentApproved)
        #expect(paid?.statuses.map(\.status) == [.paid, .completed] && paid?.step == .finished && paid?.commands == [.commitStock, .orderCompleted])
    }

    @Test func refusalsCancelAndCompensate() {
        let outOfStock = OrderSaga.decide(Self.state(.reservingStock, .pending), .stockReservationFailed(reason: "OutOfStock"))
        #expect(outOfStock?.cancellationReason == .outOfStock && outOfStock?.commands == [.orderCancelled], "nothing was reserved")
        let declined = OrderSaga.decide(Self.state(.charging, .stockReserved), .paymentDeclined(reason: "insufficient_funds"))
        #expect(declined?.cancellationReason == .paymentDeclined && declined?.commands == [.releaseStock, .orderCancelled])
        #expect(declined?.statuses.first?.reason == "PaymentDeclined: insufficient_funds")
    }

    @Test func timeoutsCompensateInReverseOrder() {
        let now = Date()
        let stock = OrderSaga.decide(Self.state(.reservingStock, .pending, deadline: now - 1), .deadlinePassed(now: now))
        #expect(stock?.cancellationReason == .stepTimeout && stock?.commands == [.releaseStock, .orderCancelled])
        let payment = OrderSaga.decide(Self.state(.charging, .stockReserved, deadline: now - 1), .deadlinePassed(now: now))
        #expect(payment?.commands == [.refundPayment, .releaseStock, .orderCancelled], "the payment first, then the stock")
        #expect(OrderSaga.decide(Self.state(.charging, .stockReserved, deadline: now + 5), .deadlinePassed(now: now)) == nil, "not yet due")
    }

    @Test func lateRepliesAreCompensatedAndRepeatsChangeNothing() {
        let cancelled = Self.state(.finished, .cancelled, reason: .stepTimeout)
        #expect(OrderSaga.decide(cancelled, .stockReserved)?.commands == [.releaseStock], "a late reservation is released")
        #expect(OrderSaga.decide(cancelled, .paymentApproved)?.commands == [.refundPayment], "a late approval is refunded")
        #expect(OrderSaga.decide(cancelled, .paymentApproved)?.statuses.isEmpty == true, "the order stays cancelled")
        let completed = Self.state(.finished, .completed)
        for event in [SagaEvent.stockReserved, .paymentApproved, .paymentDeclined(reason: "x"), .stockReservationFailed(reason: "x"), .deadlinePassed(now: Date()), .paymentRefunded] {
            #expect(OrderSaga.decide(completed, event) == nil, "\(event) after completion")
        }
        #expect(OrderSaga.decide(Self.state(.charging, .stockReserved), .stockReserved) == nil, "a repeated reservation")
        #expect(OrderSaga.decide(Self.state(.reservingStock, .pending), .paymentApproved) == nil, "out of order")
    }

    @Test func aReservationRefusedForItsPriceCancelsAsPriceChangedWithNothingToUndo() {
        let decision = OrderSaga.decide(Self.state(.reservingStock, .pending), .stockReservationFailed(reason: "PriceChanged"))
        #expect(decision?.cancellationReason == .priceChanged)
        #expect(decision?.commands == [.orderCancelled])
        #expect(OrderSaga.decide(Self.state(.reservingStock, .pending), .stockReservationFailed(reason: "OutOfStock"))?.cancellationReason == .outOfStock)
    }

    @Test func commandsCarryWhatTheirReceiversNeed() throws {
        let state = Self.state(.charging, .stockReserved)
        let entries = try OrderSaga.entries([.reserveStock, .chargePayment, .orderCancelled], for: state, cancellationReason: .paymentDeclined)
        #expect(entries.map(\.detailType) == ["ReserveStock", "ChargePayment", "OrderCancelled"])
        #expect(try entries[0].detail.decode(as: ReserveStock.self).lines == [ReserveStock.Line(productId: state.items[0].productId, quantity: 2, price: Decimal(string: "19.99")!)], "the price the order was placed at, for product to check")
        #expect(try entries[1].detail.decode(as: ChargePayment.self).amount == Decimal(string: "39.98"))
        #expect(entries[2].detail["cancellationReason"] == .string("PaymentDeclined"))
        let completed = try OrderSaga.entries([.orderCompleted], for: state, cancellationReason: nil)
        #expect(completed[0].detail["cancellationReason"] == .null, "always present, null unless cancelled")
    }

    @Test func theRunnerStoresStatusesHistoryAndCommands() async throws {
        let repository = InMemoryOrderRepository()
        let saga = SagaRunner(repository: repository, stepTimeout: .seconds(10), paymentTimeout: .seconds(10))
        let handler = CheckoutHandler(saga: saga, logger: Logger(label: "saga-test"))
        let checkout = CheckoutBasket(
            checkoutId: UUID(), userName: "ann", firstName: "Ann", lastName: "Lee", email: "ann@example.com", address: "1 Main St",
            paymentMethod: "card", cardInfo: "**** **** **** 0002",
            items: [OrderLine(productId: UUID(), productName: "Phone", quantity: 1, color: "", price: 10)], totalPrice: 10, checkoutDate: Date()
        )
        let envelope = EventEnvelope(detailType: "CheckoutBasket", source: "com.swn.basket.checkoutbasket", region: "local", detail: try JSONValue(encoding: checkout))
        try await handler.handle(QueueMessage(messageID: "m", receiptHandle: "r", body: try envelope.jsonString(), receiveCount: 1, sentAt: Date()))
        let order = try #require(try await repository.orders(of: "ann", on: nil, limit: 1).first)
        #expect(try await saga.handle(.stockReserved, orderId: order.orderId) != .ignored)
        #expect(try await saga.handle(.paymentDeclined(reason: "card_declined"), orderId: order.orderId) != .ignored)
        #expect(try await saga.handle(.paymentDeclined(reason: "card_declined"), orderId: order.orderId) == .ignored)
        #expect(try await saga.handle(.stockReserved, orderId: UUID()) == .unknownOrder)
        let final = try #require(try await repository.order(id: order.orderId))
        #expect(final.status == .cancelled && final.cancellationReason == .paymentDeclined)
        #expect(final.statusHistory.map(\.status) == [.pending, .stockReserved, .cancelled])
        #expect(repository.published.map(\.detailType) == ["ReserveStock", "ChargePayment", "ReleaseStock", "OrderCancelled"])
        let json = String(decoding: try JSONEncoder().encode(try #require(try await repository.order(id: order.orderId))), as: UTF8.self)
        #expect(json.contains(#""cancellationReason":"PaymentDeclined""#))
    }
}
