import Contracts
import EventBus
import Foundation
import Testing
import TestSupport

/// The order saga on AWS Step Functions (`SAGA_ENGINE=stepfunctions`) against moto with state machine
/// execution switched on, next to the local engine on the same AWS bus: the definition is the
/// template's (`bus asl`), each engine runs the same four orders, and their histories must agree.
@Suite(.serialized) struct StepFunctionsSagaTests {
    /// What a client sees of one order, and what it did to stock and money.
    struct Outcome: Equatable, Sendable, CustomStringConvertible {
        var history: [String]
        var cancellationReason: String?
        var payment: String
        var description: String { "\(history.joined(separator: " → ")) | reason \(cancellationReason ?? "-") | payment \(payment)" }
    }

    static let cases: [(name: String, quantity: Int, card: String)] = [
        ("approved", 2, "4242424242424242"),
        ("declined", 1, "4000000000000002"),
        ("outOfStock", 50, "4242424242424242"),
        ("lateApproval", 1, "4000000000000077"),
    ]

    // Long enough that a loaded machine never hits them by accident: the local engine's steps on moto
    // go through EventBridge and SQS in one Python process (a fresh-clone CI run missed 12 s for the charge).
    static let stepTimeoutMs = 30_000
    static let paymentTimeoutMs = 30_000

    /// What a test gets: the shop on the AWS bus of a moto server, and a way to ask Step Functions.
    struct AWSShop: Sendable {
        var shop: SagaTests.Shop
        var stateMachineArn: String
        var endpoint: String

        /// Each execution of the state machine: its status and the states it entered, in order.
        func executions() async throws -> [String] {
            let listed = try await runTool("python3", ["-c", """
                import boto3, sys
                sfn = boto3.client('stepfunctions', endpoint_url=sys.argv[1], region_name='us-east-1', aws_access_key_id='testing', aws_secret_access_key='testing')
                for e in sfn.list_executions(stateMachineArn=sys.argv[2])['executions']:
                    events = sfn.get_execution_history(executionArn=e['executionArn'], maxResults=1000)['events']
                    entered = [x['stateEnteredEventDetails']['name'] for x in events if 'stateEnteredEventDetails' in x]
                    print(e['status'], ' → '.join(entered))
                """, endpoint, stateMachineArn])
            return listed.split(separator: "\n").map(String.init).sorted()
        }
    }

    /// product, basket, ordering and payment on the AWS bus of a fresh moto server (state machine
    /// execution on), the saga run by `engine` with these deadlines; with `stepfunctions`, the state
    /// machine is the template's definition, its substitutions made as CloudFormation makes them.
    static func withShop<T: Sendable>(
        engine: String, stepTimeoutMs: Int = stepTimeoutMs, paymentTimeoutMs: Int = paymentTimeoutMs, _ body: @Sendable (AWSShop) async throws -> T
    ) async throws -> T {
        try await withMotoServer { endpoint in
            let configured = try await HTTP.send(.POST, "\(endpoint)/moto-api/config", #"{"stepfunctions":{"execute_state_machine":true}}"#)
            #expect(configured.status == 201)
            let queues = try await declareTopology(try JSONValue.encoder.encode(BusTopology.shop(visibilityTimeout: .seconds(2), maxReceiveCount: 5).json), inMoto: endpoint)
            var environment = SagaTests.sagaSettings.merging([
                "BUS_MODE": "aws", "AWS_ENDPOINT_URL": endpoint, "AWS_REGION": "us-east-1",
                "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                "ORDER_STEP_TIMEOUT_MS": "\(stepTimeoutMs)", "ORDER_PAYMENT_TIMEOUT_MS": "\(paymentTimeoutMs)", "PAYMENT_SLOW_DELAY_MS": "\(paymentTimeoutMs + 10_000)",
                "SAGA_ENGINE": engine,
            ]) { $1 }
            var stateMachineArn = ""
            if engine == "stepfunctions" {
                var definition = try await runTool(ServiceProcess.binDirectory.appendingPathComponent("bus").path, ["asl"])
                for (name, url) in queues { definition = definition.replacingOccurrences(of: "${\(BusTopology.logicalID(queue: name))Url}", with: url) }
                definition = definition.replacingOccurrences(of: "${Region}", with: "us-east-1")
                #expect(!definition.contains("${"), "every substitution made")
                let file = FileManager.default.temporaryDirectory.appendingPathComponent("swn-saga-\(UUID().uuidString).json")
                try Data(definition.utf8).write(to: file)
                defer { try? FileManager.default.removeItem(at: file) }
                stateMachineArn = try await runTool("python3", ["-c", """
                    import boto3, sys
                    sfn = boto3.client('stepfunctions', endpoint_url=sys.argv[1], region_name='us-east-1', aws_access_key_id='testing', aws_secret_access_key='testing')
                    print(sfn.create_state_machine(name='order-saga', definition=open(sys.argv[2]).read(), type='STANDARD',
                          roleArn='arn:aws:iam::123456789012:role/order-saga')['stateMachineArn'])
                    """, endpoint, file.path]).trimmingCharacters(in: .whitespacesAndNewlines)
                environment["SAGA_STATE_MACHINE_ARN"] = stateMachineArn
            }
            let settings = environment
            return try await TestDatabase.with { productDB in
            try await TestDatabase.with { basketDB in
            try await TestDatabase.with { orderingDB in
            try await TestDatabase.with { paymentDB in
                let product = try await ServiceProcess("product-service", port: try freePort(), environment: settings.merging(["DATABASE_URL": productDB.url]) { $1 })
                defer { product.terminate() }
                let basket = try await ServiceProcess("basket-service", port: try freePort(), environment: settings.merging([
                    "DATABASE_URL": basketDB.url, "PRODUCT_SERVICE_URL": product.baseURL,
                ]) { $1 })
                defer { basket.terminate() }
                let ordering = try await ServiceProcess("ordering-service", port: try freePort(), environment: settings.merging(["DATABASE_URL": orderingDB.url]) { $1 })
                defer { ordering.terminate() }
                let payment = try await ServiceProcess("payment-service", port: try freePort(), environment: settings.merging(["DATABASE_URL": paymentDB.url]) { $1 })
                defer { payment.terminate() }
                let shop = SagaTests.Shop(product: product, basket: basket, ordering: ordering, payment: payment, databases: [
                    "product": productDB.url, "basket": basketDB.url, "ordering": orderingDB.url, "payment": paymentDB.url,
                ])
                return try await body(AWSShop(shop: shop, stateMachineArn: stateMachineArn, endpoint: endpoint))
            }}}}
        }
    }

    /// Runs the four orders on one engine; returns each case's outcome, the stock left and the executions.
    static func run(engine: String) async throws -> (outcomes: [String: Outcome], stock: Int, executions: [String]) {
        try await withShop(engine: engine) { aws in
            let shop = aws.shop
            let kettle = try await SagaTests.createProduct(shop, stock: 5)

            var outcomes: [String: Outcome] = [:]
            try await withThrowingTaskGroup(of: (String, Outcome).self) { group in
                for (name, quantity, card) in cases {
                    group.addTask {
                        let user = "sf-\(engine)-\(name)".lowercased()
                        // Four checkouts at once through moto's EventBridge and SQS: a fresh-clone CI run of ea6d498 saw one
                        // order made after more than 30 s while the full suite loaded both cores.
                        let orderId = try await SagaTests.order(shop, user: user, lines: [(kettle, quantity)], card: card, timeout: .seconds(90))
                        let order = try await SagaTests.finished(shop, user: user, orderId, timeout: .seconds(60))
                        if name == "lateApproval" {
                            // The late approval is refunded.
                            try await CheckoutToOrderTests.waitFor("the late charge of \(user) refunded") {
                                try await SagaTests.payment(shop, orderId).body["status"] == .string("Refunded")
                            }
                        }
                        let paid = try await SagaTests.payment(shop, orderId)
                        let history: [String] = order["statusHistory"].flatMap { value -> [String]? in
                            guard case .array(let items) = value else { return nil }
                            return items.map { item in
                                let status = if case .string(let text)? = item["status"] { text } else { "?" }
                                if case .string(let reason)? = item["reason"] { return "\(status) (\(reason))" }
                                return status
                            }
                        } ?? []
                        let reason: String? = if case .string(let text)? = order["cancellationReason"] { text } else { nil }
                        let charged: String = if case .string(let text)? = paid.body["status"] { text } else { "?" }
                        let payment = paid.status == 404 ? "never charged" : charged
                        return (name, Outcome(history: history, cancellationReason: reason, payment: payment))
                    }
                }
                for try await (name, outcome) in group { outcomes[name] = outcome }
            }
            // Everything the cancelled orders reserved comes back: 5 − 2 (the approved order).
            try await CheckoutToOrderTests.waitFor("the stock of \(engine) back to 3") { try await SagaTests.stock(shop, kettle) == 3 }
            let executions = engine == "stepfunctions" ? try await aws.executions() : []
            return (outcomes, try await SagaTests.stock(shop, kettle), executions)
        }
    }

    @Test func theSagaOnStepFunctionsGivesTheLocalEnginesHistories() async throws {
        // One engine after the other: each is a moto server and four services.
        let onLocal = try await Self.run(engine: "local")
        let onStepFunctions = try await Self.run(engine: "stepfunctions")
        for (name, _, _) in Self.cases {
            print("StepFunctions saga, \(name):\n  local          \(onLocal.outcomes[name]?.description ?? "-")\n  stepfunctions  \(onStepFunctions.outcomes[name]?.description ?? "-")")
            #expect(onLocal.outcomes[name] == onStepFunctions.outcomes[name], "\(name): the two engines disagree")
        }
        print("StepFunctions saga, executions:\n  " + onStepFunctions.executions.joined(separator: "\n  "))
        #expect(onLocal.outcomes["approved"]?.history == ["Pending", "StockReserved", "Paid", "Completed"])
        #expect(onLocal.outcomes["declined"]?.cancellationReason == "PaymentDeclined")
        #expect(onLocal.outcomes["outOfStock"]?.cancellationReason == "OutOfStock")
        #expect(onLocal.outcomes["outOfStock"]?.payment == "never charged")
        #expect(onLocal.outcomes["lateApproval"]?.cancellationReason == "StepTimeout")
        #expect(onLocal.outcomes["lateApproval"]?.payment == "Refunded")
        // One execution per checkout, each through the states of its outcome: the completed one succeeded,
        // the three cancelled ones failed.
        #expect(onStepFunctions.executions.sorted() == [
            "FAILED ReserveStock → ReserveStock answered → Record StockReservationFailed → Cancelled after StockReservationFailed",
            "FAILED ReserveStock → ReserveStock answered → Record StockReserved → ChargePayment → ChargePayment answered → Record PaymentDeclined → ReleaseStock after PaymentDeclined → Cancelled after PaymentDeclined",
            "FAILED ReserveStock → ReserveStock answered → Record StockReserved → ChargePayment → Record ChargePayment timed out → RefundPayment after ChargePayment timed out → ReleaseStock after ChargePayment timed out → Cancelled after ChargePayment timed out",
            "SUCCEEDED ReserveStock → ReserveStock answered → Record StockReserved → ChargePayment → ChargePayment answered → Record PaymentApproved → CommitStock after PaymentApproved → Completed",
        ], "\(onStepFunctions.executions)")
    }

    /// Crashes inside a saga that Step Functions runs: product and payment down at the checkout, ordering
    /// killed with the state machine's report on its way, then payment killed right after its charge's
    /// answer left. Each comes back; the order ends `Completed`, stock taken once, money charged once,
    /// and its execution went the happy path.
    @Test func crashesInsideAStepFunctionsSagaResumeWhereItStood() async throws {
        try await Self.withShop(engine: "stepfunctions", stepTimeoutMs: 120_000, paymentTimeoutMs: 120_000) { aws in
            var now = aws.shop
            let lamp = try await SagaTests.createProduct(now, stock: 10)
            try await CheckoutToOrderTests.waitFor("the basket to know the lamp") {
                try await Database.scalar(aws.shop.databases["basket"]!, "SELECT count(*)::bigint FROM catalog_products") == 1
            }
            now.product.kill()
            now.payment.kill()
            let id = try await SagaTests.order(now, user: "sfcrash", lines: [(lamp, 2)], card: "4242424242424242")
            // The execution started (ordering's outbox is empty), its ReserveStock waits in product's queue; ordering dies.
            try await CheckoutToOrderTests.waitFor("the execution started") {
                try await Database.scalar(aws.shop.databases["ordering"]!, "SELECT count(*)::bigint FROM outbox") == 0
            }
            now.ordering.kill()
            now.product = try await now.product.restarted()
            let afterProduct = now
            try await CheckoutToOrderTests.waitFor("the reservation") { try await SagaTests.stock(afterProduct, lamp) == 8 }
            // Reserved while ordering was down: the state machine's report waits in ordering's queue.
            now.ordering = try await now.ordering.restarted()
            let afterOrdering = now
            let token = try await TestTokens.token("sfcrash")
            try await CheckoutToOrderTests.waitFor("StockReserved recorded") {
                try SagaTests.json(try await HTTP.send(.GET, "\(afterOrdering.ordering.baseURL)/order/sfcrash/\(id)", token: token))["status"] == .string("StockReserved")
            }
            now.ordering.kill()
            now.payment = try await now.payment.restarted()
            let afterPayment = now
            try await CheckoutToOrderTests.waitFor("the charge") { try await SagaTests.payment(afterPayment, id).body["status"] == .string("Approved") }
            try await CheckoutToOrderTests.waitFor("the PaymentApproved answered") {
                try await Database.scalar(aws.shop.databases["payment"]!, "SELECT count(*)::bigint FROM outbox") == 0
            }
            now.payment.kill()
            now.ordering = try await now.ordering.restarted()
            let order = try await SagaTests.finished(now, user: "sfcrash", id, timeout: .seconds(60))
            #expect(SagaTests.statuses(order) == ["Pending", "StockReserved", "Paid", "Completed"])
            #expect(try await SagaTests.stock(now, lamp) == 8)
            now.payment = try await now.payment.restarted()
            let charged = try await SagaTests.payment(now, id)
            #expect(charged.body["status"] == .string("Approved"))
            if case .array(let history) = charged.body["history"] { #expect(history.count == 1, "charged once") } else { Issue.record("no payment history") }
            let finalShop = now
            try await CheckoutToOrderTests.waitFor("the execution to succeed") { try await aws.executions().first?.hasPrefix("SUCCEEDED") == true }
            #expect(try await aws.executions() == [
                "SUCCEEDED ReserveStock → ReserveStock answered → Record StockReserved → ChargePayment → ChargePayment answered → Record PaymentApproved → CommitStock after PaymentApproved → Completed",
            ])
            for process in [finalShop.product, finalShop.ordering, finalShop.payment] { process.terminate() }
        }
    }

    /// An execution that ends without finishing the order (stopped in the console here; a failure or
    /// a start that never happened likewise): ordering's backstop deadline (the step's timeout, then as
    /// long again) cancels the order itself and compensates over the bus.
    @Test func anOrderWhoseStepFunctionsExecutionDiesIsStillFinished() async throws {
        try await Self.withShop(engine: "stepfunctions", stepTimeoutMs: 30_000, paymentTimeoutMs: 4_000) { aws in
            var now = aws.shop
            let lamp = try await SagaTests.createProduct(now, stock: 10)
            now.payment.kill()
            let id = try await SagaTests.order(now, user: "sfstopped", lines: [(lamp, 3)], card: "4242424242424242")
            let token = try await TestTokens.token("sfstopped")
            let reserved = now
            try await CheckoutToOrderTests.waitFor("StockReserved recorded") {
                try SagaTests.json(try await HTTP.send(.GET, "\(reserved.ordering.baseURL)/order/sfstopped/\(id)", token: token))["status"] == .string("StockReserved")
            }
            // The charge waits in payment's queue; the execution is stopped by hand.
            _ = try await runTool("python3", ["-c", """
                import boto3, sys
                sfn = boto3.client('stepfunctions', endpoint_url=sys.argv[1], region_name='us-east-1', aws_access_key_id='testing', aws_secret_access_key='testing')
                for e in sfn.list_executions(stateMachineArn=sys.argv[2])['executions']:
                    sfn.stop_execution(executionArn=e['executionArn'], error='Operator', cause='stopped in the console')
                """, aws.endpoint, aws.stateMachineArn])
            let order = try await SagaTests.finished(now, user: "sfstopped", id, timeout: .seconds(60))
            #expect(SagaTests.statuses(order) == ["Pending", "StockReserved", "Cancelled"])
            #expect(order["cancellationReason"] == .string("StepTimeout"))
            let executions = try await aws.executions()
            // AWS says ABORTED; moto's parser reports a stopped execution as FAILED.
            #expect(["ABORTED", "FAILED"].map { "\($0) ReserveStock → ReserveStock answered → Record StockReserved → ChargePayment" }.contains(executions.first ?? ""), "\(executions)")
            #expect(executions.count == 1)
            // Payment comes back to the charge and ordering's refund, in either order: no money kept.
            now.payment = try await now.payment.restarted()
            let back = now
            try await CheckoutToOrderTests.waitFor("the stock back") { try await SagaTests.stock(back, lamp) == 10 }
            try await CheckoutToOrderTests.waitFor("no money kept") {
                let payment = try await SagaTests.payment(back, id)
                return payment.status == 404 || payment.body["status"] == .string("Refunded")
            }
            now.payment.terminate()
        }
    }

    @Test func theTemplateCarriesTheRenderedStateMachine() async throws {
        let checked = try await runTool(ServiceProcess.binDirectory.appendingPathComponent("bus").path, [
            "asl", "--check", "--template", repositoryRoot.appendingPathComponent("deploy/aws/template.yaml").path,
            "--readme", repositoryRoot.appendingPathComponent("README.md").path,
        ])
        #expect(checked.contains("are the rendering of OrderSaga"), "\(checked)")
    }
}
