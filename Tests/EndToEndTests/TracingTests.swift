import EventBus
import Foundation
import Testing
import TestSupport

/// One checkout is one trace: from the gateway through basket, the event, ordering and every saga
/// step, with each span's parent in the trace; log lines carry its `trace_id`. Spans go over
/// OTLP/HTTP (protobuf) to a test receiver (`scripts/otlp_receiver.py`, opentelemetry-proto).
@Suite(.serialized) struct TracingTests {
    struct Span: Decodable {
        let traceId: String
        let spanId: String
        let parentSpanId: String
        let name: String
        let serviceName: String
    }

    /// The receiver, as a process of its own.
    final class Receiver: Sendable {
        let process: Process
        let port: Int

        init() async throws {
            port = try freePort()
            let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent("scripts/otlp_receiver.py")
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["python3", script.path, "--port", String(port)]
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            self.process = process
            _ = try await SagaTests.poll("the OTLP receiver") { try? await HTTP.send(.GET, "\(self.url)/spans").status == 200 ? true : nil }
        }

        var url: String { "http://127.0.0.1:\(port)" }

        func spans() async throws -> [Span] {
            try JSONDecoder().decode([Span].self, from: try await HTTP.send(.GET, "\(url)/spans").body)
        }

        func stop() {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    @Test func oneCheckoutIsOneTraceFromTheGatewayToTheOrdersLastStep() async throws {
        let receiver = try await Receiver()
        defer { receiver.stop() }
        let tracing = ["OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url, "OTEL_BSP_SCHEDULE_DELAY": "100", "E2E_LOG_LEVEL": "info"]
        try await SagaTests.withShop(settings: tracing, shipping: true) { shop in
            let gateway = try await ServiceProcess("gateway", port: try freePort(), environment: tracing.merging(shop.upstreams) { $1 })
            defer { gateway.terminate() }
            let lamp = try await SagaTests.createProduct(shop, stock: 5)
            let user = "traced"
            let token = try await TestTokens.token(user)
            let filled = try await HTTP.send(.POST, "\(gateway.baseURL)/basket", #"{"userName":"\#(user)","items":[{"productId":"\#(lamp)","quantity":1}]}"#, token: token)
            #expect(filled.status == 200)

            // The client starts the trace (W3C): the gateway continues it.
            let traceID = (0..<16).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
            let clientSpan = "00f067aa0ba902b7"
            let checkout = try await HTTP.send(.POST, "\(gateway.baseURL)/basket/checkout", """
                {"userName":"\(user)","firstName":"A","lastName":"B","email":"a@example.com","address":"Street 1","paymentMethod":"card","cardInfo":"4242424242424242"}
                """, token: token, headers: [("traceparent", "00-\(traceID)-\(clientSpan)-01")])
            #expect(checkout.status == 202)
            let orderID = try await SagaTests.poll("the order") {
                let list = try SagaTests.json(try await HTTP.send(.GET, "\(shop.ordering.baseURL)/order/\(user)", token: token))
                if case .array(let orders) = list, case .string(let id) = orders.first?["orderId"] { return id }
                return nil
            }
            let order = try await SagaTests.finished(shop, user: user, orderID)
            #expect(order["status"] == .string("Completed"))

            // Every service's spans of this trace arrive, down to the `OrderCompleted` event, and with
            // them every span's parent: each process exports on its own schedule, so a parent (say,
            // payment's `publish PaymentApproved`) may reach the receiver after its children do.
            let trace = try await SagaTests.poll("the whole trace, every span's parent included") { () -> [Span]? in
                let spans = try await receiver.spans().filter { $0.traceId == traceID }
                let services = Set(spans.map(\.serviceName))
                let ids = Set(spans.map(\.spanId))
                let done = ["gateway", "basket-service", "ordering-service", "product-service", "payment-service"].allSatisfy(services.contains)
                    && spans.contains { $0.name == "publish OrderCompleted" }
                    && spans.allSatisfy { $0.parentSpanId == clientSpan || ids.contains($0.parentSpanId) }
                return done ? spans : nil
            }
            let ids = Set(trace.map(\.spanId))
            for span in trace where span.parentSpanId != clientSpan {
                #expect(ids.contains(span.parentSpanId), "\(span.serviceName) \(span.name): its parent \(span.parentSpanId) is in the trace")
            }
            let roots = trace.filter { $0.parentSpanId == clientSpan }
            #expect(roots.count == 1 && roots.first?.serviceName == "gateway", "the gateway's span is the child of the client's: \(roots.map(\.name))")
            #expect(roots.first?.name == "POST /basket/checkout", "the gateway names its span by the route template")

            // Across the event: ordering's consumer span is the child of basket's publish span, and
            // that of the basket's request span.
            let byID = Dictionary(trace.map { ($0.spanId, $0) }, uniquingKeysWith: { a, _ in a })
            let received = trace.first { $0.serviceName == "ordering-service" && $0.name == "process ordering-checkout" }
            let published = received.flatMap { byID[$0.parentSpanId] }
            #expect(published?.name == "publish CheckoutBasket" && published?.serviceName == "basket-service")
            #expect(published.flatMap { byID[$0.parentSpanId] }?.serviceName == "basket-service")
            for step in ["process product-stock", "process payment-commands", "process ordering-saga"] {
                #expect(trace.contains { $0.name == step }, "the saga step \(step) is in the trace")
            }

            // Log lines written while handling it carry the trace id.
            for process in [shop.basket, shop.ordering] {
                let lines = try String(contentsOfFile: process.logPath, encoding: .utf8).split(separator: "\n")
                #expect(lines.contains { $0.contains(#""trace_id":"\#(traceID)""#) }, "\(process.name) logs with trace_id")
            }
        }
    }
}
