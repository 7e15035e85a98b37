import Foundation

/// The project's mail sink (`scripts/mail_sink.py`, on aiosmtpd) as a real SMTP server for a test:
/// SMTP on `smtpPort`, the received mail as JSON on `httpPort`'s `/api/messages`.
package struct MailSink: Sendable {
    package let smtpPort: Int
    package let httpPort: Int

    package var smtpURL: String { "smtp://127.0.0.1:\(smtpPort)" }

    package func messages() async throws -> [[String: Any]] {
        let response = try await HTTP.send(.GET, "http://127.0.0.1:\(httpPort)/api/messages")
        return (try JSONSerialization.jsonObject(with: response.body) as? [[String: Any]]) ?? []
    }

    struct NotStarted: Error, CustomStringConvertible {
        var description: String { "the mail sink did not start (is aiosmtpd installed? `make test-tools`)" }
    }

    package static func with<T>(_ arguments: [String] = [], _ body: (MailSink) async throws -> T) async throws -> T {
        let smtpPort = try freePort(), httpPort = try freePort()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", repositoryRoot.appendingPathComponent("scripts/mail_sink.py").path,
                             "--smtp-port", "\(smtpPort)", "--http-port", "\(httpPort)", "--exit-with-parent"] + arguments
        try process.run()
        defer { process.terminate() }
        let deadline = ContinuousClock.now + .seconds(20)
        while (try? await HTTP.send(.GET, "http://127.0.0.1:\(httpPort)/health"))?.status != 200 {
            guard ContinuousClock.now < deadline, process.isRunning else { throw NotStarted() }
            try await Task.sleep(for: .milliseconds(100))
        }
        return try await body(MailSink(smtpPort: smtpPort, httpPort: httpPort))
    }
}
