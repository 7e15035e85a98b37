import Contracts
import EventBus
import Foundation
import Testing
import TestSupport

/// The whole checkout in aws mode against a real moto server: basket → EventBridge (PutEvents) →
/// rule → SQS → ordering; catalog events to the basket's queue; the redrive policy's dead-letter queue.
@Suite(.serialized) struct AWSModeTests {
    static func approximateCount(_ queueURL: String, endpoint: String) async throws -> Int {
        let output = try await runTool("aws", ["sqs", "get-queue-attributes", "--endpoint-url", endpoint, "--queue-url", queueURL,
                                     "--attribute-names", "ApproximateNumberOfMessages", "--output", "json"])
        let attributes = (try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any])?["Attributes"] as? [String: String]
        return Int(attributes?["ApproximateNumberOfMessages"] ?? "0") ?? 0
    }

    @Test func checkoutBecomesAnOrderThroughEventBridgeAndSQS() async throws {
        try await withMotoServer { endpoint in
        let topology = BusTopology.shop(visibilityTimeout: .seconds(2), maxReceiveCount: 3)
        let queues = try await declareTopology(try JSONValue.encoder.encode(topology.json), inMoto: endpoint)

        try await TestDatabase.with { productDB in
        try await TestDatabase.with { basketDB in
        try await TestDatabase.with { orderingDB in
            let aws = [
                "BUS_MODE": "aws", "AWS_ENDPOINT_URL": endpoint, "AWS_REGION": "us-east-1",
                "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
            ]
            let product = try await ServiceProcess("product-service", port: try freePort(), environment: aws.merging(["DATABASE_URL": productDB.url]) { $1 })
            defer { product.terminate() }
            let basket = try await ServiceProcess("basket-service", port: try freePort(), environment: aws.merging([
                "DATABASE_URL": basketDB.url, "PRODUCT_SERVICE_URL": product.baseURL,
            ]) { $1 })
            defer { basket.terminate() }
            let ordering = try await ServiceProcess("ordering-service", port: try freePort(), environment: aws.merging([
                "DATABASE_URL": orderingDB.url, "RETRY_BASE_DELAY_MS": "100",
            ]) { $1 })
            defer { ordering.terminate() }

            let created = try await HTTP.send(.POST, "\(product.baseURL)/product", #"{"name":"Kettle","price":24.90,"category":"Home"}"#, token: try await TestTokens.admin())
            let productId = try #require((try JSONSerialization.jsonObject(with: created.body) as? [String: Any])?["id"] as? String)
            let shop = CheckoutToOrderTests.Shop(
                product: product, basket: basket, ordering: ordering,
                urls: ["ordering": orderingDB.url, "basket": basketDB.url], orderingEnvironment: [:], productId: productId
            )
            let n = 10
            for index in 0..<n { _ = try await CheckoutToOrderTests.checkout(shop, user: "aws\(index)", quantity: index + 1) }
            try await CheckoutToOrderTests.waitFor("\(n) orders through EventBridge and SQS") {
                try await CheckoutToOrderTests.orderCount(orderingDB.url) == n
            }
            #expect(try await Database.scalar(orderingDB.url, "SELECT (sum(total_price) * 100)::bigint FROM orders") == 136_950, "Σ (i+1) × 24.90")

            // A catalog event reaches the basket through the catalog rule and queue.
            _ = try await HTTP.send(.POST, "\(basket.baseURL)/basket", #"{"userName":"watcher","items":[{"productId":"\#(productId)","quantity":1}]}"#, token: try await TestTokens.token("watcher"))
            _ = try await HTTP.send(.PUT, "\(product.baseURL)/product/\(productId)", #"{"name":"Kettle","price":19.90,"category":"Home"}"#, token: try await TestTokens.admin())
            try await CheckoutToOrderTests.waitFor("the new price in the basket") {
                try await Database.scalar(basketDB.url, "SELECT (price * 100)::bigint FROM basket_items WHERE user_name = 'watcher'") == 1990
            }

            // A message that can never become an order ends in the dead-letter queue by the redrive policy.
            _ = try await runTool("aws", ["sqs", "send-message", "--endpoint-url", endpoint, "--queue-url", queues["ordering-checkout"]!, "--message-body", #"{"not":"an event"}"#])
            try await CheckoutToOrderTests.waitFor("the poison message in the dead-letter queue") {
                try await Self.approximateCount(queues["ordering-checkout-dlq"]!, endpoint: endpoint) == 1
            }
            #expect(try await CheckoutToOrderTests.orderCount(orderingDB.url) == n)

            // `bus` on SQS: depths, a look at the dead letter that leaves it there, and a redrive.
            func bus(_ arguments: String...) async throws -> String {
                try await runTool("env", ["BUS_MODE=aws", "AWS_ENDPOINT_URL=\(endpoint)", "AWS_REGION=us-east-1",
                                          ServiceProcess.binDirectory.appendingPathComponent("bus").path] + arguments)
            }
            let depths = try await bus("queues")
            #expect(depths.split(separator: "\n").contains { $0.hasPrefix("ordering-checkout-dlq ") && $0.split(separator: " ")[1] == "1" }, "\(depths)")
            let peeked = try await bus("messages", "ordering-checkout-dlq")
            #expect(peeked.contains(#"not\":\"an event"#) && peeked.contains(#""sourceQueue":"ordering-checkout""#), "\(peeked)")
            #expect(try await Self.approximateCount(queues["ordering-checkout-dlq"]!, endpoint: endpoint) == 1, "a look leaves the message in place")
            let redriven = try await bus("redrive", "--by-hand", "ordering-checkout-dlq")
            #expect(redriven.contains("moved 1 message(s) back from ordering-checkout-dlq to ordering-checkout"), "\(redriven)")
            // Back in its queue, the consumer refuses it again: it returns to the dead-letter queue.
            try await CheckoutToOrderTests.waitFor("the redriven message back in the dead-letter queue") {
                try await Self.approximateCount(queues["ordering-checkout-dlq"]!, endpoint: endpoint) == 1
            }
            #expect(try await CheckoutToOrderTests.orderCount(orderingDB.url) == n)
        }}}
        }
    }

    /// The saga's commands and replies through EventBridge rules and SQS queues: an approved and a
    /// declined order.
    @Test func theSagaRunsThroughEventBridgeAndSQS() async throws {
        try await withMotoServer { endpoint in
        _ = try await declareTopology(try JSONValue.encoder.encode(BusTopology.shop(visibilityTimeout: .seconds(2), maxReceiveCount: 3).json), inMoto: endpoint)
        try await TestDatabase.with { productDB in
        try await TestDatabase.with { basketDB in
        try await TestDatabase.with { orderingDB in
        try await TestDatabase.with { paymentDB in
        try await TestDatabase.with { shippingDB in
        try await TestDatabase.with { notificationDB in
            // The e-mails go through SES: its sender identity exists (in AWS, verified by its owner).
            _ = try await runTool("python3", ["-c", """
                import boto3, sys
                boto3.client('sesv2', endpoint_url=sys.argv[1], region_name='us-east-1', aws_access_key_id='testing',
                             aws_secret_access_key='testing').create_email_identity(EmailIdentity='shop@swn.local')
                """, endpoint])
            let aws = SagaTests.sagaSettings.merging(FulfilmentTests.delays(dispatch: 1500)) { $1 }.merging([
                "BUS_MODE": "aws", "AWS_ENDPOINT_URL": endpoint, "AWS_REGION": "us-east-1",
                "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "ORDER_STEP_TIMEOUT_MS": "20000", "ORDER_PAYMENT_TIMEOUT_MS": "20000",
            ]) { $1 }
            let product = try await ServiceProcess("product-service", port: try freePort(), environment: aws.merging(["DATABASE_URL": productDB.url]) { $1 })
            defer { product.terminate() }
            let basket = try await ServiceProcess("basket-service", port: try freePort(), environment: aws.merging([
                "DATABASE_URL": basketDB.url, "PRODUCT_SERVICE_URL": product.baseURL,
            ]) { $1 })
            defer { basket.terminate() }
            let ordering = try await ServiceProcess("ordering-service", port: try freePort(), environment: aws.merging(["DATABASE_URL": orderingDB.url]) { $1 })
            defer { ordering.terminate() }
            let payment = try await ServiceProcess("payment-service", port: try freePort(), environment: aws.merging(["DATABASE_URL": paymentDB.url]) { $1 })
            defer { payment.terminate() }
            let shipping = try await ServiceProcess("shipping-service", port: try freePort(), environment: aws.merging(["DATABASE_URL": shippingDB.url]) { $1 })
            defer { shipping.terminate() }
            let notification = try await ServiceProcess("notification-service", port: try freePort(), environment: aws.merging([
                "DATABASE_URL": notificationDB.url, "MAIL_FROM": "shop@swn.local",
            ]) { $1 })
            defer { notification.terminate() }
            let shop = SagaTests.Shop(
                product: product, basket: basket, ordering: ordering, payment: payment, databases: [:], shipping: shipping, notification: notification
            )

            let kettle = try await SagaTests.createProduct(shop, stock: 6)
            let approved = try await SagaTests.order(shop, user: "awsok", lines: [(kettle, 2)], card: "4242424242424242")
            let completed = try await SagaTests.finished(shop, user: "awsok", approved)
            #expect(SagaTests.statuses(completed) == ["Pending", "StockReserved", "Paid", "Completed"])
            let declined = try await SagaTests.order(shop, user: "awsno", lines: [(kettle, 3)], card: "4000000000000002")
            let cancelled = try await SagaTests.finished(shop, user: "awsno", declined)
            #expect(cancelled["cancellationReason"] == .string("PaymentDeclined"))
            try await CheckoutToOrderTests.waitFor("the declined order's stock back") { try await SagaTests.stock(shop, kettle) == 4 }
            #expect(try await SagaTests.payment(shop, approved).body["status"] == .string("Approved"))

            // Fulfilment over the same queues: shipped and delivered, then returned (refund, restock);
            // another order cancelled by its customer before the dispatch.
            let delivered = try await FulfilmentTests.until(shop, user: "awsok", approved, "Delivered")
            #expect(SagaTests.statuses(delivered).suffix(2) == ["Shipped", "Delivered"])
            let stopped = try await SagaTests.order(shop, user: "awsstop", lines: [(kettle, 1)], card: "4242424242424242")
            _ = try await FulfilmentTests.until(shop, user: "awsstop", stopped, "Completed")
            #expect(try await FulfilmentTests.post(shop, user: "awsstop", stopped, "cancel").status == 202)
            let cancelledByCustomer = try await FulfilmentTests.until(shop, user: "awsstop", stopped, "Cancelled")
            #expect(cancelledByCustomer["cancellationReason"] == .string("CustomerCancelled"))
            #expect(try await FulfilmentTests.post(shop, user: "awsok", approved, "return").status == 202)
            _ = try await FulfilmentTests.until(shop, user: "awsok", approved, "Returned")
            try await CheckoutToOrderTests.waitFor("every unit back") { try await SagaTests.stock(shop, kettle) == 6 }
            for id in [approved, stopped] {
                try await CheckoutToOrderTests.waitFor("the refund of \(id)") { try await SagaTests.payment(shop, id).body["status"] == .string("Refunded") }
            }

            // One e-mail per order event, sent through SES (SendEmail v2, raw MIME) and listed per user:
            // awsok 4 (completed, shipped, delivered, returned), awsno 1, awsstop 2 (completed, cancelled).
            let expected = ["awsok": 4, "awsno": 1, "awsstop": 2]
            for (user, count) in expected {
                try await CheckoutToOrderTests.waitFor("\(count) e-mails sent to \(user)") {
                    let list = try SagaTests.json(try await HTTP.send(.GET, "\(notification.baseURL)/notification/\(user)", token: try await TestTokens.admin()))
                    let items = list["items"]?.arrayValue ?? []
                    return items.count == count && items.allSatisfy { $0["status"] == .string("sent") && $0["channel"] == .string("ses") }
                }
            }
            let data = try SagaTests.json(try await HTTP.send(.GET, "\(endpoint)/moto-api/data.json"))
            let sent = data["ses"]?["RawMessage"]?.arrayValue ?? []
            #expect(sent.count == 7, "SES received \(sent.count) e-mails, expected 7")
            let messageIDs = Set(sent.compactMap { $0["raw_data"]?.stringValue?.split(separator: "\r\n").first { $0.hasPrefix("Message-ID:") } })
            #expect(messageIDs.count == 7, "one Message-ID per e-mail")
        }}}}}}
        }
    }
}
