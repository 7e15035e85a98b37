import Contracts
import EventBus
import Foundation
import ServiceKit

/// A payment as `GET /payment/{orderId}` shows it.
package struct Payment: Codable, Sendable, Equatable {
    package enum Status: String, Codable, Sendable { case approved = "Approved", declined = "Declined", refunded = "Refunded" }

    package struct Change: Codable, Sendable, Equatable {
        package var status: Status
        package var at: Date
        package var reason: String?

        package init(status: Status, at: Date, reason: String? = nil) {
            self.status = status
            self.at = at
            self.reason = reason
        }
    }

    package var orderId: UUID
    package var amount: Decimal
    package var status: Status
    package var history: [Change]
}

/// What the provider keeps of one order's payment. `pending`: a slow card whose answer comes at
/// `decideAt`; `voided`: a refund that came before any charge, so that a late charge takes nothing.
package struct PaymentRecord: Sendable, Equatable {
    package enum State: String, Sendable { case pending, approved, declined, refunded, voided }

    package var orderId: UUID
    package var userName: String
    package var amount: Decimal
    package var cardLast4: String
    package var state: State
    package var reason: String?
    package var decideAt: Date?
    /// A refund was asked for while the answer was pending: it follows the approval at once.
    package var refundRequested: Bool

    package init(orderId: UUID, userName: String, amount: Decimal, cardLast4: String, state: State, reason: String? = nil, decideAt: Date? = nil, refundRequested: Bool = false) {
        self.orderId = orderId
        self.userName = userName
        self.amount = amount
        self.cardLast4 = cardLast4
        self.state = state
        self.reason = reason
        self.decideAt = decideAt
        self.refundRequested = refundRequested
    }

    /// Whether the order was ever charged (or declined): what `GET /payment/{orderId}` shows.
    package var isVisible: Bool { [.approved, .declined, .refunded].contains(state) }
}

/// The simulated provider's rules, like a provider's test cards: by the card's last four digits,
/// `0002` is declined (`card_declined`), `9995` declined (`insufficient_funds`), `0077` approved only
/// after a delay, anything else approved. Charges and refunds are idempotent per order.
package enum PaymentRules {
    package enum Reply: Sendable, Equatable { case approved, declined(String), refunded }

    package struct Decision: Sendable, Equatable {
        /// The record to store (nil: unchanged).
        package var record: PaymentRecord?
        /// What the history gains.
        package var history: [(status: Payment.Status, reason: String?)]
        package var replies: [Reply]

        package init(record: PaymentRecord? = nil, history: [(status: Payment.Status, reason: String?)] = [], replies: [Reply] = []) {
            self.record = record
            self.history = history
            self.replies = replies
        }

        package static func == (a: Decision, b: Decision) -> Bool {
            a.record == b.record && a.history.map(\.status) == b.history.map(\.status) && a.history.map(\.reason) == b.history.map(\.reason) && a.replies == b.replies
        }
    }

    package static func charge(_ command: ChargePayment, existing: PaymentRecord?, now: Date, slowDelay: Duration) -> Decision {
        if let existing {
            // The same command again: the same answer (or none yet, or none at all after a void).
            switch existing.state {
            case .approved: return Decision(replies: [.approved])
            case .declined: return Decision(replies: [.declined(existing.reason ?? "card_declined")])
            case .refunded, .pending, .voided: return Decision()
            }
        }
        let last4 = String(command.cardInfo.filter(\.isNumber).suffix(4))
        var record = PaymentRecord(orderId: command.orderId, userName: command.userName, amount: command.amount, cardLast4: last4, state: .approved)
        switch last4 {
        case "0002", "9995":
            record.state = .declined
            record.reason = last4 == "0002" ? "card_declined" : "insufficient_funds"
            return Decision(record: record, history: [(.declined, record.reason)], replies: [.declined(record.reason!)])
        case "0077":
            record.state = .pending
            record.decideAt = now + slowDelay.timeInterval
            return Decision(record: record)
        default:
            return Decision(record: record, history: [(.approved, nil)], replies: [.approved])
        }
    }

    /// The slow card's answer, once its time came: approved (and refunded at once if a refund was
    /// asked for meanwhile).
    package static func decide(_ record: PaymentRecord) -> Decision {
        guard record.state == .pending else { return Decision() }
        var approved = record
        approved.decideAt = nil
        guard record.refundRequested else {
            approved.state = .approved
            return Decision(record: approved, history: [(.approved, nil)], replies: [.approved])
        }
        approved.state = .refunded
        return Decision(record: approved, history: [(.approved, nil), (.refunded, "the order was cancelled")], replies: [.approved, .refunded])
    }

    package static func refund(orderId: UUID, existing: PaymentRecord?) -> Decision {
        guard var record = existing else {
            return Decision(record: PaymentRecord(orderId: orderId, userName: "", amount: 0, cardLast4: "", state: .voided))
        }
        switch record.state {
        case .approved:
            record.state = .refunded
            return Decision(record: record, history: [(.refunded, "the order was cancelled")], replies: [.refunded])
        case .pending:
            record.refundRequested = true
            return Decision(record: record)
        case .declined, .refunded, .voided:
            return Decision()
        }
    }

    /// The reply messages of a decision.
    package static func entries(_ replies: [Reply], for record: PaymentRecord) throws -> [PublishEntry] {
        try replies.map { reply in
            switch reply {
            case .approved: try ShopEvents.paymentApproved.entry(PaymentOutcome(orderId: record.orderId, amount: record.amount))
            case .declined(let reason): try ShopEvents.paymentDeclined.entry(PaymentOutcome(orderId: record.orderId, amount: record.amount, reason: reason))
            case .refunded: try ShopEvents.paymentRefunded.entry(PaymentOutcome(orderId: record.orderId, amount: record.amount))
            }
        }
    }
}
