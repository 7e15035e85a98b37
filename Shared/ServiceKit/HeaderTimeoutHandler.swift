import Hummingbird
import HummingbirdCore
import NIOCore
import NIOHTTPTypes

/// Closes a connection whose request head does not arrive in time: `headerTimeout` from the
/// connection's start, then `idleTimeout` from the end of each response. Hummingbird's idle
/// timeout alone lets a client that trickles a byte now and then hold a connection forever.
///
/// A kept-alive connection answers request after request, so the deadline moves on each one; it is
/// a time stamp here, and one timer per connection checks it when it fires and schedules itself for
/// the current deadline (rather than a timer scheduled and cancelled on every request).
package final class HeaderTimeoutHandler: ChannelDuplexHandler, RemovableChannelHandler {
    package typealias InboundIn = HTTPRequestPart
    package typealias InboundOut = HTTPRequestPart
    package typealias OutboundIn = HTTPResponsePart
    package typealias OutboundOut = HTTPResponsePart

    let headerTimeout: TimeAmount
    let idleTimeout: TimeAmount
    /// When the connection closes unless a request head arrives first; nil while a request is handled.
    private var deadline: NIODeadline?
    /// The timer, when one is scheduled: it fires at or before `deadline`.
    private var timer: Scheduled<Void>?
    private var timerFires = NIODeadline.distantFuture

    package init(headerTimeout: TimeAmount, idleTimeout: TimeAmount) {
        self.headerTimeout = headerTimeout
        self.idleTimeout = idleTimeout
    }

    package func handlerAdded(context: ChannelHandlerContext) {
        arm(context, after: headerTimeout)
    }

    package func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        deadline = nil
    }

    package func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head = unwrapInboundIn(data) { deadline = nil }
        context.fireChannelRead(data)
    }

    package func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) { arm(context, after: idleTimeout) }
        context.write(data, promise: promise)
    }

    private func arm(_ context: ChannelHandlerContext, after timeout: TimeAmount) {
        let deadline = context.eventLoop.now + timeout
        self.deadline = deadline
        // A timer that fires later than the new deadline (a shorter timeout) is replaced.
        if timer == nil || timerFires > deadline { schedule(context, at: deadline) }
    }

    private func schedule(_ context: ChannelHandlerContext, at time: NIODeadline) {
        timer?.cancel()
        timerFires = time
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(deadline: time) {
            let (handler, context) = loopBound.value
            handler.timer = nil
            guard let deadline = handler.deadline else { return }  // a request is in progress: armed again at its end
            if deadline <= context.eventLoop.now {
                context.channel.close(promise: nil)
            } else {
                handler.schedule(context, at: deadline)
            }
        }
    }
}

/// The deadlines of every HTTP server of the shop (the gateway, the services, identity): a request head
/// within `header` (`HEADER_TIMEOUT_MS`), a body within `body` (`BODY_TIMEOUT_MS`, 408 after), and a
/// silent kept-alive connection closed after `idle` (`IDLE_TIMEOUT_MS`), so a slow client holds no
/// more than its own connection for long, whichever process it talks to.
package struct ServerTimeouts: Sendable {
    package var header: Duration
    package var body: Duration
    package var idle: Duration

    package init(settings: Settings) throws {
        header = try settings.milliseconds("HEADER_TIMEOUT_MS", default: 10_000)
        body = try settings.milliseconds("BODY_TIMEOUT_MS", default: 10_000)
        idle = try settings.milliseconds("IDLE_TIMEOUT_MS", default: 60_000)
    }

    /// The process's own, read once from its environment.
    package static let current = (try? ServerTimeouts(settings: Settings())) ?? ServerTimeouts(header: .seconds(10), body: .seconds(10), idle: .seconds(60))

    package init(header: Duration, body: Duration, idle: Duration) {
        self.header = header
        self.body = body
        self.idle = idle
    }

    /// An HTTP/1.1 server with these deadlines (a new `HeaderTimeoutHandler` per connection).
    package var http1: HTTPServerBuilder {
        let (header, idle) = (TimeAmount(header), TimeAmount(idle))
        return .http1(configuration: .init(
            additionalChannelHandlers: [HeaderTimeoutHandler(headerTimeout: header, idleTimeout: idle)],
            idleTimeout: idle
        ))
    }
}
