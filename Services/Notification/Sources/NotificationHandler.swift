import AWS
import AsyncHTTPClient
import Contracts
import EventBus
import Foundation
import Logging
import NIOPosix
import ServiceKit

/// How e-mails leave: SMTP (`SMTP_URL`), Amazon SES in aws mode, or nowhere (recorded only).
package protocol MailChannel: Sendable {
    var name: String { get }
    /// Sends `mail`, calling `handingOver` just before the point of no return (SMTP: the message is
    /// written but not its final dot; SES: before the request). When `handingOver` throws, nothing is
    /// sent and its error is thrown. After it, an unanswered send throws `MailOutcomeUnknown`.
    func send(_ mail: OutgoingMail, handingOver: @Sendable () async throws -> Void) async throws
}

package struct SMTPChannel: MailChannel {
    let client: SMTPClient
    package var name: String { "smtp" }

    package init(client: SMTPClient) {
        self.client = client
    }

    package func send(_ mail: OutgoingMail, handingOver: @Sendable () async throws -> Void) async throws {
        try await client.send(mail, handingOver: handingOver)
    }
}

/// Amazon SES v2 `SendEmail` with the raw MIME message (so the `Message-ID` and both parts are ours),
/// signed with SigV4 like the bus adapters.
package struct SESChannel: MailChannel {
    let client: AWSJSONClient
    package var name: String { "ses" }

    package init(client: AWSJSONClient) {
        self.client = client
    }

    package func send(_ mail: OutgoingMail, handingOver: @Sendable () async throws -> Void) async throws {
        try await handingOver()
        do {
            _ = try await client.post(path: "/v2/email/outbound-emails", [
                "FromEmailAddress": mail.from,
                "Destination": ["ToAddresses": [mail.to]],
                "Content": ["Raw": ["Data": Data(mail.message.utf8).base64EncodedString()]],
            ], timeout: .seconds(20))
        } catch let error as AWSError where ["MessageRejected", "MailFromDomainNotVerifiedException", "BadRequestException", "NotFoundException"].contains(error.code) {
            // Refused for good (an unverified sender, a bad address): retrying sends nothing more.
            throw SMTPError(code: 554, message: "SES refused the e-mail: \(error.code) \(error.message)")
        } catch let error as AWSError {
            // An answer that is not a success: SES did not take it.
            throw SMTPError(code: 451, message: "SES: \(error.code) \(error.message)")
        } catch let error as NIOConnectionError {
            throw SMTPError(code: 0, message: "SES not reachable: \(error)")
        } catch let error as HTTPClientError where error == .connectTimeout {
            throw SMTPError(code: 0, message: "SES not reachable: \(error)")
        } catch {
            // The request may have reached SES (a timeout, a connection lost before the answer).
            throw MailOutcomeUnknown(reason: "SES: \(error)")
        }
    }
}

/// No mail server configured: every e-mail is recorded (and listed) but goes nowhere.
package struct RecordOnlyChannel: MailChannel {
    package init() {}
    package var name: String { "none" }
    package func send(_ mail: OutgoingMail, handingOver: @Sendable () async throws -> Void) async throws { try await handingOver() }
}

/// The order events from `notification-events`: one delivery per subscribed webhook endpoint (sent by
/// `WebhookDeliverer`), and one e-mail per order and event, exactly once in effect (`NotificationRules`).
package struct NotificationHandler<Repository: NotificationRepository & WebhookRepository>: MessageHandler {
    let repository: Repository
    let channel: any MailChannel
    let from: String
    let lease: Duration
    let logger: Logger

    package init(repository: Repository, channel: any MailChannel, from: String, lease: Duration = .seconds(60), logger: Logger) {
        self.repository = repository
        self.channel = channel
        self.from = from
        self.lease = lease
        self.logger = logger
    }

    /// The order is not known yet (its `OrderCompleted` is still on its way): the message comes back later.
    struct OrderNotKnownYet: Error, CustomStringConvertible {
        let orderId: UUID
        var description: String { "no contact for order \(orderId) yet" }
    }


    package func handle(_ message: QueueMessage) async throws {
        let envelope = try EventEnvelope(message: message)
        let event: OrderEmail.Event
        let order: OrderEmail.Order
        var email: OrderEmail
        // Kept with the claim (one commit): whom the order's later e-mails go to.
        var contact: OrderEmail.Order?
        if let finished = try ShopEvents.orderCompleted.detail(of: envelope) ?? ShopEvents.orderCancelled.detail(of: envelope) {
            event = envelope.detailType == ShopEvents.orderCompleted.name.detailType ? .completed : .cancelled
            try await repository.enqueueDeliveries(orderId: finished.orderId, event: event.rawValue, payload: try WebhookPayload.body(of: envelope))
            guard let address = finished.email, let items = finished.items else {
                logger.info("no address in the order event (an order from before notifications): nothing to send", metadata: ["orderId": "\(finished.orderId)"])
                return
            }
            order = OrderEmail.Order(
                orderId: finished.orderId, userName: finished.userName, firstName: finished.firstName ?? finished.userName, email: address,
                items: items, totalPrice: finished.totalPrice
            )
            contact = order
            email = OrderEmail(event, order: order, cancellationReason: finished.cancellationReason.flatMap(CancellationReason.init(rawValue:)))
        } else if let moved = try ShopEvents.orderShipped.detail(of: envelope) ?? ShopEvents.orderDelivered.detail(of: envelope) ?? ShopEvents.orderReturned.detail(of: envelope) {
            guard let known = OrderEmail.Event(rawValue: envelope.detailType) else { throw UnprocessableMessage("not an order event: \(envelope.detailType)") }
            event = known
            try await repository.enqueueDeliveries(orderId: moved.orderId, event: event.rawValue, payload: try WebhookPayload.body(of: envelope))
            guard let stored = try await repository.order(moved.orderId) else { throw OrderNotKnownYet(orderId: moved.orderId) }
            order = stored
            email = OrderEmail(event, order: order, carrier: moved.carrier, trackingNumber: moved.trackingNumber)
        } else {
            throw UnprocessableMessage("notification-service does not handle \(envelope.source)/\(envelope.detailType)")
        }
        email.to = order.email
        switch try await repository.claim(
            orderId: order.orderId, event: event, userName: order.userName, to: email.to, subject: email.subject, channel: channel.name, lease: lease,
            remembering: contact
        ) {
        case .busy(let until):
            // Back when the claim ends (not sooner: each early receive would count towards the DLQ).
            throw RetryAfter(delay: .milliseconds(max(100, Int(until.timeIntervalSinceNow * 1000) + 200)), reason: "another sender holds this e-mail's claim")
        case .done:
            logger.info("e-mail already sent for this event", metadata: ["orderId": "\(order.orderId)", "event": "\(event.rawValue)"])
        case .send(let claim):
            let mail = OutgoingMail.compose(
                from: from, to: email.to, subject: email.subject, text: email.text, html: email.html, messageID: "\(claim.id.uuidString.lowercased())@swn-shop", date: Date()
            )
            let repository = self.repository
            do {
                // Within the lease, so that no other sender takes the claim over while this one may still send.
                try await withTimeout(lease * 0.8) {
                    try await channel.send(mail) {
                        guard try await repository.handOver(claim) else { throw ClaimTakenOver() }
                    }
                }
            } catch is ClaimTakenOver {
                // This sender outlived its lease before the hand-off and another one holds the claim: nothing
                // was sent, and the row is that sender's now.
                throw RetryAfter(delay: .milliseconds(500), reason: "the e-mail's claim was taken over")
            } catch is MailOutcomeUnknown, is TimeoutError {
                // It may have gone out (if handed over): the claim stays, and the lease rule decides after the
                // lease — sent again freely if it was not handed over, once more at most if it was.
                logger.warning("the mail server did not confirm an e-mail; the claim's lease decides whether it is sent again", metadata: [
                    "orderId": "\(order.orderId)", "event": "\(event.rawValue)",
                ])
                throw RetryAfter(delay: lease + .milliseconds(200), reason: "outcome of the send unknown")
            } catch let error as SMTPError where !error.isTransient {
                try await Self.persistently { try await repository.record(claim, status: .failed, error: error.description) }
                logger.warning("e-mail refused for good", metadata: ["orderId": "\(order.orderId)", "event": "\(event.rawValue)", "error": "\(error)"])
                return
            } catch {
                // Known not sent: the claim is released and the event comes back (backoff, then DLQ). If even
                // that cannot be recorded, the claim lapses without a hand-off: sent again freely.
                try? await Self.persistently { try await repository.record(claim, status: .pending, error: "\(error)") }
                throw error
            }
            // Sent: recorded, through a short database outage too (else it would be sent once more).
            try await Self.persistently { try await repository.record(claim, status: .sent, error: nil) }
            logger.info("e-mail sent", metadata: ["orderId": "\(order.orderId)", "event": "\(event.rawValue)", "channel": "\(channel.name)", "resend": "\(claim.resends > 0)"])
        }
    }

    /// The claim's lease passed before this sender handed its mail over, and another sender holds it.
    struct ClaimTakenOver: Error, CustomStringConvertible {
        var description: String { "the claim's lease passed and another sender holds it" }
    }

    /// `operation`, tried again for about ten seconds while it fails.
    static func persistently(_ operation: () async throws -> Void) async throws {
        var pause: Duration = .milliseconds(100)
        let deadline = ContinuousClock.now + .seconds(10)
        while true {
            do {
                return try await operation()
            } catch {
                guard ContinuousClock.now + pause < deadline, !Task.isCancelled else { throw error }
                try await Task.sleep(for: pause)
                pause = min(pause * 2, .seconds(2))
            }
        }
    }
}
