import Synchronization
import AsyncHTTPClient
import BasketService
import EventBus
import Foundation
import GatewayService
import IdentityService
import Logging
import NIOCore
import NIOHTTP1
import OrderingService
import PaymentService
import PostgresNIO
import ProductService
import ServiceKit
import ServiceLifecycle
import ShippingService
import NotificationService
import TestSupport

/// identity, product, basket, ordering, payment, shipping, notification and the gateway, all on real HTTP ports and test databases.
struct ShopUnderGateway: Sendable {
    var gateway: String
    var gatewayPort: Int
    var identity: String
    var basket: String
    var ordering: String
    var product: String
    var identityDatabase: DatabaseSettings
    var issuer: String
    /// Every service behind the gateway, by its `ShopService.name`, at its own port.
    var services: [String: String] = [:]

    static func run(
        gatewayTokens: (@Sendable (String) -> GatewayTokenSettings)? = nil,
        gatewaySettings: [String: String] = [:],
        identitySettings: [String: String] = [:],
        _ body: @escaping @Sendable (ShopUnderGateway) async throws -> Void
    ) async throws {
        try await Self.slots.run {
            // A shop whose services did not come up (on a machine loaded by the whole suite, a
            // service's database set-up can outlast its 30 s start-up) is started again, afresh, up
            // to three times; once it was up, a failure is the test's.
            for attempt in 1... {
                let ready = ReadyFlag()
                do {
                    return try await Self.start(gatewayTokens: gatewayTokens, gatewaySettings: gatewaySettings, identitySettings: identitySettings) { shop in
                        ready.set()
                        try await body(shop)
                    }
                } catch where !ready.isSet && attempt < 3 {
                    TestDatabase.logger.warning("a shop under the gateway did not come up; starting it again", metadata: ["attempt": "\(attempt)", "error": "\(error)"])
                }
            }
        }
    }

    /// Whether the shop came up (its body began).
    final class ReadyFlag: Sendable {
        private let value = Mutex(false)
        func set() { value.withLock { $0 = true } }
        var isSet: Bool { value.withLock { $0 } }
    }

    /// At most three of these shops (eight services each, in this one test process) at a time: a full
    /// `swift test` starts some twenty of them at once on two cores, and CI saw a few whose services
    /// never came up.
    static let slots = TestSlots(3)

    static func start(
        gatewayTokens: (@Sendable (String) -> GatewayTokenSettings)?,
        gatewaySettings: [String: String],
        identitySettings: [String: String],
        _ body: @escaping @Sendable (ShopUnderGateway) async throws -> Void
    ) async throws {
        try await TestDatabase.with { identityDB in
        try await TestDatabase.with { productDB in
        try await TestDatabase.with { basketDB in
        try await TestDatabase.with { orderingDB in
        try await TestDatabase.with { busDB in
        try await TestDatabase.with { paymentDB in
        try await TestDatabase.with { shippingDB in
        try await TestDatabase.with { notificationDB in
            let ports = (
                identity: try freePort(), product: try freePort(), basket: try freePort(), ordering: try freePort(), gateway: try freePort(),
                payment: try freePort(), shipping: try freePort(), notification: try freePort()
            )
            let issuer = "http://127.0.0.1:\(ports.identity)/local_swn"

            var identity = try IdentityConfig(settings: Settings([
                "PORT": "\(ports.identity)", "TOKEN_ISSUER": issuer,
                "IDENTITY_ADMIN_ACCESS_KEY_ID": Self.adminKeyID, "IDENTITY_ADMIN_SECRET_ACCESS_KEY": Self.adminSecret,
            ].merging(identitySettings) { $1 }))
            identity.database = identityDB.settings
            identity.passwordHashCost = 1024
            var product = try ProductServiceConfig(settings: Settings([:]))
            product.database = productDB.settings
            product.bus.database = busDB.settings
            product.port = ports.product
            var basket = try BasketServiceConfig(settings: Settings(["PRODUCT_SERVICE_URL": "http://127.0.0.1:\(ports.product)"]))
            basket.database = basketDB.settings
            basket.bus.database = busDB.settings
            basket.port = ports.basket
            var ordering = try OrderingServiceConfig(settings: Settings(Self.quietTimers))
            ordering.database = orderingDB.settings
            ordering.bus.database = busDB.settings
            ordering.port = ports.ordering
            var payment = try PaymentServiceConfig(settings: Settings(Self.quietTimers))
            payment.database = paymentDB.settings
            payment.bus.database = busDB.settings
            payment.port = ports.payment
            var shipping = try ShippingServiceConfig(settings: Settings(Self.quietTimers))
            shipping.database = shippingDB.settings
            shipping.bus.database = busDB.settings
            shipping.port = ports.shipping
            var notification = try NotificationServiceConfig(settings: Settings(Self.quietTimers))
            notification.database = notificationDB.settings
            notification.bus.database = busDB.settings
            notification.port = ports.notification
            var gateway = try GatewayConfig(settings: Settings([
                "PORT": "\(ports.gateway)", "COGNITO_ISSUER": issuer, "JWKS_REFRESH_INTERVAL_MS": "0",
                "OPENAPI_FILE": repositoryRoot.appendingPathComponent("deploy/openapi.yaml").path,
                "PRODUCT_SERVICE_URL": "http://127.0.0.1:\(ports.product)",
                "BASKET_SERVICE_URL": "http://127.0.0.1:\(ports.basket)",
                "ORDERING_SERVICE_URL": "http://127.0.0.1:\(ports.ordering)",
                "PAYMENT_SERVICE_URL": "http://127.0.0.1:\(ports.payment)",
                "SHIPPING_SERVICE_URL": "http://127.0.0.1:\(ports.shipping)",
                "NOTIFICATION_SERVICE_URL": "http://127.0.0.1:\(ports.notification)",
            ].merging(gatewaySettings) { $1 }))
            if let custom = gatewayTokens?(issuer) {
                gateway.tokens.issuer = custom.issuer
                gateway.tokens.jwksURL = custom.jwksURL
                gateway.tokens.clientID = custom.clientID
            }
            product.tokens = gateway.tokens
            basket.tokens = gateway.tokens
            ordering.tokens = gateway.tokens
            payment.tokens = gateway.tokens
            shipping.tokens = gateway.tokens
            notification.tokens = gateway.tokens
            let logger = Logger(label: "auth-test")
            let apps: [any Service] = [
                try await IdentityService.buildApplication(identity, logger: logger),
                try await ProductService.buildApplication(product, logger: logger),
                try await BasketService.buildApplication(basket, logger: logger),
                try await OrderingService.buildApplication(ordering, logger: logger),
                try await PaymentService.buildApplication(payment, logger: logger),
                try await ShippingService.buildApplication(shipping, logger: logger),
                try await NotificationService.buildApplication(notification, logger: logger),
                try await GatewayService.buildApplication(gateway, logger: logger),
            ]
            try await withRunningServices(apps) {
                // The gateway is ready once one round of probes finds all six upstreams healthy, each within
                // 2 s: in the first minutes of a full `swift test` on two cores that can take past 120 s.
                try await waitUntilReady("http://127.0.0.1:\(ports.gateway)/ready", timeout: .seconds(300))
                try await waitUntilReady("http://127.0.0.1:\(ports.identity)/ready")
                try await body(ShopUnderGateway(
                    gateway: "http://127.0.0.1:\(ports.gateway)", gatewayPort: ports.gateway, identity: "http://127.0.0.1:\(ports.identity)",
                    basket: "http://127.0.0.1:\(ports.basket)", ordering: "http://127.0.0.1:\(ports.ordering)",
                    product: "http://127.0.0.1:\(ports.product)",
                    identityDatabase: identityDB.settings, issuer: issuer,
                    services: [
                        "product": ports.product, "basket": ports.basket, "ordering": ports.ordering, "payment": ports.payment,
                        "shipping": ports.shipping, "notification": ports.notification,
                    ].mapValues { "http://127.0.0.1:\($0)" }
                ))
            }
        }}}}}}}}
    }

    /// The timer scans (saga deadlines, slow payments, due shipments) once a second instead of four
    /// times: these tests use none of them, and some twenty of these shops start at once in a full
    /// `swift test`, every process in this one test process on two cores.
    static let quietTimers = ["ORDER_TIMEOUT_SCAN_MS": "1000", "PAYMENT_SCAN_MS": "1000", "SHIPPING_SCAN_MS": "1000", "WEBHOOK_SCAN_MS": "1000"]

    static let adminKeyID = "AKIDSWNLOCALADMIN"
    static let adminSecret = "swn-local-admin-secret-for-tests"

    /// Calls a Cognito action on `identity` and returns the status and the JSON answer.
    func cognito(_ action: String, _ body: [String: Any], headers: [(String, String)] = []) async throws -> (status: Int, json: [String: Any]) {
        let json = String(decoding: try JSONSerialization.data(withJSONObject: body), as: UTF8.self)
        let response = try await HTTP.send(.POST, identity, json, headers: [
            ("X-Amz-Target", "AWSCognitoIdentityProviderService.\(action)"), ("Content-Type", "application/x-amz-json-1.1"),
        ] + headers)
        return (response.status, (try? JSONSerialization.jsonObject(with: response.body) as? [String: Any]) ?? [:])
    }

    struct GatewayTokenSettings: Sendable {
        var issuer: String
        var jwksURL: String
        var clientID: String
    }

    /// Signs in through the Cognito protocol and returns the ID and access tokens.
    func signIn(_ user: String, _ password: String) async throws -> (id: String, access: String, refresh: String) {
        let response = try await HTTP.send(.POST, identity, #"{"AuthFlow":"USER_PASSWORD_AUTH","ClientId":"swnshoplocalclient","AuthParameters":{"USERNAME":"\#(user)","PASSWORD":"\#(password)"}}"#,
            headers: [("X-Amz-Target", "AWSCognitoIdentityProviderService.InitiateAuth"), ("Content-Type", "application/x-amz-json-1.1")])
        let result = (try JSONSerialization.jsonObject(with: response.body) as? [String: Any])?["AuthenticationResult"] as? [String: Any]
        guard let id = result?["IdToken"] as? String, let access = result?["AccessToken"] as? String, let refresh = result?["RefreshToken"] as? String else {
            throw HTTP.Failure(reason: "sign-in failed: \(String(decoding: response.body, as: UTF8.self))")
        }
        return (id, access, refresh)
    }

    func call(_ method: HTTPMethod, _ path: String, token: String? = nil, json: String? = nil, headers: [(String, String)] = []) async throws -> HTTP.Response {
        var all = headers
        if let token { all.append(("Authorization", "Bearer \(token)")) }
        return try await HTTP.send(method, gateway + path, json, headers: all)
    }
}

/// A counting semaphore for tests: `run` waits for one of `count` slots.
actor TestSlots {
    private var free: Int
    private var waiting: [CheckedContinuation<Void, Never>] = []

    init(_ count: Int) { free = count }

    func run<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
        await acquire()
        defer { release() }
        return try await body()
    }

    private func acquire() async {
        if free > 0 {
            free -= 1
            return
        }
        await withCheckedContinuation { waiting.append($0) }
    }

    private func release() {
        if waiting.isEmpty { free += 1 } else { waiting.removeFirst().resume() }
    }
}
