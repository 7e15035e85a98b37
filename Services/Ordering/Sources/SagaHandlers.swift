import Contracts
import EventBus
import Foundation
import Logging
import Metrics
import PostgresNIO
import ServiceKit

/// Moves sagas on with the replies of product and payment from `ordering-saga`.
package struct SagaReplyHandler<Repository: OrderRepository>: MessageHandler {
    let saga: SagaRunner<Repository>
    let logger: Logger

    package init(saga: SagaRunner<Repository>, logger: Logger) {
        self.saga = saga
        self.logger = logger
    }

    package func handle(_ message: QueueMessage) async throws {
        let envelope = try EventEnvelope(message: message)
        guard let (orderId, event) = try OrderSaga.event(of: envelope) else {
            throw UnprocessableMessage("ordering-service's saga does not handle \(envelope.source)/\(envelope.detailType)")
        }
        switch try await saga.handle(event, orderId: orderId) {
        case .applied(let decision):
            logger.info("saga moved on", metadata: [
                "orderId": "\(orderId)", "event": "\(envelope.detailType)", "step": "\(decision.step.rawValue)",
                "status": "\(decision.statuses.last.map { $0.status.rawValue } ?? "-")",
            ])
        case .ignored:
            logger.info("saga reply changed nothing (late or repeated)", metadata: ["orderId": "\(orderId)", "event": "\(envelope.detailType)"])
        case .unknownOrder:
            throw UnprocessableMessage("\(envelope.detailType) for an order this service never made: \(orderId)")
        }
    }
}

/// Gives up on saga steps whose deadline passed. The deadlines are rows in the database, so a
/// restart keeps them; any number of replicas scan at once: each claims the steps it acts on (for
/// `claimLease`), and each order is still decided under its row lock against its own deadline.
package enum SagaTimeouts {
    /// How long a claimed step is left to the replica that claimed it.
    package static let claimLease: Duration = .seconds(30)

    package static func task<Repository: OrderRepository>(_ saga: SagaRunner<Repository>, every interval: Duration, gate: StartupGate?, logger: Logger) -> PeriodicTask {
        PeriodicTask("scanning saga deadlines", every: interval, gate: gate, logger: logger) {
            for orderId in try await saga.repository.claimOverdue(limit: 100, lease: claimLease) {
                if case .applied = try await saga.handle(.deadlinePassed(now: Date()), orderId: orderId) {
                    logger.warning("saga step timed out; order cancelled", metadata: ["orderId": "\(orderId)"])
                }
            }
        }
    }
}

/// `orders{status}`: how many orders are in each status (refreshed with the other gauges).
package enum OrderMetrics {
    package static func task(client: DatabasePool, every interval: Duration, gate: StartupGate?, logger: Logger) -> PeriodicTask {
        PeriodicTask("counting orders", every: interval, gate: gate, logger: logger) {
            var counts = Dictionary(uniqueKeysWithValues: OrderStatus.allCases.map { ($0.rawValue, 0) })
            let rows = try await client.query("SELECT status, count(*)::bigint FROM orders GROUP BY status", logger: logger)
            for try await (status, count) in rows.decode((String, Int).self) { counts[status] = count }
            for (status, count) in counts { Gauge(label: "orders", dimensions: [("status", status)]).record(count) }
        }
    }
}
