import HTTPTypes

/// The shop's processes and the public routes each serves, declared once. The gateway takes its
/// policy, upstreams and own paths from here; services create their own databases at start; the
/// local runner reads the list (`bus services`); the compose file, the CloudFormation template and
/// the OpenAPI file are checked against it by tests.
/// Product pictures: PNG, JPEG or WebP of at most 2 MiB.
package enum ProductImageLimits {
    package static let maximumBytes = 2 << 20
}

package struct ShopService: Sendable, Hashable, CustomStringConvertible {
    /// The short name: routes and settings use it (`PRODUCT_SERVICE_URL`).
    package let name: String
    package let executable: String
    package let port: Int
    /// Its own database, if it has one.
    package let database: String?
    /// Its routes through the gateway, with who may call them.
    package let routes: [Route.Declaration]

    package init(name: String, executable: String, port: Int, database: String?, routes: [Route.Declaration] = []) {
        self.name = name
        self.executable = executable
        self.port = port
        self.database = database
        self.routes = routes
    }

    package static func == (a: ShopService, b: ShopService) -> Bool { a.name == b.name }
    package func hash(into hasher: inout Hasher) { hasher.combine(name) }
    package var description: String { executable }

    /// Where the gateway (and other callers) find it: `<NAME>_SERVICE_URL`, default `http://localhost:<port>`.
    package var urlSetting: String { name.uppercased() + "_SERVICE_URL" }
    package var defaultURL: String { "http://localhost:\(port)" }

    package static let product = ShopService(name: "product", executable: "product-service", port: 8081, database: "product", routes: [
        .init(.get, "/product", .anyone),
        .init(.post, "/product", .admin),
        .init(.get, "/product/facets", .anyone),
        .init(.get, "/product/{id}", .anyone),
        .init(.put, "/product/{id}/image", .admin, maximumBody: ProductImageLimits.maximumBytes),
        .init(.get, "/product/{id}/image", .anyone),
        .init(.put, "/product/{id}", .admin),
        .init(.delete, "/product/{id}", .admin),
    ])

    package static let basket = ShopService(name: "basket", executable: "basket-service", port: 8082, database: "basket", routes: [
        .init(.get, "/basket", .admin),
        .init(.post, "/basket", .signedIn),
        .init(.post, "/basket/checkout", .signedIn),
        .init(.get, "/basket/{userName}", .owner),
        .init(.delete, "/basket/{userName}", .owner),
    ])

    package static let ordering = ShopService(name: "ordering", executable: "ordering-service", port: 8083, database: "ordering", routes: [
        .init(.get, "/order", .admin),
        .init(.get, "/order/{userName}", .owner),
        .init(.get, "/order/{userName}/{orderId}", .owner),
        .init(.post, "/order/{userName}/{orderId}/cancel", .owner),
        .init(.post, "/order/{userName}/{orderId}/return", .owner),
    ])

    /// The simulated payment provider.
    package static let payment = ShopService(name: "payment", executable: "payment-service", port: 8084, database: "payment", routes: [
        .init(.get, "/payment/{orderId}", .admin),
    ])

    /// Fulfilment: a shipment per completed order, dispatch, delivery, returns.
    package static let shipping = ShopService(name: "shipping", executable: "shipping-service", port: 8085, database: "shipping", routes: [
        .init(.get, "/shipment", .admin),
        .init(.get, "/shipment/{orderId}", .admin),
    ])

    /// E-mails to customers and signed webhooks to subscribed endpoints, for the order events.
    package static let notification = ShopService(name: "notification", executable: "notification-service", port: 8086, database: "notification", routes: [
        .init(.get, "/notification/{userName}", .owner),
        .init(.post, "/webhook", .admin),
        .init(.get, "/webhook", .admin),
        .init(.delete, "/webhook/{id}", .admin),
        .init(.get, "/webhook/{id}/deliveries", .admin),
    ])

    /// The local Cognito stand-in; clients call it directly (not through the gateway).
    package static let identity = ShopService(name: "identity", executable: "identity", port: 9229, database: "identity")

    package static let gateway = ShopService(name: "gateway", executable: "gateway", port: 8080, database: "gateway", routes: [
        .init(.get, "/health", .anyone),
        .init(.get, "/ready", .anyone),
        .init(.get, "/openapi.yaml", .anyone),
        // No `/metrics` here: the gateway's own are served on its internal METRICS_PORT only.
        // The storefront: its page and its static files.
        .init(.get, "/", .anyone),
        .init(.get, "/storefront/{file}", .anyone),
    ])

    /// The services this process calls over HTTP (it reads their `<NAME>_SERVICE_URL`): the gateway
    /// every service with routes, basket the catalog (prices and stock at checkout).
    package var calls: [ShopService] {
        switch self {
        case .gateway: ShopRoutes.upstreams
        case .basket: [.product]
        default: []
        }
    }

    /// Whether it runs on AWS: identity is the local stand-in for Cognito, which the template deploys instead.
    package var runsOnAWS: Bool { self != .identity }

    /// Every process, in start order.
    package static let all: [ShopService] = [product, basket, ordering, payment, shipping, notification, identity, gateway]

    /// The databases the services use: one each, plus the local bus's.
    package static let databases: [String] = all.compactMap(\.database) + ["bus"]
}
