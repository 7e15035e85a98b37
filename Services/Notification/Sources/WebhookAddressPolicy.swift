import Foundation

/// Where a webhook may be delivered: `http` or `https` URLs whose host resolves only to public
/// addresses. Loopback, private (RFC 1918, unique-local), link-local (cloud metadata at
/// 169.254.169.254), carrier-grade NAT, multicast, unspecified and reserved ranges are refused —
/// checked on the addresses the name resolves to at delivery time, and redirects are not followed —
/// unless `WEBHOOK_ALLOW_PRIVATE=true`.
package struct WebhookAddressPolicy: Sendable {
    package var allowPrivate: Bool

    package init(allowPrivate: Bool) {
        self.allowPrivate = allowPrivate
    }

    package enum Refusal: Error, Equatable, CustomStringConvertible {
        case scheme(String)
        case noHost
        case credentials
        case address(String)

        package var description: String {
            switch self {
            case .scheme(let scheme): "only http and https URLs are delivered to, not '\(scheme)'"
            case .noHost: "the URL has no host"
            case .credentials: "the URL must not carry a user name or password"
            case .address(let address): "\(address) is a loopback, private, link-local or reserved address (WEBHOOK_ALLOW_PRIVATE=true allows it)"
            }
        }
    }

    /// The URL's form: http(s), a host, no credentials. Returns the host and port to resolve.
    package func check(url: String) throws(Refusal) -> (host: String, port: Int) {
        guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased() else { throw .scheme("") }
        guard scheme == "http" || scheme == "https" else { throw .scheme(scheme) }
        guard let host = components.host, !host.isEmpty else { throw .noHost }
        guard components.user == nil, components.password == nil else { throw .credentials }
        let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        if let literal = IPAddress(bare) { try check(literal) }
        return (bare, components.port ?? (scheme == "https" ? 443 : 80))
    }

    /// An address the host resolved to.
    package func check(_ address: IPAddress) throws(Refusal) {
        guard allowPrivate || address.isPublic else { throw .address(address.description) }
    }
}

/// An IPv4 or IPv6 address, parsed from its text form.
package enum IPAddress: Sendable, Equatable, CustomStringConvertible {
    case v4(UInt32)
    case v6([UInt8])

    package init?(_ text: String) {
        if let v4 = Self.parseV4(text) {
            self = .v4(v4)
            return
        }
        var storage = in6_addr()
        let zoneless = text.split(separator: "%", maxSplits: 1).first.map(String.init) ?? text
        guard zoneless.contains(":"), inet_pton(AF_INET6, zoneless, &storage) == 1 else { return nil }
        self = .v6(withUnsafeBytes(of: storage) { Array($0) })
    }

    /// Dotted quads only (no octal, hex or shortened forms, which resolvers read differently).
    static func parseV4(_ text: String) -> UInt32? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var value: UInt32 = 0
        for part in parts {
            guard (1...3).contains(part.count), part.allSatisfy(\.isASCII), part.allSatisfy(\.isNumber),
                  part.count == 1 || part.first != "0", let octet = UInt32(part), octet <= 255 else { return nil }
            value = value << 8 | octet
        }
        return value
    }

    package var description: String {
        switch self {
        case .v4(let value): return [24, 16, 8, 0].map { String(value >> $0 & 0xFF) }.joined(separator: ".")
        case .v6(let bytes):
            return stride(from: 0, to: 16, by: 2).map { String(UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]), radix: 16) }.joined(separator: ":")
        }
    }

    /// Reachable on the public internet: none of the special-purpose ranges (IANA registries).
    package var isPublic: Bool {
        switch self {
        case .v4(let value):
            let blocked: [(UInt32, Int)] = [
                (0x0000_0000, 8),   // "this network"
                (0x0A00_0000, 8),   // 10/8 private
                (0x6440_0000, 10),  // 100.64/10 carrier-grade NAT
                (0x7F00_0000, 8),   // 127/8 loopback
                (0xA9FE_0000, 16),  // 169.254/16 link-local (cloud metadata)
                (0xAC10_0000, 12),  // 172.16/12 private
                (0xC000_0000, 24),  // 192.0.0/24 protocol assignments
                (0xC000_0200, 24),  // 192.0.2/24 documentation
                (0xC0A8_0000, 16),  // 192.168/16 private
                (0xC612_0000, 15),  // 198.18/15 benchmarking
                (0xC633_6400, 24),  // 198.51.100/24 documentation
                (0xCB00_7100, 24),  // 203.0.113/24 documentation
                (0xE000_0000, 4),   // 224/4 multicast
                (0xF000_0000, 4),   // 240/4 reserved, broadcast
            ]
            return !blocked.contains { network, length in value >> (32 - length) == network >> (32 - length) }
        case .v6(let bytes):
            // IPv4-mapped (::ffff:a.b.c.d) and IPv4-compatible forms are judged as the IPv4 address.
            if bytes[0..<10].allSatisfy({ $0 == 0 }) && ((bytes[10] == 0xFF && bytes[11] == 0xFF) || (bytes[10] == 0 && bytes[11] == 0)) {
                let v4 = bytes[12..<16].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
                if bytes[10] == 0 && v4 <= 1 { return false }  // :: and ::1
                return IPAddress.v4(v4).isPublic
            }
            if bytes[0] == 0x00 && bytes[1] == 0x64 && bytes[2] == 0xFF && bytes[3] == 0x9B {  // 64:ff9b::/96 NAT64
                return IPAddress.v4(bytes[12..<16].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }).isPublic
            }
            if bytes[0] & 0xFE == 0xFC { return false }                     // fc00::/7 unique-local
            if bytes[0] == 0xFE && bytes[1] & 0xC0 == 0x80 { return false } // fe80::/10 link-local
            if bytes[0] == 0xFE && bytes[1] & 0xC0 == 0xC0 { return false } // fec0::/10 site-local
            if bytes[0] == 0xFF { return false }                            // multicast
            if bytes[0] == 0x20 && bytes[1] == 0x01 && bytes[2] == 0x0D && bytes[3] == 0xB8 { return false } // 2001:db8::/32 documentation
            return bytes[0] & 0xE0 == 0x20                                  // only 2000::/3 is global unicast
        }
    }
}
