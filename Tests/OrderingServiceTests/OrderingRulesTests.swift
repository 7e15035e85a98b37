import Contracts
import EventBus
import Foundation
import Logging
import Testing

@testable import OrderingService

/// What ordering accepts of a checkout event, and the handler's idempotency, on the in-memory
/// repository: no database.
@Suite struct OrderingRulesTests {
    static func checkout(total: String = "39.98", card: String = "**** **** **** 4242", items: [OrderLine]? = nil) -> CheckoutBasket {
        CheckoutBasket(
            checkoutId: UUID(), userName: "ann", firstName: "Ann", lastName: "Lee", email: "ann@example.com", address: "1 Main St",
            paymentMethod: "card", cardInfo: card,
            items: items ?? [OrderLine(productId: UUID(), productName: "Phone", quantity: 2, color: "", price: Decimal(string: "19.99")!)],
            totalPrice: Decimal(string: total)!, checkoutDate: Date()
        )
    }

    static func message(_ type: EventName = ShopEvents.checkoutBasket.name, detail: JSONValue) throws -> QueueMessage {
        let envelope = EventEnvelope(detailType: type.detailType, source: type.source, region: "local", detail: detail)
        return QueueMessage(messageID: UUID().uuidString, receiptHandle: "r", body: try envelope.jsonString(), receiveCount: 1, sentAt: Date())
    }

    @Test func aValidCheckoutPasses() throws {
        try CheckoutValidation.validate(Self.checkout())
    }

    @Test func eventsNoOrderShouldBeMadeFromAreRefused() {
        let cases: [(String, CheckoutBasket)] = [
            ("the total", Self.checkout(total: "40.00")),
            ("an unmasked card", Self.checkout(card: "4242424242424242")),
            ("no items", Self.checkout(total: "0", items: [])),
            ("a zero quantity", Self.checkout(total: "0", items: [OrderLine(productId: UUID(), productName: "P", quantity: 0, color: "", price: 1)])),
            ("a total beyond the money range", Self.checkout(total: "10999999999.98", items: [OrderLine(productId: UUID(), productName: "P", quantity: 2, color: "", price: Decimal(string: "5499999999.99")!)])),
        ]
        for (what, checkout) in cases {
            #expect(throws: UnprocessableMessage.self, "\(what)") { try CheckoutValidation.validate(checkout) }
        }
        var controlled = Self.checkout()
        controlled.address = "1 Main\u{0} St"
        #expect(throws: UnprocessableMessage("address holds control characters")) { try CheckoutValidation.validate(controlled) }
    }

    @Test func theHandlerMakesOneOrderPerCheckoutAndRefusesWhatItCannotRead() async throws {
        let repository = InMemoryOrderRepository()
        let saga = SagaRunner(repository: repository, stepTimeout: .seconds(10), paymentTimeout: .seconds(10))
        let handler = CheckoutHandler(saga: saga, logger: Logger(label: "ordering-rules"))
        let checkout = Self.checkout()
        let message = try Self.message(detail: try JSONValue(encoding: checkout))
        try await handler.handle(message)
        try await handler.handle(message)
        let orders = try await repository.orders(of: "ann", on: nil, limit: 10)
        #expect(orders.count == 1 && orders.first?.checkoutId == checkout.checkoutId && orders.first?.status == .pending)
        #expect(repository.published.map(\.detailType) == ["ReserveStock"], "the saga started once")

        await #expect(throws: UnprocessableMessage.self) { try await handler.handle(try Self.message(detail: .object(["checkoutId": .string("x")]))) }
        await #expect(throws: UnprocessableMessage.self) {
            try await handler.handle(try Self.message(ShopEvents.productCreated.name, detail: try JSONValue(encoding: checkout)))
        }
        let garbage = QueueMessage(messageID: "g", receiptHandle: "r", body: "not json", receiveCount: 1, sentAt: Date())
        await #expect(throws: UnprocessableMessage.self) { try await handler.handle(garbage) }
    }

    @Test func cursorsKeepMicroseconds() {
        let date = Date(timeIntervalSince1970: 1_800_000_000.123456)
        let cursor = OrderCursor(orderDate: date, orderId: UUID())
        #expect(cursor.orderDateMicroseconds == 1_800_000_000_123_456)
    }
}
