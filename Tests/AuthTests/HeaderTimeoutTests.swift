import HTTPTypes
import NIOCore
import NIOEmbedded
import NIOHTTPTypes
import ServiceKit
import Testing

@testable import GatewayService

/// The gateway's connection deadlines on NIO's embedded event loop (time advanced by hand).
@Suite struct HeaderTimeoutTests {
    static let head = HTTPRequestPart.head(HTTPRequest(method: .get, scheme: nil, authority: nil, path: "/health"))

    static func connected(_ loop: EmbeddedEventLoop) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel(handler: HeaderTimeoutHandler(headerTimeout: .seconds(2), idleTimeout: .seconds(5)), loop: loop)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        return channel
    }

    @Test func aConnectionWithoutARequestHeadClosesAfterTheHeaderTimeout() throws {
        let loop = EmbeddedEventLoop()
        let channel = try Self.connected(loop)
        loop.advanceTime(by: .milliseconds(1_900))
        #expect(channel.isActive)
        loop.advanceTime(by: .milliseconds(200))
        #expect(!channel.isActive, "no request head within 2 s")
    }

    /// The deadline moves with every request on a kept-alive connection: never cut while a request
    /// is handled, cut `idleTimeout` after the last answer, whichever timer happened to be scheduled.
    @Test func aKeptAliveConnectionClosesOnlyWhenIdleForTheIdleTimeout() throws {
        let loop = EmbeddedEventLoop()
        let channel = try Self.connected(loop)
        loop.advanceTime(by: .seconds(1))
        try channel.writeInbound(Self.head)
        loop.advanceTime(by: .seconds(10))
        #expect(channel.isActive, "a request in progress is not cut off")
        try channel.writeOutbound(HTTPResponsePart.end(nil))       // t = 11: idle until 16
        loop.advanceTime(by: .seconds(4))
        #expect(channel.isActive)
        try channel.writeInbound(Self.head)                        // t = 15
        try channel.writeOutbound(HTTPResponsePart.end(nil))       // idle until 20
        loop.advanceTime(by: .seconds(4))                          // t = 19: the timer set for 16 fired and moved on
        #expect(channel.isActive, "the deadline moved with the second request")
        loop.advanceTime(by: .seconds(2))                          // t = 21
        #expect(!channel.isActive, "idle for more than 5 s after the last answer")
    }
}
