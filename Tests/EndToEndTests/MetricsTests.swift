import Contracts
import EventBus
import Foundation
import Testing
import TestSupport

/// `/metrics` of every process on the bus parses as Prometheus text and carries the contract's
/// families after a checkout; a message forced into a dead-letter queue moves its gauge and writes
/// an error log line.
@Suite(.serialized) struct MetricsTests {
    /// The families and samples of a `/metrics` page, parsed by prometheus-client's own parser:
    /// `{family: [[labels, value]]}`.
    static func parse(_ url: String) async throws -> [String: [(labels: [String: String], value: Double)]] {
        let page = try await HTTP.send(.GET, url)
        #expect(page.status == 200)
        let output = try runPython("""
            import json, sys
            from prometheus_client.parser import text_string_to_metric_families
            text = json.load(sys.stdin)["text"]
            out = {}
            for family in text_string_to_metric_families(text):
                out.setdefault(family.name, []).extend([[s.labels, s.value] for s in family.samples])
            print(json.dumps(out))
            """, input: ["text": String(decoding: page.body, as: UTF8.self)])
        let object = try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: [[Any]]] ?? [:]
        return object.mapValues { samples in samples.map { (($0[0] as? [String: String]) ?? [:], ($0[1] as? Double) ?? .nan) } }
    }

    @Test func everyProcessExposesItsFamiliesAndTheDeadLetterGaugeMoves() async throws {
        try await SagaTests.withShop(settings: ["METRICS_INTERVAL_MS": "200"], shipping: true) { shop in
            let lamp = try await SagaTests.createProduct(shop, stock: 5)
            let id = try await SagaTests.order(shop, user: "metered", lines: [(lamp, 1)], card: "4242424242424242")
            _ = try await SagaTests.finished(shop, user: "metered", id)
            // The gauges are refreshed every 200 ms by each process: wait until the order's count shows
            // it (a loaded machine may take several intervals), rather than for a fixed time.
            try await CheckoutToOrderTests.waitFor("the orders gauge") {
                try await Self.parse("\(shop.ordering.baseURL)/metrics")["orders"]?.first { $0.labels["status"] == "Completed" }?.value == 1
            }

            let processes = [("product-service", shop.product), ("basket-service", shop.basket), ("ordering-service", shop.ordering), ("payment-service", shop.payment)]
            for (name, process) in processes {
                let families = try await Self.parse("\(process.baseURL)/metrics")
                for family in ["hb_requests", "http_server_request_duration", "db_connections", "outbox_pending_events",
                               "outbox_oldest_pending_age_seconds", "bus_queue_messages", "bus_dead_letter_messages"] {
                    #expect(families[family] != nil, "\(name) lacks \(family); has \(families.keys.sorted())")
                }
                let queues = Set(families["bus_queue_messages"]?.compactMap { $0.labels["queue"] } ?? [])
                let own = Set(BusTopology.shop().queues.filter { $0.consumer == name }.map(\.name))
                #expect(queues == own, "\(name) reports the depth of the queues it reads")
            }
            let ordering = try await Self.parse("\(shop.ordering.baseURL)/metrics")
            // Completed, or already shipped on (shipping runs with its default delays).
            let sold = ordering["orders"]?.filter { OrderStatus(rawValue: $0.labels["status"] ?? "")?.holdsStock == true }.map(\.value).reduce(0, +)
            #expect(sold == 1)
            #expect(ordering["saga_step_duration_seconds"]?.isEmpty == false)
            let requests = ordering["hb_requests"]?.filter { $0.labels["http_route"] == "/order/{userName}/{orderId}" || $0.labels["http_route"] == "/order/:userName/:orderId" } ?? []
            #expect(!requests.isEmpty, "request counts carry the route template")

            // The gateway counts what it forwards by route template, and shows only its own metrics.
            let metricsPort = try freePort()
            let gateway = try await ServiceProcess("gateway", port: try freePort(), environment: shop.upstreams.merging([
                "METRICS_PORT": String(metricsPort),
            ]) { $1 })
            defer { gateway.terminate() }
            #expect(try await HTTP.send(.GET, "\(gateway.baseURL)/product/\(lamp)").status == 200)
            // Its metrics are on the internal METRICS_PORT only: the public port has none.
            #expect(try await HTTP.send(.GET, "\(gateway.baseURL)/metrics").status == 404)
            let gatewayFamilies = try await Self.parse("http://127.0.0.1:\(metricsPort)/metrics")
            #expect(gatewayFamilies["gateway_requests"]?.contains { $0.labels["http_route"] == "/product/{id}" && $0.labels["http_response_status_code"] == "200" } == true)
            #expect(gatewayFamilies["gateway_request_duration_seconds"] != nil)
            #expect(gatewayFamilies["outbox_pending_events"] == nil, "the services' metrics are not the gateway's")

            // A message that can never be handled goes to the dead-letter queue: the gauge moves.
            try await Database.withClient(shop.databases["bus"]!) { client in
                let bus = LocalBus(client: client, logger: TestDatabase.logger)
                _ = try await bus.publisher.putEvents([PublishEntry(
                    source: ShopEvents.checkoutBasket.source,
                    detailType: ShopEvents.checkoutBasket.detailType, detail: .object(["checkoutId": .string("not-a-uuid")])
                )])
            }
            try await CheckoutToOrderTests.waitFor("the dead-letter gauge") {
                let dead = try await Self.parse("\(shop.ordering.baseURL)/metrics")["bus_dead_letter_messages"] ?? []
                return dead.first { $0.labels["queue"] == "ordering-checkout-dlq" }?.value == 1
            }
            // The line is written just after the move commits, so it may come after the gauge saw it.
            try await CheckoutToOrderTests.waitFor("an error log line naming the dead letter") {
                let log = try String(contentsOfFile: shop.ordering.logPath, encoding: .utf8)
                return log.contains("moved to the dead-letter queue") || log.contains("moved to a dead-letter queue")
            }
        }
    }
}
