import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOPosix
import Synchronization

/// The replicas of a service a process calls (the gateway its upstreams, basket the catalog).
///
/// Configured as a comma-separated list of base URLs; an `http` URL whose host name resolves to several
/// addresses (a compose service scaled up, a Kubernetes headless service, Cloud Map) stands for one
/// replica per address, re-resolved on every `refresh`. Callers `pick` round-robin among the healthy
/// replicas, `eject` one whose connection failed, and `refresh` now and then: it re-resolves the names
/// and probes every replica's `/health`, which ejects the failing ones and takes back those that answer
/// again. When none is healthy, all of them are tried (a stale view must not turn a blip into an outage).
package final class Replicas: Sendable {
    /// The configured base URLs (no trailing slash).
    let configured: [String]
    private let state: Mutex<State>

    struct State {
        var endpoints: [Endpoint]
        var next = 0
    }

    struct Endpoint: Equatable {
        var base: String
        var healthy = true
    }

    package init(configured list: String) {
        configured = list.split(separator: ",").map { item in
            let url = item.trimmingCharacters(in: .whitespaces)
            return url.hasSuffix("/") ? String(url.dropLast()) : url
        }.filter { !$0.isEmpty }
        state = Mutex(State(endpoints: configured.map { Endpoint(base: $0) }))
    }

    package var bases: [String] { state.withLock { $0.endpoints.map(\.base) } }
    package var hasHealthy: Bool { state.withLock { $0.endpoints.contains(where: \.healthy) } }
    package var healthyCount: Int { state.withLock { $0.endpoints.filter(\.healthy).count } }

    /// The next replica round-robin among the healthy ones (all of them when none is), other than
    /// `avoiding` (the one a retry leaves) when there is another; nil when there is none at all.
    package func pick(avoiding: String? = nil) -> String? {
        state.withLock { state in
            let others = state.endpoints.filter { $0.base != avoiding }
            let healthy = others.filter(\.healthy)
            let candidates = !healthy.isEmpty ? healthy : !others.isEmpty ? others : state.endpoints
            guard !candidates.isEmpty else { return nil }
            defer { state.next &+= 1 }
            return candidates[state.next % candidates.count].base
        }
    }

    /// Whether another replica than `base` could take a retry.
    package func hasAnother(than base: String) -> Bool {
        state.withLock { $0.endpoints.contains { $0.base != base } }
    }

    /// Takes `base` out of the rotation until a probe finds it healthy; true when it was in.
    @discardableResult
    package func eject(_ base: String) -> Bool {
        state.withLock { state in
            guard let index = state.endpoints.firstIndex(where: { $0.base == base && $0.healthy }) else { return false }
            state.endpoints[index].healthy = false
            return true
        }
    }

    /// Records a probe's outcome; true when it took the replica out of rotation.
    @discardableResult
    package func probed(_ base: String, healthy: Bool) -> Bool {
        state.withLock { state in
            guard let index = state.endpoints.firstIndex(where: { $0.base == base }) else { return false }
            defer { state.endpoints[index].healthy = healthy }
            return state.endpoints[index].healthy && !healthy
        }
    }

    /// Replaces the replica list with `bases`, keeping what is known of those that stay; new ones
    /// start healthy (their first probe follows at once).
    package func update(_ bases: [String]) {
        state.withLock { state in
            guard bases != state.endpoints.map(\.base) else { return }
            state.endpoints = bases.map { base in state.endpoints.first { $0.base == base } ?? Endpoint(base: base) }
        }
    }

    /// The replicas the configured URLs stand for now: an `http` URL whose host is a name with several
    /// addresses becomes one URL per address; anything else stays as configured (an `https` URL keeps
    /// its name for the certificate check; a name that does not resolve keeps the last list).
    package func resolve(using resolver: @Sendable (String) async -> [String]?) async -> [String]? {
        var bases: [String] = []
        for url in configured {
            guard let components = URLComponents(string: url), components.scheme == "http", let host = components.host,
                  !Self.isAddressLiteral(host), host != "localhost" else {
                bases.append(url)
                continue
            }
            guard let addresses = await resolver(host) else { return nil }
            guard addresses.count > 1 else { bases.append(url); continue }
            for address in addresses {
                var replica = components
                replica.host = address.contains(":") ? "[\(address)]" : address
                if let string = replica.string { bases.append(string) }
            }
        }
        return bases
    }

    /// Re-resolves the configured names, then probes every replica's `/health` concurrently (each
    /// within 2 s); logs a change of the replica list. Returns how many replicas the probes took out
    /// of rotation.
    @discardableResult
    package func refresh(http: HTTPClient, name: String, logger: Logger, resolver: @Sendable (String) async -> [String]? = systemResolve) async -> Int {
        let ejected = EjectionCount()
        if let resolved = await resolve(using: resolver) {
            let before = bases
            update(resolved)
            if before != resolved { logger.notice("upstream replicas changed", metadata: ["upstream": "\(name)", "replicas": "\(resolved)"]) }
        }
        await withTaskGroup(of: Void.self) { probes in
            for base in bases {
                probes.addTask {
                    let healthy: Bool
                    if let response = try? await http.execute(HTTPClientRequest(url: base + "/health"), timeout: .seconds(2)) {
                        _ = try? await response.body.collect(upTo: 64 * 1024)
                        healthy = response.status == .ok
                    } else {
                        healthy = false
                    }
                    if self.probed(base, healthy: healthy) {
                        logger.warning("upstream replica ejected: its health probe failed", metadata: ["upstream": "\(name)", "replica": "\(base)"])
                        ejected.increment()
                    }
                }
            }
        }
        return ejected.value
    }

    static func isAddressLiteral(_ host: String) -> Bool {
        host.hasPrefix("[") || (try? SocketAddress(ipAddress: host, port: 0)) != nil
    }
}

/// A host name's addresses from the system resolver (IPv4 first; IPv6 only when there is no IPv4),
/// looked up on NIO's blocking-I/O thread pool; nil when it does not resolve.
package func systemResolve(_ host: String) async -> [String]? {
    try? await NIOThreadPool.singleton.runIfActive {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, nil, &hints, &list) == 0, let first = list else { return nil }
        defer { freeaddrinfo(list) }
        var v4: [String] = []
        var v6: [String] = []
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let current = entry {
            if let address = current.pointee.ai_addr {
                var buffer = [CChar](repeating: 0, count: Int(NI_MAXHOST))
                if getnameinfo(address, current.pointee.ai_addrlen, &buffer, socklen_t(buffer.count), nil, 0, NI_NUMERICHOST) == 0 {
                    let text = String(cString: buffer)
                    if current.pointee.ai_family == AF_INET { if !v4.contains(text) { v4.append(text) } } else if !v6.contains(text) { v6.append(text) }
                }
            }
            entry = current.pointee.ai_next
        }
        return (v4.isEmpty ? v6 : v4).sorted()
    }
}

/// A count shared by concurrent probes.
final class EjectionCount: Sendable {
    private let count = Mutex(0)
    func increment() { count.withLock { $0 += 1 } }
    var value: Int { count.withLock { $0 } }
}
