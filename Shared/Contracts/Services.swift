/// The shop's processes, declared once. The gateway takes its upstreams from here; the local
/// runner (`bus services`), the database bootstrap and the compose file are checked against it.
package struct ShopService: Sendable, Hashable, CustomStringConvertible {
    /// The short name: routes and settings use it (`PRODUCT_SERVICE_URL`).
    package let name: String
    package let executable: String
    package let port: Int
    /// Its own database, if it has one.
    package let database: String?

    package init(name: String, executable: String, port: Int, database: String?) {
        self.name = name
        self.executable = executable
        self.port = port
        self.database = database
    }

    package var description: String { executable }

    /// Where the gateway (and other callers) find it: `<NAME>_SERVICE_URL`, default `http://localhost:<port>`.
    package var urlSetting: String { name.uppercased() + "_SERVICE_URL" }
    package var defaultURL: String { "http://localhost:\(port)" }

    package static let gateway = ShopService(name: "gateway", executable: "gateway", port: 8080, database: nil)
    package static let product = ShopService(name: "product", executable: "product-service", port: 8081, database: "product")
    package static let basket = ShopService(name: "basket", executable: "basket-service", port: 8082, database: "basket")
    package static let ordering = ShopService(name: "ordering", executable: "ordering-service", port: 8083, database: "ordering")
    package static let identity = ShopService(name: "identity", executable: "identity", port: 9229, database: "identity")

    /// Every process, in start order.
    package static let all: [ShopService] = [product, basket, ordering, identity, gateway]

    /// The databases to create: one per service, plus the local bus's.
    package static let databases: [String] = all.compactMap(\.database) + ["bus"]
}
