import EventBus
import Foundation

/// Storage of payments. One transaction per command holds the order's payment.
package protocol PaymentRepository: Sendable {
    func withPayment<T: Sendable>(orderId: UUID, _ body: @Sendable (any PaymentStore) async throws -> T) async throws -> T
    /// The payment as the API shows it; nil when the order was never charged.
    func payment(orderId: UUID) async throws -> Payment?
    /// Slow payments whose answer is due.
    func due(limit: Int) async throws -> [UUID]
}

package protocol PaymentStore: Sendable {
    func record() async throws -> PaymentRecord?
    /// Stores the decision's record and history, and its replies in the outbox.
    func save(_ decision: PaymentRules.Decision, replies: [PublishEntry]) async throws
}
