import EventBus
import Foundation

/// Storage of payments. One transaction per command holds the order's payment.
package protocol PaymentRepository: Sendable {
    func withPayment<T: Sendable>(orderId: UUID, _ body: @Sendable (any PaymentStore) async throws -> T) async throws -> T
    /// The payment as the API shows it; nil when the order was never charged.
    func payment(orderId: UUID) async throws -> Payment?
    /// Claims slow payments whose answer is due, for `lease` (another replica's scan passes them by).
    func claimDue(limit: Int, lease: Duration) async throws -> [UUID]
}

package protocol PaymentStore: Sendable {
    func record() async throws -> PaymentRecord?
    /// Stores the decision's record and history, and its replies in the outbox.
    func save(_ decision: PaymentRules.Decision, replies: [PublishEntry]) async throws
}

extension PaymentStore {
    /// Reads the order's record once, decides with `decide`, and saves the decision with its replies
    /// (addressed with the new record, or the stored one when the decision leaves it unchanged).
    package func apply(_ decide: (PaymentRecord?) -> PaymentRules.Decision) async throws -> PaymentRules.Decision {
        let existing = try await record()
        let decision = decide(existing)
        let replies = try (decision.record ?? existing).map { try PaymentRules.entries(decision.replies, for: $0) } ?? []
        try await save(decision, replies: replies)
        return decision
    }
}
