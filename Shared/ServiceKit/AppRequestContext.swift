import HTTPTypes
import Hummingbird
import NIOCore

/// The request context every service uses: Hummingbird's basic context with a tighter body limit,
/// so an oversized upload is a 413 rather than memory spent, the caller's verified identity and
/// the peer's address (for per-client limits).
package struct AppRequestContext: RequestContext, RemoteAddressRequestContext {
    package var coreContext: CoreRequestContextStorage
    /// Set by the token middleware from a verified Bearer token; `nil` for an anonymous caller.
    package var identity: Identity?
    /// Kept to read the peer's address only where it is asked for (throttling), not on every request.
    let channel: any Channel

    package init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.channel = source.channel
    }

    package var remoteAddress: SocketAddress? { channel.remoteAddress }

    package var maxUploadSize: Int { 1024 * 1024 }

    /// The peer's IP address as text (`"unknown"` when there is none).
    package var clientAddress: String { remoteAddress?.ipAddress ?? "unknown" }

    /// The client's address: the peer's, or from a trusted proxy the one it forwarded (`TrustedProxies`).
    package func clientAddress(of request: Request, trusting proxies: TrustedProxies) -> String {
        proxies.client(peer: clientAddress, forwardedFor: request.headers[values: .xForwardedFor])
    }
}

extension HTTPField.Name {
    package static let xForwardedFor = Self("X-Forwarded-For")!
}
