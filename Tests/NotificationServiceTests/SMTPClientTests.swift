import Foundation
import Testing
import TestSupport

@testable import NotificationService

/// The SMTP client against a real SMTP server: the project's mail sink (`scripts/mail_sink.py`, on
/// aiosmtpd), plain, and with STARTTLS and AUTH against a certificate made for the test.
@Suite(.serialized) struct SMTPClientTests {
    typealias Sink = MailSink

    static func withSink(_ arguments: [String] = [], _ body: (Sink) async throws -> Void) async throws {
        try await MailSink.with(arguments, body)
    }

    static let mail = OutgoingMail.compose(
        from: "shop@swn.local", to: "ann@example.com", subject: "Your order 1DBE955A is on its way ✓", text: "Hello Ann,\n.dot line\nTotal: $1.00",
        html: "<p>Hello <b>Ann</b></p>", messageID: "0b6d4b1e-order-shipped@swn-shop", date: Date(timeIntervalSince1970: 1_800_000_000)
    )

    @Test func plainSMTPDeliversBothPartsWithTheMessageID() async throws {
        try await Self.withSink { sink in
            try await SMTPClient(settings: try #require(SMTPSettings(url: "smtp://127.0.0.1:\(sink.smtpPort)"))).send(Self.mail)
            let message = try #require(try await sink.messages().first)
            #expect(message["subject"] as? String == "Your order 1DBE955A is on its way ✓")
            #expect((message["text"] as? String)?.contains(".dot line") == true, "a line starting with a dot survives dot-stuffing")
            #expect((message["html"] as? String)?.contains("<b>Ann</b>") == true)
            #expect(((message["headers"] as? [String: Any])?["Message-ID"] as? String)?.contains("0b6d4b1e-order-shipped@swn-shop") == true
                    || "\(message["headers"] ?? "")".contains("0b6d4b1e-order-shipped@swn-shop"))
        }
    }

    @Test func startTLSAndAuthAreUsedWhenTheURLAsksForThem() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("smtp-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let cert = directory.appendingPathComponent("cert.pem").path, key = directory.appendingPathComponent("key.pem").path
        let openssl = Process()
        openssl.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        openssl.arguments = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "1",
                             "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"]
        openssl.standardError = FileHandle.nullDevice
        try openssl.run()
        openssl.waitUntilExit()
        try await Self.withSink(["--tls-cert", cert, "--tls-key", key, "--auth", "--hostname", "localhost"]) { sink in
            // Without STARTTLS the password is not sent over a plain connection to a remote name, and
            // the sink (which requires AUTH) refuses the mail: a client that skipped AUTH would fail here.
            let refused = try #require(SMTPSettings(url: "smtp://127.0.0.1:\(sink.smtpPort)"))
            await #expect(throws: SMTPError.self) { try await SMTPClient(settings: refused).send(Self.mail) }
            let secure = try #require(SMTPSettings(url: "smtp://shop%40swn:se%3Acret@localhost:\(sink.smtpPort)?starttls=true", caFile: cert))
            #expect(secure.user == "shop@swn" && secure.password == "se:cret" && secure.security == .startTLS)
            try await SMTPClient(settings: secure).send(Self.mail)
            let message = try #require(try await sink.messages().first)
            let session = message["smtp"] as? [String: Any]
            #expect(session?["tls"] as? Bool == true && session?["authUser"] as? String == "shop@swn", "\(session ?? [:])")
        }
    }

    /// The server keeps the message but does not answer its final dot in time: the client cannot know
    /// it was sent, and says so (not a failure, which would make it send again freely).
    @Test func noAnswerToTheMessageIsAnUnknownOutcome() async throws {
        try await Self.withSink(["--reply-delay-ms", "3000"]) { sink in
            let client = SMTPClient(settings: try #require(SMTPSettings(url: sink.smtpURL)), timeout: .seconds(1))
            await #expect(throws: MailOutcomeUnknown.self) { try await client.send(Self.mail) }
            #expect(try await sink.messages().count == 1, "the sink kept it")
        }
    }

    /// The hand-off runs when the whole message is written but not its final dot: when it throws, the
    /// server never takes the message (and the error is the hand-off's); when it returns, the mail goes.
    @Test func theHandOffComesJustBeforeTheFinalDot() async throws {
        struct NoHandOff: Error {}
        try await Self.withSink { sink in
            let client = SMTPClient(settings: try #require(SMTPSettings(url: sink.smtpURL)))
            await #expect(throws: NoHandOff.self) { try await client.send(Self.mail) { throw NoHandOff() } }
            try await Task.sleep(for: .milliseconds(300))
            #expect(try await sink.messages().isEmpty, "a message without its final dot was taken")
            let calls = Calls()
            try await client.send(Self.mail) { await calls.add() }
            #expect(await calls.count == 1)
            #expect(try await sink.messages().count == 1)
        }
    }

    actor Calls {
        var count = 0
        func add() { count += 1 }
    }

    @Test func settingsComeFromTheURL() throws {
        #expect(SMTPSettings(url: "smtp://mail.example.com") == SMTPSettings(host: "mail.example.com", port: 25))
        #expect(SMTPSettings(url: "smtps://mail.example.com")?.port == 465 && SMTPSettings(url: "smtps://mail.example.com")?.security == .implicitTLS)
        #expect(SMTPSettings(url: "http://mail.example.com") == nil && SMTPSettings(url: "smtp://") == nil)
        #expect(throws: SMTPError.self) { try SMTPClient.address("a@b.c>\r\nRCPT TO:<evil@x") }
        #expect(SMTPClient.dotStuffed("a\n.b\n..c") == "a\r\n..b\r\n...c\r\n")
    }
}
