import Contracts
import EventBus
import Foundation
import ServiceKit
import Testing
import TestSupport

/// notification-service as a real process in a real shop, sending through the project's mail sink:
/// one e-mail per order event (the same `OrderCompleted` also reaches shipping: the fan-out), listed
/// for its owner only; a redelivered event sends nothing; a kill -9 between sending and recording
/// sends the e-mail at most once more, with the same Message-ID.
@Suite(.serialized) struct NotificationTests {
    static func mails(_ sink: MailSink, about orderId: String) async throws -> [[String: Any]] {
        let short = String(orderId.prefix(8)).uppercased()
        return try await sink.messages().filter { ($0["subject"] as? String ?? "").uppercased().contains(short) }
    }

    static func messageID(_ mail: [String: Any]) -> String? {
        for header in mail["headers"] as? [Any] ?? [] {
            if let pair = header as? [Any], pair.count == 2, (pair[0] as? String)?.lowercased() == "message-id" { return pair[1] as? String }
            if let field = header as? [String: Any], (field["name"] as? String)?.lowercased() == "message-id" { return field["value"] as? String }
        }
        return nil
    }

    static func notifications(_ shop: SagaTests.Shop, user: String, token: String) async throws -> HTTP.Response {
        try await HTTP.send(.GET, "\(shop.notification!.baseURL)/notification/\(user)", token: token)
    }

    /// Publishes the order's `OrderCompleted` once more, as ordering wrote it (a redelivery as the bus would make it).
    static func republishCompleted(_ shop: SagaTests.Shop, user: String, orderId: String) async throws {
        let order = try await FulfilmentTests.get(shop, user: user, orderId)
        var detail: [String: JSONValue] = ["cancellationReason": .null]
        for key in ["orderId", "checkoutId", "userName", "totalPrice", "firstName", "email", "items"] { detail[key] = order[key] }
        let event = JSONValue.object(detail)
        try await Database.withClient(shop.databases["bus"]!) { client in
            let results = try await LocalBus(client: client, logger: TestDatabase.logger).publisher.putEvents([PublishEntry(
                source: ShopEvents.orderCompleted.source,
                detailType: ShopEvents.orderCompleted.detailType, detail: event
            )])
            let succeeded = results.allSatisfy(\.succeeded)
            #expect(succeeded)
        }
    }

    /// notification-events is empty and nothing went to its dead-letter queue: the redelivery was
    /// handled (not refused as malformed).
    static func handled(_ shop: SagaTests.Shop) async throws {
        try await CheckoutToOrderTests.waitFor("notification-events drained") {
            try await Database.scalar(shop.databases["bus"]!, "SELECT count(*)::bigint FROM bus_messages WHERE queue = 'notification-events'") == 0
        }
        #expect(try await Database.scalar(shop.databases["bus"]!, "SELECT count(*)::bigint FROM bus_messages WHERE queue = 'notification-events-dlq'") == 0)
    }

    @Test func oneEmailPerOrderEventThroughSMTPListedForItsOwnerAndNeverTwice() async throws {
        try await MailSink.with { sink in
            try await SagaTests.withShop(settings: FulfilmentTests.delays(dispatch: 300, delivery: 300).merging(["SMTP_URL": sink.smtpURL]) { $1 }, shipping: true) { shop in
                let kettle = try await SagaTests.createProduct(shop, stock: 5)
                let orderId = try await SagaTests.order(shop, user: "mailann", lines: [(kettle, 2)], card: "4242424242424242")
                _ = try await FulfilmentTests.until(shop, user: "mailann", orderId, "Delivered")
                try await CheckoutToOrderTests.waitFor("three e-mails") { try await Self.mails(sink, about: orderId).count >= 3 }
                let mails = try await Self.mails(sink, about: orderId)
                #expect(mails.count == 3)
                let subjects = mails.compactMap { $0["subject"] as? String }
                #expect(subjects.contains { $0.hasSuffix("is confirmed") } && subjects.contains { $0.hasSuffix("is on its way") }
                        && subjects.contains { $0.hasSuffix("was delivered") }, "\(subjects)")
                #expect(Set(mails.compactMap(Self.messageID)).count == 3, "one Message-ID per e-mail")
                #expect(mails.allSatisfy { ($0["to"] as? [String]) == ["a@example.com"] })
                let shipped = mails.first { ($0["subject"] as? String ?? "").hasSuffix("is on its way") }
                #expect((shipped?["text"] as? String ?? "").contains("tracking number"), "the shipped e-mail carries the tracking number")
                #expect(mails.allSatisfy { !($0["text"] as? String ?? "").contains("4242424242424242") }, "no card number")

                // Listed for its owner (and admins), nobody else.
                let own = try SagaTests.json(try await Self.notifications(shop, user: "mailann", token: try await TestTokens.token("mailann")))
                #expect(own["items"]?.arrayCount == 3)
                #expect(own["items"]?[0]?["channel"] == .string("smtp") && own["items"]?[0]?["status"] == .string("sent"))
                #expect(try await Self.notifications(shop, user: "mailann", token: try await TestTokens.token("mallory")).status == 403)
                #expect(try await Self.notifications(shop, user: "mailann", token: try await TestTokens.admin()).status == 200)

                // The same OrderCompleted again (shipping gets it too and ignores it): no second e-mail.
                try await Self.republishCompleted(shop, user: "mailann", orderId: orderId)
                try await Self.handled(shop)
                #expect(try await Self.mails(sink, about: orderId).count == 3, "a redelivered event sent an e-mail again")
                #expect(try await Database.scalar(shop.databases["notification"]!, "SELECT count(*)::bigint FROM notifications") == 3)
                #expect(try await Database.scalar(shop.databases["shipping"]!, "SELECT count(*)::bigint FROM shipments") == 1)
            }
        }
    }

    /// The sink keeps the message and acknowledges it 3 s later; notification-service is killed in
    /// between, so it cannot know whether the mail went out. Restarted, it sends it once more (same
    /// Message-ID) after the claim's lease (5 s: a send may take 4 s of it), records it, and a
    /// redelivery then sends nothing.
    @Test func aKillBetweenSendingAndRecordingResendsAtMostOnce() async throws {
        try await MailSink.with(["--reply-delay-ms", "3000"]) { sink in
            let settings = FulfilmentTests.delays(dispatch: 600_000).merging(["SMTP_URL": sink.smtpURL, "NOTIFICATION_CLAIM_LEASE_MS": "5000"]) { $1 }
            try await SagaTests.withShop(settings: settings, shipping: true) { shop in
                let kettle = try await SagaTests.createProduct(shop, stock: 5)
                let orderId = try await SagaTests.order(shop, user: "mailkill", lines: [(kettle, 1)], card: "4242424242424242")
                try await CheckoutToOrderTests.waitFor("the e-mail in the sink") { try await Self.mails(sink, about: orderId).count == 1 }
                shop.notification!.kill()
                #expect(try await Database.scalar(shop.databases["notification"]!, "SELECT count(*)::bigint FROM notifications WHERE status = 'sending'") == 1)
                let restarted = try await shop.notification!.restarted()
                defer { restarted.terminate() }
                try await CheckoutToOrderTests.waitFor("the e-mail recorded as sent", timeout: .seconds(40)) {
                    try await Database.scalar(shop.databases["notification"]!, "SELECT count(*)::bigint FROM notifications WHERE status = 'sent' AND resends = 1") == 1
                }
                let mails = try await Self.mails(sink, about: orderId)
                #expect(mails.count == 2, "sent once more, not more")
                #expect(Set(mails.compactMap(Self.messageID)).count == 1, "with the same Message-ID")
                try await Self.republishCompleted(shop, user: "mailkill", orderId: orderId)
                try await Self.handled(shop)
                #expect(try await Self.mails(sink, about: orderId).count == 2, "a redelivery after the resend sent again")
            }
        }
    }

    /// The sink answers RCPT TO 3 s late for the first two mails; notification-service is killed while
    /// waiting for it, twice, so each time it dies before handing the mail over (before the final dot).
    /// Such a claim says the mail surely did not go: after each lease it is claimed again freely, and the
    /// third sender sends it — once, recorded `sent` with no resend counted (a rule that counted every
    /// lapsed claim as "maybe sent" gave it up as `unconfirmed` without ever sending it).
    @Test func aSenderKilledBeforeHandingTheMailOverTwiceStillSendsItOnce() async throws {
        try await MailSink.with(["--rcpt-delay-ms", "3000", "--rcpt-delay-count", "2"]) { sink in
            let settings = FulfilmentTests.delays(dispatch: 600_000).merging(["SMTP_URL": sink.smtpURL, "NOTIFICATION_CLAIM_LEASE_MS": "5000"]) { $1 }
            try await SagaTests.withShop(settings: settings, shipping: true) { shop in
                let database = shop.databases["notification"]!
                let claim = "SELECT coalesce(max((extract(epoch FROM claimed_until) * 1000)::bigint), 0) FROM notifications WHERE status = 'sending'"
                let kettle = try await SagaTests.createProduct(shop, stock: 5)
                let orderId = try await SagaTests.order(shop, user: "mailslow", lines: [(kettle, 1)], card: "4242424242424242")
                var sender = shop.notification!
                var restarts: [ServiceProcess] = []
                defer { restarts.forEach { $0.terminate() } }
                var lastClaim = 0
                for round in 1...2 {
                    let previous = lastClaim
                    try await CheckoutToOrderTests.waitFor("claim \(round)", timeout: .seconds(40)) { try await Database.scalar(database, claim) > previous }
                    lastClaim = try await Database.scalar(database, claim)
                    sender.kill()
                    #expect(try await Database.scalar(database, "SELECT count(*)::bigint FROM notifications WHERE handed_over_at IS NOT NULL") == 0,
                            "killed while RCPT TO waited: nothing handed over")
                    sender = try await sender.restarted()
                    restarts.append(sender)
                }
                try await CheckoutToOrderTests.waitFor("the e-mail recorded as sent", timeout: .seconds(40)) {
                    try await Database.scalar(database, "SELECT count(*)::bigint FROM notifications WHERE status = 'sent'") == 1
                }
                #expect(try await Database.scalar(database, "SELECT count(*)::bigint FROM notifications WHERE status = 'sent' AND resends = 0") == 1,
                        "no resend counted: nothing had been handed over")
                #expect(try await Self.mails(sink, about: orderId).count == 1, "sent once")
            }
        }
    }
}
