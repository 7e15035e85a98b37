import EventBus
import Foundation
import ServiceKit
import Synchronization

/// Payments in memory: for tests of the rules, the handlers and the API without a database.
package final class InMemoryPaymentRepository: PaymentRepository {
    struct Entry {
        var record: PaymentRecord
        var history: [Payment.Change]
    }

    private let entries = Mutex<[UUID: Entry]>([:])
    private let outbox = Mutex<[PublishEntry]>([])
    private let transaction = AsyncLock()

    package init() {}

    package var published: [PublishEntry] { outbox.withLock { $0 } }

    package func withPayment<T: Sendable>(orderId: UUID, _ body: @Sendable (any PaymentStore) async throws -> T) async throws -> T {
        try await transaction.run { try await body(Store(repository: self, orderId: orderId)) }
    }

    package func payment(orderId: UUID) async throws -> Payment? {
        entries.withLock { entries in
            guard let entry = entries[orderId], entry.record.isVisible else { return nil }
            let status: Payment.Status = entry.record.state == .refunded ? .refunded : entry.record.state == .declined ? .declined : .approved
            return Payment(orderId: orderId, amount: entry.record.amount, status: status, history: entry.history)
        }
    }

    package func claimDue(limit: Int, lease: Duration) async throws -> [UUID] {
        let now = Date()
        return entries.withLock { entries in
            let due = entries.values.filter { $0.record.state == .pending && ($0.record.decideAt.map { $0 <= now } ?? false) }.prefix(limit).map(\.record.orderId)
            for id in due { entries[id]?.record.decideAt = now + lease.timeInterval }
            return due
        }
    }

    struct Store: PaymentStore {
        let repository: InMemoryPaymentRepository
        let orderId: UUID

        func record() async throws -> PaymentRecord? { repository.entries.withLock { $0[orderId]?.record } }

        func save(_ decision: PaymentRules.Decision, replies: [PublishEntry]) async throws {
            repository.entries.withLock { entries in
                var entry = entries[orderId] ?? decision.record.map { Entry(record: $0, history: []) }
                if let record = decision.record { entry?.record = record }
                entry?.history += decision.history.map { Payment.Change(status: $0.status, at: Date(), reason: $0.reason) }
                entries[orderId] = entry
            }
            repository.outbox.withLock { $0 += replies }
        }
    }
}
