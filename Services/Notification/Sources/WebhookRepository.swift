import Contracts
import EventBus
import Foundation
import Logging
import PostgresNIO
import ServiceKit

/// A delivery claimed for one attempt, with what is needed to make it.
package struct ClaimedDelivery: Sendable {
    package var id: UUID
    package var webhookId: UUID
    package var url: String
    package var secret: String
    package var event: String
    package var payload: String
    /// This attempt's number (1 for the first).
    package var attempt: Int
    package var createdAt: Date
}

/// Storage of the webhook endpoints and their deliveries.
package protocol WebhookRepository: Sendable {
    func createWebhook(_ input: WebhookInput, secret: String) async throws -> Webhook
    func webhooks(before cursor: TimeCursor?, limit: Int) async throws -> [Webhook]
    /// Deletes the endpoint and its deliveries; false when there was none.
    func deleteWebhook(_ id: UUID) async throws -> Bool
    func webhookExists(_ id: UUID) async throws -> Bool
    func deliveries(of webhookId: UUID, before cursor: TimeCursor?, limit: Int) async throws -> [WebhookDelivery]
    /// One delivery per endpoint subscribed to `event`, once per order and event whatever the redeliveries
    /// (the same row, so the same `webhook-id`, on every attempt).
    func enqueueDeliveries(orderId: UUID, event: String, payload: String) async throws
    /// Claims due deliveries for one attempt each, at most `limit`, leaving no endpoint with more than
    /// `maximumInFlight` attempts under way (across every replica).
    func claimDueDeliveries(limit: Int, maximumInFlight: Int, lease: Duration) async throws -> [ClaimedDelivery]
    /// Records an attempt's outcome: delivered, to be tried at `nextAttempt`, or dead (`nextAttempt` nil).
    func recordAttempt(
        _ delivery: ClaimedDelivery, statusCode: Int?, error: String?, duration: Duration, delivered: Bool, nextAttempt: Date?
    ) async throws
}

extension PostgresNotificationRepository: WebhookRepository {
    package func createWebhook(_ input: WebhookInput, secret: String) async throws -> Webhook {
        let id = UUID.random()
        let rows = try await client.query(
            """
            INSERT INTO webhooks (id, url, events, description, secret) VALUES (\(id), \(input.url), \(input.events), \(input.description), \(secret))
            RETURNING created_at
            """,
            logger: logger
        )
        for try await createdAt in rows.decode(Date.self) {
            return Webhook(id: id, url: input.url, events: input.events, description: input.description, createdAt: createdAt)
        }
        throw UnreadableValue(column: "webhooks.created_at", value: "")
    }

    package func webhooks(before cursor: TimeCursor?, limit: Int) async throws -> [Webhook] {
        let rows = try await client.query(
            """
            SELECT id, url, events, description, created_at FROM webhooks
            WHERE (\(cursor?.microseconds)::bigint IS NULL
                   OR (created_at, id) < ('epoch'::timestamptz + \(cursor?.microseconds) * interval '1 microsecond', \(cursor?.id)))
            ORDER BY created_at DESC, id DESC LIMIT \(limit)
            """,
            logger: logger
        )
        var list: [Webhook] = []
        for try await (id, url, events, description, createdAt) in rows.decode((UUID, String, [String], String?, Date).self) {
            list.append(Webhook(id: id, url: url, events: events, description: description, createdAt: createdAt))
        }
        return list
    }

    package func deleteWebhook(_ id: UUID) async throws -> Bool {
        let rows = try await client.query("DELETE FROM webhooks WHERE id = \(id) RETURNING id", logger: logger)
        for try await _ in rows.decode(UUID.self) { return true }
        return false
    }

    package func webhookExists(_ id: UUID) async throws -> Bool {
        let rows = try await client.query("SELECT id FROM webhooks WHERE id = \(id)", logger: logger)
        for try await _ in rows.decode(UUID.self) { return true }
        return false
    }

    package func deliveries(of webhookId: UUID, before cursor: TimeCursor?, limit: Int) async throws -> [WebhookDelivery] {
        let rows = try await client.query(
            """
            SELECT id, event, order_id, status, attempts, next_attempt_at, created_at, delivered_at, last_status, last_error
            FROM webhook_deliveries
            WHERE webhook_id = \(webhookId)
              AND (\(cursor?.microseconds)::bigint IS NULL
                   OR (created_at, id) < ('epoch'::timestamptz + \(cursor?.microseconds) * interval '1 microsecond', \(cursor?.id)))
            ORDER BY created_at DESC, id DESC LIMIT \(limit)
            """,
            logger: logger
        )
        var list: [WebhookDelivery] = []
        var ids: [UUID] = []
        for try await (id, event, orderId, status, attempts, next, createdAt, deliveredAt, lastStatus, lastError)
            in rows.decode((UUID, String, UUID, String, Int, Date?, Date, Date?, Int?, String?).self) {
            guard let status = WebhookDelivery.Status(rawValue: status) else { throw UnreadableValue(column: "webhook_deliveries.status", value: status) }
            ids.append(id)
            list.append(WebhookDelivery(
                id: WebhookDelivery.messageID(id), webhookId: webhookId, event: event, orderId: orderId, status: status, attempts: attempts,
                nextAttemptAt: status == .pending ? next : nil, createdAt: createdAt, deliveredAt: deliveredAt, lastStatusCode: lastStatus,
                lastError: lastError, history: []
            ))
        }
        guard !ids.isEmpty else { return list }
        let attempts = try await client.query(
            """
            SELECT delivery_id, attempt, at, status_code, error, duration_ms FROM (
                SELECT *, row_number() OVER (PARTITION BY delivery_id ORDER BY attempt DESC) AS newest FROM webhook_attempts
                WHERE delivery_id = ANY(\(ids))
            ) recent WHERE newest <= 20 ORDER BY attempt
            """,
            logger: logger
        )
        var history: [UUID: [WebhookDelivery.Attempt]] = [:]
        for try await (id, attempt, at, statusCode, error, duration) in attempts.decode((UUID, Int, Date, Int?, String?, Int).self) {
            history[id, default: []].append(WebhookDelivery.Attempt(attempt: attempt, at: at, statusCode: statusCode, error: error, durationMs: duration))
        }
        for (index, id) in ids.enumerated() { list[index].history = history[id] ?? [] }
        return list
    }

    package func enqueueDeliveries(orderId: UUID, event: String, payload: String) async throws {
        try await client.query(
            """
            INSERT INTO webhook_deliveries (id, webhook_id, order_id, event, payload)
            SELECT gen_random_uuid(), id, \(orderId), \(event), \(payload) FROM webhooks WHERE \(event) = ANY(events)
            ON CONFLICT (webhook_id, order_id, event) DO NOTHING
            """,
            logger: logger
        )
    }

    package func claimDueDeliveries(limit: Int, maximumInFlight: Int, lease: Duration) async throws -> [ClaimedDelivery] {
        let leaseMilliseconds = Int64(lease.timeInterval * 1000)
        return try await client.withTransaction(logger: logger) { connection in
            // First the endpoints with due deliveries, locked (another replica skips them) ...
            let endpoints = try await connection.query(
                """
                SELECT w.id FROM webhooks w
                WHERE EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.webhook_id = w.id AND d.status = 'pending'
                              AND d.next_attempt_at <= now() AND (d.claimed_until IS NULL OR d.claimed_until <= now()))
                ORDER BY w.id LIMIT 100 FOR UPDATE OF w SKIP LOCKED
                """,
                logger: logger
            )
            var locked: [UUID] = []
            for try await id in endpoints.decode(UUID.self) { locked.append(id) }
            guard !locked.isEmpty else { return [] }
            // ... then, in a statement that sees every claim committed before those locks were taken,
            // as many of their due deliveries as leaves each under its bound of attempts in flight.
            let rows = try await connection.query(
                """
                WITH ready AS (
                    SELECT d.id, d.webhook_id,
                           row_number() OVER (PARTITION BY d.webhook_id ORDER BY d.next_attempt_at, d.id) AS n,
                           (SELECT count(*) FROM webhook_deliveries f
                            WHERE f.webhook_id = d.webhook_id AND f.status = 'pending' AND f.claimed_until > now()) AS in_flight
                    FROM webhook_deliveries d
                    WHERE d.webhook_id = ANY(\(locked)) AND d.status = 'pending' AND d.next_attempt_at <= now()
                      AND (d.claimed_until IS NULL OR d.claimed_until <= now())
                ), chosen AS (
                    SELECT id FROM ready WHERE n + in_flight <= \(maximumInFlight) ORDER BY n, id LIMIT \(limit)
                )
                UPDATE webhook_deliveries d SET claimed_until = now() + \(leaseMilliseconds) * interval '1 millisecond', attempts = d.attempts + 1
                FROM chosen, webhooks w
                WHERE d.id = chosen.id AND w.id = d.webhook_id
                RETURNING d.id, d.webhook_id, w.url, w.secret, d.event, d.payload, d.attempts, d.created_at
                """,
                logger: logger
            )
            var claimed: [ClaimedDelivery] = []
            for try await (id, webhookId, url, secret, event, payload, attempt, createdAt) in rows.decode((UUID, UUID, String, String, String, String, Int, Date).self) {
                claimed.append(ClaimedDelivery(
                    id: id, webhookId: webhookId, url: url, secret: secret, event: event, payload: payload, attempt: attempt, createdAt: createdAt
                ))
            }
            return claimed
        }
    }

    package func recordAttempt(
        _ delivery: ClaimedDelivery, statusCode: Int?, error: String?, duration: Duration, delivered: Bool, nextAttempt: Date?
    ) async throws {
        let status: WebhookDelivery.Status = delivered ? .delivered : (nextAttempt == nil ? .dead : .pending)
        let milliseconds = Int(duration.timeInterval * 1000)
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query(
                """
                INSERT INTO webhook_attempts (delivery_id, attempt, status_code, error, duration_ms)
                SELECT id, \(delivery.attempt), \(statusCode), \(error), \(milliseconds) FROM webhook_deliveries WHERE id = \(delivery.id)
                ON CONFLICT (delivery_id, attempt) DO NOTHING
                """,
                logger: logger
            )
            // A delivered one stays delivered (another replica's late failure after an expired lease changes nothing).
            try await connection.query(
                """
                UPDATE webhook_deliveries SET status = \(status.rawValue), claimed_until = NULL, next_attempt_at = \(nextAttempt),
                    last_status = \(statusCode), last_error = \(error),
                    delivered_at = CASE WHEN \(delivered) THEN now() ELSE delivered_at END
                WHERE id = \(delivery.id) AND status = 'pending'
                """,
                logger: logger
            )
        }
    }
}

enum WebhookMigrations {
    static let all: [Migration] = [
        Migration("002_webhooks", [
            """
            CREATE TABLE webhooks (
                id UUID PRIMARY KEY,
                url TEXT NOT NULL,
                events TEXT[] NOT NULL,
                description TEXT,
                secret TEXT NOT NULL,
                created_at TIMESTAMPTZ NOT NULL DEFAULT now()
            )
            """,
            "CREATE INDEX webhooks_list ON webhooks (created_at DESC, id DESC)",
            """
            CREATE TABLE webhook_deliveries (
                id UUID PRIMARY KEY,
                webhook_id UUID NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
                order_id UUID NOT NULL,
                event TEXT NOT NULL,
                payload TEXT NOT NULL,
                status TEXT NOT NULL DEFAULT 'pending' \(unescaped: OrderLifecycleDocuments.check("status", in: WebhookDelivery.Status.allCases.map(\.rawValue))),
                attempts INT NOT NULL DEFAULT 0,
                next_attempt_at TIMESTAMPTZ DEFAULT now(),
                claimed_until TIMESTAMPTZ,
                created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
                delivered_at TIMESTAMPTZ,
                last_status INT,
                last_error TEXT,
                UNIQUE (webhook_id, order_id, event)
            )
            """,
            "CREATE INDEX webhook_deliveries_due ON webhook_deliveries (webhook_id, next_attempt_at) WHERE status = 'pending'",
            "CREATE INDEX webhook_deliveries_list ON webhook_deliveries (webhook_id, created_at DESC, id DESC)",
            """
            CREATE TABLE webhook_attempts (
                delivery_id UUID NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
                attempt INT NOT NULL,
                at TIMESTAMPTZ NOT NULL DEFAULT now(),
                status_code INT,
                error TEXT,
                duration_ms INT NOT NULL,
                PRIMARY KEY (delivery_id, attempt)
            )
            """,
        ]),
    ]
}
