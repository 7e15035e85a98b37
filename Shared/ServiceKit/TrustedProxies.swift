import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The proxies whose `X-Forwarded-For` is believed (`TRUSTED_PROXIES`: CIDRs, comma-separated; none by
/// default). Behind a load balancer every TCP peer is the balancer, so per-address limits would put all
/// visitors in one bucket; from a trusted peer the client is the right-most address of `X-Forwarded-For`
/// that is not itself a trusted proxy (what the balancer saw; anything to its left is the client's to
/// forge). From any other peer the header is ignored: forged ones open no new buckets.
package struct TrustedProxies: Sendable {
    struct Network: Sendable {
        let bytes: [UInt8]
        let prefix: Int

        func contains(_ address: [UInt8]) -> Bool {
            guard address.count == bytes.count else { return false }
            var bits = prefix
            for (a, b) in zip(address, bytes) {
                guard bits > 0 else { return true }
                let mask: UInt8 = bits >= 8 ? 0xFF : ~(0xFF >> UInt8(bits))
                if a & mask != b & mask { return false }
                bits -= 8
            }
            return true
        }
    }

    let networks: [Network]

    package static let none = TrustedProxies(networks: [])

    init(networks: [Network]) {
        self.networks = networks
    }

    /// `10.0.0.0/8, 172.16.0.0/12, ::1/128` (a bare address is one host); anything else is a settings error.
    package init(_ list: String) throws {
        var networks: [Network] = []
        for item in list.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !item.isEmpty {
            let parts = item.split(separator: "/", maxSplits: 1).map(String.init)
            guard let bytes = Self.bytes(of: parts[0]) else {
                throw SettingsError(key: "TRUSTED_PROXIES", value: item, expected: "CIDRs such as 10.0.0.0/8, comma-separated")
            }
            let prefix = parts.count == 2 ? Int(parts[1]) : bytes.count * 8
            guard let prefix, (0...(bytes.count * 8)).contains(prefix) else {
                throw SettingsError(key: "TRUSTED_PROXIES", value: item, expected: "a prefix length from 0 to \(bytes.count * 8)")
            }
            networks.append(Network(bytes: bytes, prefix: prefix))
        }
        self.networks = networks
    }

    package func trusts(_ address: String) -> Bool {
        guard let bytes = Self.bytes(of: address) else { return false }
        return networks.contains { $0.contains(bytes) }
    }

    /// The client's address for per-address limits: the peer, unless it is a trusted proxy.
    package func client(peer: String, forwardedFor headers: [String]) -> String {
        guard !networks.isEmpty, trusts(peer) else { return peer }
        let hops = headers.flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces) }
        for hop in hops.reversed() {
            guard Self.bytes(of: hop) != nil else { return peer }  // unreadable: not what a proxy of ours wrote
            if !trusts(hop) { return hop }
        }
        return hops.first ?? peer
    }

    /// The address's bytes (4 for IPv4, 16 for IPv6), nil when it is not one.
    static func bytes(of text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }
}
