import Contracts
import Crypto
import Foundation
import Testing

@testable import NotificationService

/// The notification rules without a network: Standard Webhooks signatures (checked against Python's
/// own `hmac`), the webhook address policy (SSRF), and the e-mails' content.
@Suite struct NotificationRulesTests {
    @Test func signaturesFollowStandardWebhooks() throws {
        // The specification's example: secret, id, timestamp, body and the signature it gives.
        let signer = try #require(StandardWebhooks(secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"))
        let body = #"{"test": 2432232314}"#
        #expect(signer.signature(id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: 1614265330, body: Data(body.utf8))
                == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        #expect(signer.verify(id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: 1614265330, signatures: "v1,bogus v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
                              body: Data(body.utf8), now: Date(timeIntervalSince1970: 1614265330)))
        #expect(!signer.verify(id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: 1614265330, signatures: "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
                               body: Data(body.utf8), now: Date(timeIntervalSince1970: 1614265330 + 600)), "too old")
    }

    @Test func anIndependentImplementationVerifiesTheSignature() throws {
        let (secret, signer) = StandardWebhooks.newSecret()
        #expect(secret.hasPrefix("whsec_") && StandardWebhooks(secret: secret) != nil)
        let body = #"{"type":"OrderShipped","data":{"orderId":"1"}}"#
        let signature = signer.signature(id: "evt_1", timestamp: 1_800_000_000, body: Data(body.utf8))
        let script = """
            import base64, hashlib, hmac, sys
            secret, body, signature = sys.argv[1], sys.argv[2], sys.argv[3]
            key = base64.b64decode(secret[len("whsec_"):])
            mac = hmac.new(key, ("evt_1.1800000000." + body).encode(), hashlib.sha256).digest()
            sys.exit(0 if hmac.compare_digest("v1," + base64.b64encode(mac).decode(), signature) else 1)
            """
        let python = Process()
        python.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        python.arguments = ["python3", "-c", script, secret, body, signature]
        try python.run()
        python.waitUntilExit()
        #expect(python.terminationStatus == 0, "Python's hmac verifies what we signed")
    }

    @Test func privateAndReservedAddressesAreRefused() throws {
        let policy = WebhookAddressPolicy(allowPrivate: false)
        for refused in ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0", "224.0.0.1",
                        "::1", "::", "fe80::1", "fd00::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "64:ff9b::a00:1", "2001:db8::1", "ff02::1"] {
            let address = try #require(IPAddress(refused), "\(refused) parses")
            #expect(throws: WebhookAddressPolicy.Refusal.self, "\(refused)") { try policy.check(address) }
        }
        for allowed in ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"] {
            let address = try #require(IPAddress(allowed))
            #expect(throws: Never.self, "\(allowed)") { try policy.check(address) }
        }
        #expect(throws: Never.self) { try WebhookAddressPolicy(allowPrivate: true).check(IPAddress("127.0.0.1")!) }
        #expect(IPAddress("0177.0.0.1") == nil && IPAddress("127.1") == nil && IPAddress("0x7f.0.0.1") == nil, "ambiguous IPv4 forms are not addresses")
    }

    @Test func urlsMustBeHTTPWithAPublicHost() throws {
        let policy = WebhookAddressPolicy(allowPrivate: false)
        #expect(throws: WebhookAddressPolicy.Refusal.scheme("ftp")) { try policy.check(url: "ftp://example.com/hook") }
        #expect(throws: WebhookAddressPolicy.Refusal.scheme("file")) { try policy.check(url: "file:///etc/passwd") }
        #expect(throws: WebhookAddressPolicy.Refusal.credentials) { try policy.check(url: "https://user:pw@example.com/") }
        #expect(throws: WebhookAddressPolicy.Refusal.self) { try policy.check(url: "http://[::1]:8080/") }
        #expect(throws: WebhookAddressPolicy.Refusal.self) { try policy.check(url: "http://169.254.169.254/latest/meta-data/") }
        let target = try policy.check(url: "https://hooks.example.com/swn")
        #expect(target.host == "hooks.example.com" && target.port == 443)
    }

    @Test func eMailsSayWhatHappensAndEscapeWhatCustomersTyped() {
        let order = OrderEmail.Order(
            orderId: UUID(), userName: "ann", firstName: "Ann <b>", email: "ann@example.com",
            items: [OrderLine(productId: UUID(), productName: "IPhone X", quantity: 2, color: "Black", price: Decimal(string: "950.40")!)],
            totalPrice: Decimal(string: "1900.80")!
        )
        let shipped = OrderEmail(.shipped, order: order, carrier: "UPS", trackingNumber: "1Z0000000001")
        #expect(shipped.subject == "Your order \(order.number) is on its way" && shipped.to == "ann@example.com")
        #expect(shipped.text.contains("1Z0000000001") && shipped.text.contains("Total: $1900.80") && shipped.text.contains("2 × IPhone X (Black)"))
        #expect(shipped.html.contains("Ann &lt;b&gt;") && !shipped.html.contains("Ann <b>"))
        let cancelled = OrderEmail(.cancelled, order: order, cancellationReason: .customerCancelled)
        #expect(cancelled.text.contains("you cancelled it") && cancelled.text.contains("refunded"))
        for event in OrderEmail.Event.allCases {
            #expect(!OrderEmail(event, order: order).text.contains("4242"), "no card data")
        }
    }
}

/// Exactly once in effect: the claim before sending and the outcome after.
@Suite struct NotificationClaimTests {
    @Test func aSentMailIsNeverSentAgainAndAHandedOverOneWithoutAnswerAtMostOnceMore() throws {
        let order = UUID()
        let now = Date()
        guard case .send(let first) = NotificationRules.claim(existing: nil, orderId: order, event: .shipped, now: now, lease: .seconds(30), newID: UUID()) else {
            Issue.record("a new e-mail is sent"); return
        }
        #expect(first.status == .sending && first.resends == 0)
        #expect(NotificationRules.claim(existing: first, orderId: order, event: .shipped, now: now + 1, lease: .seconds(30), newID: UUID()) == .busy(until: try #require(first.claimedUntil)),
                "another sender holds it")
        var sent = first
        sent.status = .sent
        #expect(NotificationRules.claim(existing: sent, orderId: order, event: .shipped, now: now + 60, lease: .seconds(30), newID: UUID()) == .done(nil),
                "a redelivered event sends nothing")
        // The sender died before handing the mail over (before SMTP's final dot): it surely did not go, so
        // it is claimed again as often as that happens, without counting a resend.
        guard case .send(let retaken) = NotificationRules.claim(existing: first, orderId: order, event: .shipped, now: now + 31, lease: .seconds(30), newID: UUID()),
              case .send(let retakenAgain) = NotificationRules.claim(existing: retaken, orderId: order, event: .shipped, now: now + 62, lease: .seconds(30), newID: UUID())
        else {
            Issue.record("a claim that lapsed before its hand-off is taken again"); return
        }
        #expect(retaken.resends == 0 && retakenAgain.resends == 0 && retakenAgain.id == first.id && retakenAgain.status == .sending)
        #expect(retakenAgain.claimedUntil == now + 92)
        // The sender died after handing it over, before recording the answer: once more, then never.
        var handedOver = first
        handedOver.handedOverAt = now + 1
        guard case .send(let again) = NotificationRules.claim(existing: handedOver, orderId: order, event: .shipped, now: now + 31, lease: .seconds(30), newID: UUID()) else {
            Issue.record("an unknown outcome is sent once more"); return
        }
        #expect(again.resends == 1 && again.id == first.id && again.handedOverAt == nil)
        guard case .send(let resentAgain) = NotificationRules.claim(existing: again, orderId: order, event: .shipped, now: now + 62, lease: .seconds(30), newID: UUID()) else {
            Issue.record("the resend's own sender died before its hand-off: it is still sent"); return
        }
        #expect(resentAgain.resends == 1)
        var againHandedOver = again
        againHandedOver.handedOverAt = now + 32
        guard case .done(let givenUp?) = NotificationRules.claim(existing: againHandedOver, orderId: order, event: .shipped, now: now + 62, lease: .seconds(30), newID: UUID()) else {
            Issue.record("never a third time"); return
        }
        #expect(givenUp.status == .unconfirmed)
        // A send that failed (known not sent) is tried again without counting as a resend.
        var failed = first
        failed.status = .pending
        failed.claimedUntil = nil
        guard case .send(let retry) = NotificationRules.claim(existing: failed, orderId: order, event: .shipped, now: now + 5, lease: .seconds(30), newID: UUID()) else {
            Issue.record("a failed send is tried again"); return
        }
        #expect(retry.resends == 0 && retry.status == .sending)
    }
}
