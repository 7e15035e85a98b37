import Contracts
import EventBus
import Foundation
import Logging
import Testing

@testable import PaymentService

/// The simulated provider's test cards and idempotency, without a database.
@Suite struct PaymentRulesTests {
    static func charge(_ card: String, order: UUID = UUID()) -> ChargePayment {
        ChargePayment(orderId: order, userName: "ann", amount: Decimal(string: "39.98")!, cardInfo: "**** **** **** \(card)")
    }

    @Test func testCardsDecide() {
        let now = Date()
        #expect(PaymentRules.charge(Self.charge("4242"), existing: nil, now: now, slowDelay: .seconds(30)).replies == [.approved])
        #expect(PaymentRules.charge(Self.charge("0002"), existing: nil, now: now, slowDelay: .seconds(30)).replies == [.declined("card_declined")])
        #expect(PaymentRules.charge(Self.charge("9995"), existing: nil, now: now, slowDelay: .seconds(30)).replies == [.declined("insufficient_funds")])
        let slow = PaymentRules.charge(Self.charge("0077"), existing: nil, now: now, slowDelay: .seconds(30))
        #expect(slow.replies.isEmpty && slow.record?.state == .pending && slow.record?.decideAt == now + 30)
    }

    @Test func chargesAndRefundsAreIdempotentPerOrder() {
        let now = Date()
        let approved = PaymentRules.charge(Self.charge("4242"), existing: nil, now: now, slowDelay: .seconds(1))
        let again = PaymentRules.charge(Self.charge("4242"), existing: approved.record, now: now, slowDelay: .seconds(1))
        #expect(again.record == nil && again.history.isEmpty && again.replies == [.approved], "the same answer, nothing stored twice")
        let refunded = PaymentRules.refund(orderId: approved.record!.orderId, existing: approved.record)
        #expect(refunded.record?.state == .refunded && refunded.replies == [.refunded])
        #expect(PaymentRules.refund(orderId: approved.record!.orderId, existing: refunded.record) == PaymentRules.Decision(), "a second refund changes nothing")
        #expect(PaymentRules.charge(Self.charge("4242"), existing: refunded.record, now: now, slowDelay: .seconds(1)) == PaymentRules.Decision(), "no charge after a refund")
    }

    @Test func aRefundBeforeTheChargeVoidsIt() {
        let order = UUID()
        let voided = PaymentRules.refund(orderId: order, existing: nil)
        #expect(voided.record?.state == .voided && voided.replies.isEmpty)
        let late = PaymentRules.charge(Self.charge("4242", order: order), existing: voided.record, now: Date(), slowDelay: .seconds(1))
        #expect(late == PaymentRules.Decision(), "a late charge takes nothing")
    }

    @Test func aSlowPaymentRefundedMeanwhileIsApprovedThenRefunded() {
        let slow = PaymentRules.charge(Self.charge("0077"), existing: nil, now: Date(), slowDelay: .seconds(1)).record!
        let asked = PaymentRules.refund(orderId: slow.orderId, existing: slow)
        #expect(asked.record?.refundRequested == true && asked.replies.isEmpty)
        let answered = PaymentRules.decide(asked.record!)
        #expect(answered.record?.state == .refunded)
        #expect(answered.history.map(\.status) == [.approved, .refunded])
        #expect(answered.replies == [.approved, .refunded])
        #expect(PaymentRules.decide(PaymentRules.decide(slow).record!) == PaymentRules.Decision(), "answered once")
    }

    @Test func theHandlerRecordsRepliesAndTheAPIView() async throws {
        let repository = InMemoryPaymentRepository()
        let handler = PaymentCommandHandler(repository: repository, slowDelay: .seconds(30), logger: Logger(label: "payment-test"))
        let command = Self.charge("0002")
        let envelope = EventEnvelope(detailType: "ChargePayment", source: "com.swn.ordering", region: "local", detail: try JSONValue(encoding: command))
        let message = QueueMessage(messageID: "m", receiptHandle: "r", body: try envelope.jsonString(), receiveCount: 1, sentAt: Date())
        try await handler.handle(message)
        try await handler.handle(message)
        let payment = try #require(try await repository.payment(orderId: command.orderId))
        #expect(payment.status == .declined && payment.history.count == 1 && payment.history.first?.reason == "card_declined")
        #expect(repository.published.map(\.detailType) == ["PaymentDeclined", "PaymentDeclined"], "a repeated command gets the same answer")
        #expect(try await repository.payment(orderId: UUID()) == nil, "never charged")
    }
}
