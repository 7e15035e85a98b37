import NIOCore
import NIOHTTPTypes

/// Closes a connection whose request head does not arrive in time: `headerTimeout` from the
/// connection's start, then `idleTimeout` from the end of each response. Hummingbird's idle
/// timeout alone lets a client that trickles a byte now and then hold a connection forever.
///
/// A kept-alive connection answers request after request, so the deadline moves on each one; it is
/// a time stamp here, and one timer per connection checks it when it fires and schedules itself for
/// the current deadline (rather than a timer scheduled and cancelled on every request).
final class HeaderTimeoutHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    let headerTimeout: TimeAmount
    let idleTimeout: TimeAmount
    /// When the connection closes unless a request head arrives first; nil while a request is handled.
    private var deadline: NIODeadline?
    /// The timer, when one is scheduled: it fires at or before `deadline`.
    private var timer: Scheduled<Void>?
    private var timerFires = NIODeadline.distantFuture

    init(headerTimeout: TimeAmount, idleTimeout: TimeAmount) {
        self.headerTimeout = headerTimeout
        self.idleTimeout = idleTimeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        arm(context, after: headerTimeout)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        deadline = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head = unwrapInboundIn(data) { deadline = nil }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
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
