import Auth
import BasketService
import Contracts
import Foundation
import GatewayService
import Hummingbird
import HTTPTypes
import Logging
import OrderingService
import PaymentService
import ShippingService
import NotificationService
import ProductService
import ServiceKit
import Testing
import TestSupport
import Yams

/// The route table is declared once (Shared/Contracts/Routes.swift). These tests fail when the
/// OpenAPI file, a service's router, the gateway's policy or the README's table differ from it.
@Suite struct RouteTableTests {
    struct Operation: Hashable, CustomStringConvertible {
        var method: String
        var path: String
        var description: String { "\(method) \(path)" }
    }

    static var table: Set<Operation> { Set(ShopRoutes.all.map { Operation(method: $0.method.rawValue, path: $0.path) }) }

    /// Every operation of `deploy/openapi.yaml` with its `x-swn-access` and whether it allows no token.
    static func openAPIOperations() throws -> [Operation: (access: String?, anonymous: Bool)] {
        let text = try String(contentsOf: repositoryRoot.appendingPathComponent("deploy/openapi.yaml"), encoding: .utf8)
        let document = try #require(try Yams.load(yaml: text) as? [String: Any])
        let paths = try #require(document["paths"] as? [String: Any])
        var operations: [Operation: (access: String?, anonymous: Bool)] = [:]
        for (path, item) in paths {
            for (method, value) in (item as? [String: Any]) ?? [:] where ["get", "post", "put", "delete", "patch"].contains(method) {
                let operation = value as? [String: Any] ?? [:]
                let security = operation["security"] as? [[String: Any]]
                let anonymous = security.map { $0.isEmpty || $0.contains { $0.isEmpty } } ?? false
                operations[Operation(method: method.uppercased(), path: path)] = (operation["x-swn-access"] as? String, anonymous)
            }
        }
        return operations
    }

    @Test func theOpenAPIFileDescribesExactlyTheRouteTable() throws {
        let operations = try Self.openAPIOperations()
        let documented = Set(operations.keys)
        for missing in Self.table.subtracting(documented).sorted(by: { $0.description < $1.description }) {
            Issue.record("\(missing) is in the route table but not in deploy/openapi.yaml")
        }
        for extra in documented.subtracting(Self.table).sorted(by: { $0.description < $1.description }) {
            Issue.record("deploy/openapi.yaml documents \(extra), which the route table lacks")
        }
        for route in ShopRoutes.all {
            guard let documented = operations[Operation(method: route.method.rawValue, path: route.path)] else { continue }
            #expect(documented.access == route.access.rawValue, "\(route): x-swn-access is \(documented.access ?? "absent"), the table says \(route.access.rawValue)")
            #expect(documented.anonymous == (route.access == .anyone), "\(route): the OpenAPI security must allow no token exactly when access is anyone")
        }
    }

    /// Each service's router, built on in-memory repositories, against the table's routes of that service.
    @Test func everyServiceServesExactlyItsRoutes() async throws {
        let verifier = TokenVerifier(configuration: TestTokens.configuration, httpClient: .shared, logger: Logger(label: "routes"))
        let routers: [ShopService: [Operation]] = [
            .product: Self.operations(ProductService.buildRouter(repository: InMemoryProductRepository(), verifier: verifier)),
            .basket: Self.operations(BasketService.buildRouter(
                repository: InMemoryBasketRepository(), catalog: FixedCatalog(products: []), verifier: verifier
            )),
            .ordering: Self.operations(OrderingService.buildRouter(repository: InMemoryOrderRepository(), verifier: verifier)),
            .payment: Self.operations(PaymentService.buildRouter(repository: InMemoryPaymentRepository(), verifier: verifier)),
            .shipping: Self.operations(ShippingService.buildRouter(repository: InMemoryShipmentRepository(), verifier: verifier)),
            // Its repository is never called here: a pool that never connects is enough to build the routes.
            .notification: Self.operations(NotificationService.buildRouter(
                repository: PostgresNotificationRepository(client: DatabasePool(settings: try DatabaseSettings(url: "postgres://swn@127.0.0.1:1/none"), logger: Logger(label: "routes")), logger: Logger(label: "routes")),
                verifier: verifier, sender: WebhookSender(policy: WebhookAddressPolicy(allowPrivate: false), timeout: .seconds(1))
            )),
        ]
        #expect(Set(routers.keys) == Set(ShopRoutes.upstreams), "every upstream of the table is checked here")
        for (service, served) in routers {
            let declared = Set(ShopRoutes.all.filter { $0.service == service }.map { Operation(method: $0.method.rawValue, path: $0.path) })
            // Every process serves its own /health and /ready (and HEAD for them); they are not public routes.
            let own = Set(served).filter { !["/health", "/ready", "/metrics"].contains($0.path) }
            #expect(own == declared, "\(service) serves \(own.subtracting(declared)) beyond the table and lacks \(declared.subtracting(own))")
        }
    }

    static func operations(_ router: Router<AppRequestContext>) -> [Operation] {
        router.routes.map { route in
            // Hummingbird writes a parameter as `:name` (or `{name}`); the table as `{name}`.
            let path = "\(route.path)".split(separator: "/").map { $0.hasPrefix(":") ? "{\($0.dropFirst())}" : String($0) }
            return Operation(method: route.method.rawValue, path: "/" + path.joined(separator: "/"))
        }
    }

    /// The gateway's decisions follow the table: for each route, who gets through, who is refused,
    /// and which other methods of the path are a 405.
    @Test func theGatewayPolicyFollowsTheTable() {
        let policy = AccessPolicy()
        let customer = Identity(userName: "ann", groups: [])
        let admin = Identity(userName: "root", groups: ["admin"])
        for route in ShopRoutes.all {
            let path = route.path.replacingOccurrences(of: "{userName}", with: "ann").replacingOccurrences(of: "{id}", with: UUID().uuidString)
                .replacingOccurrences(of: "{orderId}", with: UUID().uuidString)
            let anonymous = policy.decide(method: route.method, path: path, identity: nil)
            let asCustomer = policy.decide(method: route.method, path: path, identity: customer)
            let asAdmin = policy.decide(method: route.method, path: path, identity: admin)
            let forward: AccessPolicy.Decision = route.service == .gateway ? .own : .forward(route.service)
            #expect(asAdmin == forward, "\(route) as admin")
            switch route.access {
            case .anyone:
                #expect(anonymous == forward && asCustomer == forward, "\(route) is public")
            case .signedIn, .owner:
                #expect(anonymous == .unauthenticated && asCustomer == forward, "\(route) for the owner")
            case .admin:
                #expect(anonymous == .unauthenticated && asCustomer == .forbidden("this needs the admin group"), "\(route) is admin only")
            }
            if route.access == .owner {
                let other = Identity(userName: "bob", groups: [])
                if case .forbidden = policy.decide(method: route.method, path: path, identity: other) {} else {
                    Issue.record("\(route): another user must be refused")
                }
            }
            let methods = Set(ShopRoutes.all.filter { $0.path == route.path }.map(\.method))
            for method in [HTTPRequest.Method.get, .post, .put, .delete, .patch] where !methods.contains(method) {
                #expect(policy.decide(method: method, path: path, identity: admin) == .methodNotAllowed(allowed: ShopRoutes.all.filter { $0.path == route.path }.map(\.method)),
                        "\(method) \(route.path) is not in the table")
            }
        }
        #expect(policy.decide(method: .get, path: "/nowhere", identity: admin) == .notFound)
        #expect(policy.ownPaths == Set(ShopRoutes.all.filter { $0.service == .gateway }.map(\.path)))
        // The gateway answers its own paths before any token check; every other path is forwarded.
        #expect(policy.ownDecision(method: .get, path: "/storefront/app.js") == .own)
        #expect(policy.ownDecision(method: .get, path: "/") == .own)
        #expect(policy.ownDecision(method: .post, path: "/storefront/app.js") == .methodNotAllowed(allowed: [.get]))
        #expect(policy.ownDecision(method: .get, path: "/storefront/a/b") == nil)
        #expect(policy.ownDecision(method: .get, path: "/product/1") == nil)
    }

    @Test func theREADMEShowsTheTable() throws {
        let shown = try #require(try readmeSection(
            begin: "<!-- routes: rendered from Shared/Contracts/Routes.swift (ShopRoutes.markdownTable); a test compares -->\n", end: "\n<!-- /routes -->"
        ), "README.md lacks the routes markers")
        #expect(shown == ShopRoutes.markdownTable, "README.md's route table differs from ShopRoutes; paste ShopRoutes.markdownTable:\n\(ShopRoutes.markdownTable)")
    }
}

/// A catalog that knows a fixed set of products.
struct FixedCatalog: ProductCatalog {
    var products: [CatalogProduct]
    func product(id: UUID) async throws -> CatalogProduct? { products.first { $0.id == id } }
}
