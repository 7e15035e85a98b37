import Foundation
import Logging
import Metrics
import ServiceKit
import ServiceLifecycle
import Tracing

/// What a consumer does with one message. Throwing leaves the message on the queue, to come back
/// after a backoff; after the queue's `maxReceiveCount` receives it goes to the dead-letter queue.
package protocol MessageHandler: Sendable {
    func handle(_ message: QueueMessage) async throws
}

/// Reads a queue with long polling and hands each message to a handler, deleting it only after the
/// handler succeeded. Up to `batchSize` messages are handled concurrently; a failing or slow one never
/// holds up the others (while the queue is backed up, the window is filled again as soon as half of it
/// is free). On graceful shutdown it stops receiving and finishes the messages in hand.
package struct QueueConsumer<Queue: MessageQueue, Handler: MessageHandler>: Service {
    let queue: Queue
    let handler: Handler
    let logger: Logger
    let batchSize: Int
    let waitTime: Duration
    /// Retry delay after the n-th failed receive of a message: base × 2^(n-1), at most `maximumBackoff`.
    let baseBackoff: Duration
    let maximumBackoff: Duration
    /// Opened once the handler's schema exists.
    let gate: StartupGate?
    /// The queue's name, for spans.
    let name: String
    /// Answers to a state machine's task tokens (aws mode): a command that carries one is handled with
    /// it current (`TaskCallback`).
    let callbacks: TaskCallbacks?

    package init(
        queue: Queue, handler: Handler, logger: Logger, batchSize: Int = 10, waitTime: Duration = .seconds(20),
        baseBackoff: Duration = .seconds(1), maximumBackoff: Duration = .seconds(60), gate: StartupGate? = nil, name: String = "queue",
        callbacks: TaskCallbacks? = nil
    ) {
        self.callbacks = callbacks
        self.gate = gate
        self.name = name
        self.queue = queue
        self.handler = handler
        self.logger = logger
        self.batchSize = batchSize
        self.waitTime = waitTime
        self.baseBackoff = baseBackoff
        self.maximumBackoff = maximumBackoff
    }

    package func run() async throws {
        if let gate { await cancelWhenGracefulShutdownOrReturn { await gate.wait() } }
        var failures = FailureStreak("receiving from \(name)")
        // Messages handled and not yet deleted: deleted with the next receive (one round trip on the
        // local bus), or at the end. Until then they stay hidden; after a crash they come back, as
        // any message not deleted does (handlers are idempotent).
        var handled: [String] = []
        // Whether the last receive filled what it asked for: the queue had more then.
        var backlog = false
        await withTaskGroup(of: String?.self) { group in
            var inFlight = 0
            while !Task.isShuttingDownGracefully && !Task.isCancelled {
                // A window of `batchSize` messages in hand. While the queue is backed up, half of it that
                // is free is filled again at once (without a long poll: the queue had more), so one slow
                // message does not hold up the rest of the queue; otherwise all of it is handled first,
                // and the next receive (long polling) deletes it.
                let refillAt = backlog ? batchSize / 2 : 0
                while inFlight > refillAt, let done = await group.next() {
                    inFlight -= 1
                    if let done { handled.append(done) }
                }
                // Stopping while those were handled: no new messages (they would only come back later).
                if Task.isShuttingDownGracefully || Task.isCancelled { break }
                let free = batchSize - inFlight
                let messages: [QueueMessage]
                do {
                    let deleting = handled
                    let wait = inFlight > 0 ? .zero : waitTime
                    messages = try await cancelWhenGracefulShutdown {
                        try await queue.receive(maxMessages: free, waitTime: wait, visibilityTimeout: nil, deleting: deleting)
                    }
                    handled = []
                    failures.succeeded(logger: logger)
                } catch {
                    if Task.isShuttingDownGracefully || Task.isCancelled { break }
                    backlog = false
                    let delay = failures.failed(error, logger: logger, metadata: ["handledNotDeleted": "\(handled.count)"])
                    await cancelWhenGracefulShutdownOrReturn { try? await Task.sleep(for: delay) }
                    continue
                }
                backlog = messages.count >= free
                for message in messages {
                    inFlight += 1
                    group.addTask { await process(message) ? message.receiptHandle : nil }
                }
            }
            // Stopping: the messages in hand are finished (their handlers are not cut short).
            for await done in group { if let done { handled.append(done) } }
        }
        if !handled.isEmpty {
            do {
                try await queue.delete(receiptHandles: handled)
            } catch {
                // The messages come back after their visibility timeout; handlers are idempotent.
                logger.error("deleting handled messages failed", metadata: ["error": "\(error)", "count": "\(handled.count)"])
            }
        }
    }

    /// Handles one message, in a consumer span continuing the trace its event carries; true when
    /// it may be deleted.
    func process(_ message: QueueMessage) async -> Bool {
        guard ShopTracing.isEnabled else { return await handle(message) }
        let context = ShopTracing.context(continuing: ShopTracing.traceparent(inJSON: message.body))
        return await InstrumentationSystem.tracer.withSpan("process \(name)", context: context, ofKind: .consumer) { span in
            span.attributes["messaging.destination.name"] = name
            span.attributes["messaging.message.id"] = message.messageID
            span.attributes["messaging.operation.type"] = "process"
            let handled = await handle(message)
            if !handled { span.setStatus(SpanStatus(code: .error)) }
            return handled
        }
    }

    func handle(_ message: QueueMessage) async -> Bool {
        do {
            if let callbacks {
                try await callbacks.handling(message, detailType: { try? EventEnvelope(json: message.body).detailType }) { try await handler.handle(message) }
            } else {
                try await handler.handle(message)
            }
            // `bus_messages_handled{queue}`: what this process (this replica) handled.
            Counter(label: "bus_messages_handled", dimensions: [("queue", name)]).increment()
            return true
        } catch let failure as PermanentMessageFailure {
            do {
                if try await queue.deadLetter(message, reason: failure.description) {
                    logger.error("message can never be handled; moved to the dead-letter queue", metadata: [
                        "messageID": "\(message.messageID)", "reason": "\(failure.description)",
                    ])
                    return false
                }
            } catch {
                logger.error("moving a message to the dead-letter queue failed", metadata: ["messageID": "\(message.messageID)", "error": "\(error)"])
            }
            return await retryLater(message, error: failure)
        } catch let wait as RetryAfter {
            return await retryLater(message, error: wait, after: wait.delay)
        } catch {
            return await retryLater(message, error: error)
        }
    }

    func retryLater(_ message: QueueMessage, error: any Error, after given: Duration? = nil) async -> Bool {
        let delay = given ?? backoff(afterReceive: message.receiveCount)
        // A database outage is logged once, by the pool and the receive loop, not once per message.
        if !DatabaseUnavailable.isUnavailability(error) {
            logger.warning("message handling failed; will retry", metadata: [
                "messageID": "\(message.messageID)", "receiveCount": "\(message.receiveCount)",
                "retryIn": "\(delay)", "error": "\(error)",
            ])
        }
        do {
            try await queue.changeVisibility(receiptHandle: message.receiptHandle, timeout: delay)
        } catch where DatabaseUnavailable.isUnavailability(error) {
            // The message comes back after its visibility timeout.
        } catch {
            logger.error("changing visibility failed", metadata: ["messageID": "\(message.messageID)", "error": "\(error)"])
        }
        return false
    }

    func backoff(afterReceive count: Int) -> Duration {
        let factor = 1 << min(max(count - 1, 0), 16)
        return min(baseBackoff * factor, maximumBackoff)
    }
}

/// A handler's answer that the message cannot be handled before `delay` has passed (a claim another
/// consumer holds until then): it comes back after exactly that, not after the usual backoff, so
/// that the wait does not use up its receives towards the dead-letter queue.
package struct RetryAfter: Error, CustomStringConvertible {
    package var delay: Duration
    package var reason: String

    package init(delay: Duration, reason: String) {
        self.delay = delay
        self.reason = reason
    }

    package var description: String { "\(reason); retried in \(delay)" }
}
