import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOPosix
import ServiceKit
import ServiceLifecycle
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Resolves a host name to the addresses a connection would use.
package protocol HostResolver: Sendable {
    func addresses(of host: String, port: Int) async throws -> [IPAddress]
}

/// The system's resolver (`getaddrinfo`, off the event loops).
package struct SystemResolver: HostResolver {
    package init() {}

    struct Failure: Error, CustomStringConvertible {
        let host: String
        let code: Int32
        var description: String { "\(host) does not resolve (\(String(cString: gai_strerror(code))))" }
    }

    package func addresses(of host: String, port: Int) async throws -> [IPAddress] {
        if let literal = IPAddress(host) { return [literal] }
        return try await NIOThreadPool.singleton.runIfActive {
            var hints = addrinfo()
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
            var list: UnsafeMutablePointer<addrinfo>?
            let code = getaddrinfo(host, String(port), &hints, &list)
            guard code == 0 else { throw Failure(host: host, code: code) }
            defer { freeaddrinfo(list) }
            var found: [IPAddress] = []
            var cursor = list
            while let entry = cursor {
                if let address = entry.pointee.ai_addr {
                    switch entry.pointee.ai_family {
                    case AF_INET:
                        let ipv4 = address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr.s_addr }
                        found.append(.v4(UInt32(bigEndian: ipv4)))
                    case AF_INET6:
                        let bytes = address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { pointer in
                            withUnsafeBytes(of: pointer.pointee.sin6_addr) { Array($0) }
                        }
                        found.append(.v6(bytes))
                    default:
                        break
                    }
                }
                cursor = entry.pointee.ai_next
            }
            return found
        }
    }
}

/// One attempt's outcome.
package struct WebhookAttemptOutcome: Sendable, Equatable {
    package var statusCode: Int?
    package var error: String?
    package var delivered: Bool { statusCode.map { (200..<300).contains($0) } ?? false }
}

/// Makes one signed POST to an endpoint: the URL's form and every address its host resolves to are
/// checked against `WebhookAddressPolicy`, and the connection goes to the address that was checked
/// (no second lookup a rebinding DNS server could answer differently). Redirects are not followed;
/// the attempt has a deadline.
package struct WebhookSender: Sendable {
    let policy: WebhookAddressPolicy
    let resolver: any HostResolver
    let timeout: Duration

    package init(policy: WebhookAddressPolicy, resolver: any HostResolver = SystemResolver(), timeout: Duration) {
        self.policy = policy
        self.resolver = resolver
        self.timeout = timeout
    }

    /// The address to connect to for `url`, or the reason there is none.
    package func address(for url: String) async throws -> (host: String, address: IPAddress) {
        let (host, port) = try policy.check(url: url)
        let addresses = try await withTimeout(.seconds(5)) { try await resolver.addresses(of: host, port: port) }
        guard let first = addresses.first else { throw WebhookAddressPolicy.Refusal.noHost }
        // Every address, not only the first: a name that also resolves to a private address is refused.
        for address in addresses { try policy.check(address) }
        return (host, first)
    }

    package func send(url: String, messageID: String, body: String, secret: String, now: Date = Date()) async -> WebhookAttemptOutcome {
        guard let signer = StandardWebhooks(secret: secret) else { return WebhookAttemptOutcome(error: "the endpoint's secret is unreadable") }
        let target: (host: String, address: IPAddress)
        do {
            target = try await address(for: url)
        } catch {
            return WebhookAttemptOutcome(error: "\(error)")
        }
        var configuration = HTTPClient.Configuration()
        configuration.redirectConfiguration = .disallow
        configuration.timeout = .init(connect: .seconds(5), read: TimeAmount(timeout))
        if IPAddress(target.host) == nil { configuration.dnsOverride = [target.host: target.address.connectable] }
        let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
        defer { client.shutdown { _ in } }
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/json")
        request.headers.add(name: "user-agent", value: "swn-shop-webhooks/1")
        let timestamp = Int64(now.timeIntervalSince1970)
        for (name, value) in signer.headers(id: messageID, timestamp: timestamp, body: Data(body.utf8)) { request.headers.add(name: name, value: value) }
        request.body = .bytes(ByteBuffer(string: body))
        do {
            let response = try await client.execute(request, timeout: TimeAmount(timeout))
            // The answer's body is not needed: read a little of it so the connection closes cleanly.
            _ = try? await response.body.collect(upTo: 64 * 1024)
            let code = Int(response.status.code)
            if (300..<400).contains(code) { return WebhookAttemptOutcome(statusCode: code, error: "redirects are not followed") }
            return WebhookAttemptOutcome(statusCode: code, error: nil)
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout {
            return WebhookAttemptOutcome(error: "no answer within \(timeout)")
        } catch {
            return WebhookAttemptOutcome(error: "\(error)")
        }
    }
}

extension IPAddress {
    /// The text a socket address is made from (IPv6 in full, which `inet_pton` reads).
    var connectable: String { description }
}

/// Settings of webhook delivery.
package struct WebhookDeliverySettings: Sendable {
    package var retry = WebhookRetryPolicy()
    /// How long one attempt may take (`WEBHOOK_TIMEOUT_MS`).
    package var timeout: Duration = .seconds(10)
    /// Attempts under way at once per endpoint, across replicas (`WEBHOOK_MAX_IN_FLIGHT`).
    package var maximumInFlightPerEndpoint = 4
    /// Attempts under way at once in one process.
    package var maximumInFlight = 64
    /// How often due deliveries are looked for (`WEBHOOK_SCAN_MS`).
    package var scanInterval: Duration = .milliseconds(500)
    /// `WEBHOOK_ALLOW_PRIVATE=true`: loopback and private addresses allowed (local demos, tests).
    package var allowPrivate = false

    package init() {}

    /// An attempt's claim outlives the attempt's own deadline.
    var lease: Duration { timeout + .seconds(30) }
}

/// Delivers due webhook attempts: claims what is due (bounded per endpoint and per process), makes
/// each attempt as its own task so a slow receiver holds only its own deliveries, and records the
/// outcome with the next attempt's time from `WebhookRetryPolicy`.
package struct WebhookDeliverer<Repository: WebhookRepository>: Service {
    let repository: Repository
    let sender: WebhookSender
    let settings: WebhookDeliverySettings
    let gate: StartupGate?
    let logger: Logger

    package init(repository: Repository, sender: WebhookSender, settings: WebhookDeliverySettings, gate: StartupGate?, logger: Logger) {
        self.repository = repository
        self.sender = sender
        self.settings = settings
        self.gate = gate
        self.logger = logger
    }

    /// How many attempts this process has under way.
    final class InFlight: Sendable {
        private let count = Mutex(0)
        var value: Int { count.withLock { $0 } }
        func add(_ delta: Int) { count.withLock { $0 += delta } }
    }

    package func run() async throws {
        if let gate { await cancelWhenGracefulShutdownOrReturn { await gate.wait() } }
        let inFlight = InFlight()
        var failures = FailureStreak("delivering webhooks")
        await withDiscardingTaskGroup { group in
            while !Task.isShuttingDownGracefully && !Task.isCancelled {
                var pause = settings.scanInterval
                let room = settings.maximumInFlight - inFlight.value
                if room > 0 {
                    do {
                        let claimed = try await repository.claimDueDeliveries(
                            limit: room, maximumInFlight: settings.maximumInFlightPerEndpoint, lease: settings.lease
                        )
                        failures.succeeded(logger: logger)
                        inFlight.add(claimed.count)
                        for delivery in claimed {
                            group.addTask {
                                defer { inFlight.add(-1) }
                                await attempt(delivery)
                            }
                        }
                        // A full claim: more may be due at once.
                        if claimed.count == room { pause = .milliseconds(20) }
                    } catch {
                        if Task.isShuttingDownGracefully || Task.isCancelled { break }
                        pause = min(settings.scanInterval, failures.failed(error, logger: logger))
                    }
                }
                let wait = pause
                await cancelWhenGracefulShutdownOrReturn { try? await Task.sleep(for: wait) }
            }
        }
    }

    func attempt(_ delivery: ClaimedDelivery) async {
        let started = ContinuousClock.now
        let messageID = WebhookDelivery.messageID(delivery.id)
        let outcome = await sender.send(url: delivery.url, messageID: messageID, body: delivery.payload, secret: delivery.secret)
        let duration = ContinuousClock.now - started
        let next = outcome.delivered
            ? nil
            : settings.retry.nextAttempt(after: delivery.attempt, createdAt: delivery.createdAt, now: Date(), jitter: Double.random(in: 0...1))
        let metadata: Logger.Metadata = [
            "webhookId": "\(delivery.webhookId)", "webhook-id": "\(messageID)", "event": "\(delivery.event)", "attempt": "\(delivery.attempt)",
            "status": "\(outcome.statusCode.map(String.init) ?? "-")",
        ]
        if outcome.delivered {
            logger.info("webhook delivered", metadata: metadata)
        } else if next == nil {
            logger.warning("webhook dead-lettered: no 2xx within the retry window", metadata: metadata.merging(["error": "\(outcome.error ?? "")"]) { $1 })
        } else {
            logger.info("webhook attempt failed; it will be retried", metadata: metadata.merging(["error": "\(outcome.error ?? "")"]) { $1 })
        }
        // Recorded even while shutting down (a lost record only means one more attempt after the lease).
        for pause in [0, 200, 1000] {
            do {
                if pause > 0 { try? await Task.sleep(for: .milliseconds(pause)) }
                try await repository.recordAttempt(
                    delivery, statusCode: outcome.statusCode, error: outcome.error, duration: duration, delivered: outcome.delivered, nextAttempt: next
                )
                return
            } catch {
                logger.warning("could not record a webhook attempt", metadata: metadata.merging(["error": "\(error)"]) { $1 })
            }
        }
    }
}
