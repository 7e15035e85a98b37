import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOExtras
import NIOPosix
import NIOSSL

/// Where and how mail is sent: `SMTP_URL` as `smtp://[user:password@]host[:port][?starttls=true]` (plain,
/// or upgraded with STARTTLS, which is then required) or `smtps://…` (TLS from the first byte, port 465).
/// With a user the client authenticates (AUTH PLAIN, else LOGIN) — only over TLS, unless the host is the
/// local machine.
package struct SMTPSettings: Sendable, Equatable {
    package enum Security: String, Sendable { case none, startTLS, implicitTLS }

    package var host: String
    package var port: Int
    package var security: Security
    package var user: String?
    package var password: String?
    /// Trust roots for the server's certificate (PEM file); the system's by default.
    package var caFile: String?

    package init(host: String, port: Int, security: Security = .none, user: String? = nil, password: String? = nil, caFile: String? = nil) {
        self.host = host
        self.port = port
        self.security = security
        self.user = user
        self.password = password
        self.caFile = caFile
    }

    package init?(url: String, caFile: String? = nil) {
        guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased(),
              scheme == "smtp" || scheme == "smtps", let host = components.host, !host.isEmpty else { return nil }
        let starttls = components.queryItems?.first { $0.name == "starttls" }?.value?.lowercased() == "true"
        self.init(
            host: host, port: components.port ?? (scheme == "smtps" ? 465 : 25),
            security: scheme == "smtps" ? .implicitTLS : (starttls ? .startTLS : .none),
            user: components.user?.removingPercentEncoding, password: components.password?.removingPercentEncoding, caFile: caFile
        )
    }
}

/// One mail to send: the envelope and the RFC 5322 message.
package struct OutgoingMail: Sendable, Equatable {
    package var from: String
    package var to: String
    package var message: String

    package init(from: String, to: String, message: String) {
        self.from = from
        self.to = to
        self.message = message
    }

    /// A `multipart/alternative` message with a plain-text and an HTML part (base64, UTF-8) and the
    /// given `Message-ID` — the same for every attempt, so a resent mail is recognisably the same one.
    package static func compose(from: String, to: String, subject: String, text: String, html: String, messageID: String, date: Date) -> OutgoingMail {
        let boundary = "swn-" + messageID.filter { $0.isLetter || $0.isNumber }.prefix(24)
        func part(_ type: String, _ body: String) -> String {
            let encoded = Data(body.utf8).base64EncodedString(options: [.lineLength76Characters, .endLineWithCarriageReturn, .endLineWithLineFeed])
            return "--\(boundary)\r\nContent-Type: \(type); charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n\(encoded)\r\n"
        }
        let headers = [
            "From: SWN Shop <\(from)>", "To: <\(to)>", "Subject: \(encodedWord(subject))", "Date: \(rfc5322(date))",
            "Message-ID: <\(messageID)>", "MIME-Version: 1.0", "Content-Type: multipart/alternative; boundary=\"\(boundary)\"",
        ]
        let message = headers.joined(separator: "\r\n") + "\r\n\r\n" + part("text/plain", text) + part("text/html", html) + "--\(boundary)--\r\n"
        return OutgoingMail(from: from, to: to, message: message)
    }

    /// A header value as an RFC 2047 encoded word when it is not plain ASCII.
    static func encodedWord(_ value: String) -> String {
        guard value.utf8.contains(where: { $0 >= 0x80 || $0 < 0x20 }) else { return value }
        return "=?UTF-8?B?" + Data(value.utf8).base64EncodedString() + "?="
    }

    static func rfc5322(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss '+0000'"
        return formatter.string(from: date)
    }
}

package struct SMTPError: Error, CustomStringConvertible, Equatable {
    /// The server's reply code (0: no reply, e.g. the connection closed).
    package var code: Int
    package var message: String
    /// A 4xx reply or a broken connection: trying again later may succeed.
    package var isTransient: Bool { code == 0 || (400..<500).contains(code) }
    package var description: String { "SMTP \(code): \(message)" }
}

/// The message was handed over but no answer came (a timeout or a closed connection after DATA's
/// final dot): it may have been sent. Not the same as a failure, which is known not to have sent it.
package struct MailOutcomeUnknown: Error, CustomStringConvertible {
    package var reason: String
    package var description: String { "the mail server did not confirm the message (\(reason)): it may have been sent" }
}

/// A small SMTP client (RFC 5321) over SwiftNIO: EHLO, STARTTLS, AUTH PLAIN/LOGIN, MAIL FROM, RCPT TO,
/// DATA, QUIT — one connection per mail, every step within `timeout`.
package struct SMTPClient: Sendable {
    package let settings: SMTPSettings
    package let timeout: Duration
    let group: any EventLoopGroup

    package init(settings: SMTPSettings, timeout: Duration = .seconds(15), group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.settings = settings
        self.timeout = timeout
        self.group = group
    }

    /// Sends `mail`; `handingOver` runs when the message is written but not its final dot — the last
    /// moment the server cannot have taken it. If it throws, the connection is closed without the dot
    /// (the server discards the message) and its error is thrown.
    package func send(_ mail: OutgoingMail, handingOver: @Sendable () async throws -> Void = {}) async throws {
        let tls = try settings.security == .none ? nil : makeTLSContext()
        let replies = SMTPReplies()
        let channel = try await ClientBootstrap(group: group)
            .connectTimeout(.init(timeout))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if self.settings.security == .implicitTLS, let tls {
                        try channel.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: tls, serverHostname: self.serverHostname))
                    }
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(LineBasedFrameDecoder()))
                    try channel.pipeline.syncOperations.addHandler(SMTPReplyHandler(replies: replies))
                }
            }
            .connect(host: settings.host, port: settings.port).get()
        do {
            try await conversation(channel, replies: replies, tls: tls, mail: mail, handingOver: handingOver)
            channel.close(promise: nil)
        } catch {
            channel.close(promise: nil)
            throw error
        }
    }

    var serverHostname: String? { IPAddress(settings.host) == nil ? settings.host : nil }

    func makeTLSContext() throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        if let caFile = settings.caFile { configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caFile)) }
        return try NIOSSLContext(configuration: configuration)
    }

    func conversation(
        _ channel: any Channel, replies: SMTPReplies, tls: NIOSSLContext?, mail: OutgoingMail, handingOver: @Sendable () async throws -> Void
    ) async throws {
        func expect(_ codes: ClosedRange<Int>, after line: String?) async throws -> SMTPReply {
            if let line { try await channel.writeAndFlush(ByteBuffer(string: line + "\r\n")) }
            let reply = try await replies.next(timeout: timeout)
            guard codes.contains(reply.code) else {
                throw SMTPError(code: reply.code, message: "\(line.map { String($0.prefix(10)) } ?? "greeting"): \(reply.text)")
            }
            return reply
        }
        let name = ProcessInfo.processInfo.hostName.isEmpty ? "swn-shop" : ProcessInfo.processInfo.hostName
        _ = try await expect(220...220, after: nil)
        var capabilities = try await expect(250...250, after: "EHLO \(name)").lines
        var secure = settings.security == .implicitTLS
        if settings.security == .startTLS {
            guard capabilities.contains(where: { $0.uppercased() == "STARTTLS" }) else {
                throw SMTPError(code: 530, message: "the server does not offer STARTTLS, which SMTP_URL requires")
            }
            _ = try await expect(220...220, after: "STARTTLS")
            guard let tls else { throw SMTPError(code: 0, message: "no TLS context") }
            try await channel.pipeline.addHandler(try NIOSSLClientHandler(context: tls, serverHostname: serverHostname), position: .first).get()
            secure = true
            capabilities = try await expect(250...250, after: "EHLO \(name)").lines
        }
        if let user = settings.user {
            let local = ["localhost", "127.0.0.1", "::1"].contains(settings.host)
            guard secure || local else { throw SMTPError(code: 538, message: "refusing to send a password without TLS (use smtps:// or ?starttls=true)") }
            let mechanisms = capabilities.first { $0.uppercased().hasPrefix("AUTH") }?.uppercased().split(separator: " ").dropFirst().map(String.init) ?? []
            let password = settings.password ?? ""
            if mechanisms.contains("PLAIN") || !mechanisms.contains("LOGIN") {
                let token = Data(("\0" + user + "\0" + password).utf8).base64EncodedString()
                _ = try await expect(235...235, after: "AUTH PLAIN \(token)")
            } else {
                _ = try await expect(334...334, after: "AUTH LOGIN")
                _ = try await expect(334...334, after: Data(user.utf8).base64EncodedString())
                _ = try await expect(235...235, after: Data(password.utf8).base64EncodedString())
            }
        }
        _ = try await expect(250...250, after: "MAIL FROM:<\(try Self.address(mail.from))>")
        _ = try await expect(250...251, after: "RCPT TO:<\(try Self.address(mail.to))>")
        _ = try await expect(354...354, after: "DATA")
        try await channel.writeAndFlush(ByteBuffer(string: Self.dotStuffed(mail.message)))
        try await handingOver()
        // Once the message's final dot is out, no answer means the server may have taken it.
        do {
            _ = try await expect(250...250, after: ".")
        } catch let error as SMTPError where error.code != 0 {
            throw error
        } catch {
            throw MailOutcomeUnknown(reason: "\(error)")
        }
        _ = try? await expect(221...221, after: "QUIT")
    }

    /// An envelope address: no line breaks or angle brackets can smuggle another command in.
    static func address(_ address: String) throws -> String {
        guard !address.isEmpty, !address.contains(where: { $0 == "\r" || $0 == "\n" || $0 == "<" || $0 == ">" || $0 == " " }) else {
            throw SMTPError(code: 501, message: "not an address: \(address.prefix(80))")
        }
        return address
    }

    /// The message with CRLF line ends and every line that starts with "." doubled (RFC 5321 4.5.2),
    /// ending in CRLF.
    static func dotStuffed(_ message: String) -> String {
        let lines = message.replacingOccurrences(of: "\r\n", with: "\n").split(separator: "\n", omittingEmptySubsequences: false)
        var body = lines.map { $0.hasPrefix(".") ? "." + $0 : String($0) }.joined(separator: "\r\n")
        if !body.hasSuffix("\r\n") { body += "\r\n" }
        return body
    }
}

/// One reply: its code and its lines (without the code).
struct SMTPReply: Sendable {
    var code: Int
    var lines: [String]
    var text: String { lines.joined(separator: " ") }
}

/// The replies read so far, handed to the conversation one at a time.
final class SMTPReplies: Sendable {
    private struct State {
        var ready: [Result<SMTPReply, SMTPError>] = []
        var waiting: CheckedContinuation<SMTPReply, any Error>?
    }
    private let state = NIOLockedValueBox(State())

    func deliver(_ result: Result<SMTPReply, SMTPError>) {
        let waiting = state.withLockedValue { state -> CheckedContinuation<SMTPReply, any Error>? in
            if let waiting = state.waiting {
                state.waiting = nil
                return waiting
            }
            state.ready.append(result)
            return nil
        }
        waiting?.resume(with: result.mapError { $0 as any Error })
    }

    func next(timeout: Duration) async throws -> SMTPReply {
        try await withThrowingTaskGroup(of: SMTPReply.self) { group in
            group.addTask {
                try await withCheckedThrowingContinuation { continuation in
                    let ready = self.state.withLockedValue { state -> Result<SMTPReply, SMTPError>? in
                        if !state.ready.isEmpty { return state.ready.removeFirst() }
                        state.waiting = continuation
                        return nil
                    }
                    if let ready { continuation.resume(with: ready.mapError { $0 as any Error }) }
                }
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                self.deliver(.failure(SMTPError(code: 0, message: "no reply within \(timeout)")))
                throw SMTPError(code: 0, message: "no reply within \(timeout)")
            }
            let reply = try await group.next()!
            group.cancelAll()
            return reply
        }
    }
}

/// Gathers the lines of each reply ("250-…" continues, "250 …" ends it).
final class SMTPReplyHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    let replies: SMTPReplies
    private let pending = NIOLockedValueBox<[String]>([])

    init(replies: SMTPReplies) {
        self.replies = replies
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        let line = (buffer.readString(length: buffer.readableBytes) ?? "").trimmingCharacters(in: .init(charactersIn: "\r"))
        guard line.count >= 3, let code = Int(line.prefix(3)) else {
            replies.deliver(.failure(SMTPError(code: 0, message: "not an SMTP reply: \(line.prefix(80))")))
            return
        }
        let text = line.count > 4 ? String(line.dropFirst(4)) : ""
        let done = line.count == 3 || line[line.index(line.startIndex, offsetBy: 3)] == " "
        let lines = pending.withLockedValue { pending -> [String]? in
            pending.append(text)
            guard done else { return nil }
            defer { pending = [] }
            return pending
        }
        if let lines { replies.deliver(.success(SMTPReply(code: code, lines: lines))) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        replies.deliver(.failure(SMTPError(code: 0, message: "the server closed the connection")))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        replies.deliver(.failure(SMTPError(code: 0, message: "\(error)")))
        context.close(promise: nil)
    }
}
