// swift-tools-version:6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [.swiftLanguageMode(.v6)]

let hummingbird = Target.Dependency.product(name: "Hummingbird", package: "hummingbird")
let httpClient = Target.Dependency.product(name: "AsyncHTTPClient", package: "async-http-client")
let httpTypes = Target.Dependency.product(name: "HTTPTypes", package: "swift-http-types")
let metrics = Target.Dependency.product(name: "Metrics", package: "swift-metrics")
let tracing = Target.Dependency.product(name: "Tracing", package: "swift-distributed-tracing")

/// One service: its library `Services/<folder>/Sources` (what tests import) and its executable
/// `Services/<folder>/Main` (a few lines calling `buildApplication`). Adding a service is one line here.
func service(_ folder: String, executable: String, dependencies: [Target.Dependency]) -> [Target] {
    [
        .target(name: "\(folder)Service", dependencies: dependencies, path: "Services/\(folder)/Sources", swiftSettings: swiftSettings),
        .executableTarget(name: executable, dependencies: [.target(name: "\(folder)Service"), "ServiceKit"], path: "Services/\(folder)/Main", swiftSettings: swiftSettings),
    ]
}

/// The libraries every service on the bus uses.
let busService: [Target.Dependency] = ["ServiceKit", "EventBus", "Contracts", "Auth", hummingbird, metrics]

let serviceTargets: [Target] =
    service("Gateway", executable: "gateway", dependencies: [
        "ServiceKit", "Auth", "Contracts", hummingbird, httpClient, httpTypes, metrics, tracing,
        .product(name: "NIOHTTP1", package: "swift-nio"),
        .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
    ])
    + service("Identity", executable: "identity", dependencies: [
        "ServiceKit", "Auth", "AWS", "Contracts", hummingbird, httpTypes,
        .product(name: "JWTKit", package: "jwt-kit"),
        .product(name: "Crypto", package: "swift-crypto"),
        .product(name: "CryptoExtras", package: "swift-crypto"),
    ])
    + service("Product", executable: "product-service", dependencies: busService)
    + service("Basket", executable: "basket-service", dependencies: busService + [httpClient, httpTypes, .product(name: "Crypto", package: "swift-crypto")])
    + service("Ordering", executable: "ordering-service", dependencies: busService)
    + service("Payment", executable: "payment-service", dependencies: busService)
    + service("Shipping", executable: "shipping-service", dependencies: busService)
    + service("Notification", executable: "notification-service", dependencies: busService + [
        .product(name: "Crypto", package: "swift-crypto"), .product(name: "NIOExtras", package: "swift-nio-extras"),
        .product(name: "NIOSSL", package: "swift-nio-ssl"), .product(name: "NIOPosix", package: "swift-nio"),
    ])

let sharedTargets: [Target] = [
    .target(
        name: "ServiceKit",
        dependencies: [
            hummingbird, httpClient,
            .product(name: "PostgresNIO", package: "postgres-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "OTel", package: "swift-otel"),
            tracing,
        ],
        path: "Shared/ServiceKit", swiftSettings: swiftSettings
    ),
    .target(
        name: "AWS",
        dependencies: [.product(name: "Crypto", package: "swift-crypto"), httpClient, .product(name: "Logging", package: "swift-log")],
        path: "Shared/AWS", swiftSettings: swiftSettings
    ),
    .target(
        name: "EventBus",
        dependencies: [
            "ServiceKit", "AWS", hummingbird, metrics, tracing,
            .product(name: "PostgresNIO", package: "postgres-nio"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ],
        path: "Shared/EventBus", swiftSettings: swiftSettings
    ),
    // The shop's contracts, declared once: events and their details, the bus topology, the routes
    // with their access rule, the list of services.
    .target(name: "Contracts", dependencies: ["EventBus", httpTypes], path: "Shared/Contracts", swiftSettings: swiftSettings),
    .target(
        name: "Auth",
        dependencies: ["ServiceKit", "Contracts", .product(name: "JWTKit", package: "jwt-kit"), httpClient, .product(name: "Logging", package: "swift-log")],
        path: "Shared/Auth", swiftSettings: swiftSettings
    ),
    // `bus`: the topology as CloudFormation or JSON, the service list, and the local bus's queues.
    .executableTarget(
        name: "bus",
        dependencies: ["EventBus", "Contracts", "ServiceKit", "OrderingService", .product(name: "ArgumentParser", package: "swift-argument-parser")],
        path: "Services/Bus", swiftSettings: swiftSettings
    ),
]

let testing: [Target.Dependency] = ["ServiceKit", "TestSupport", .product(name: "HummingbirdTesting", package: "hummingbird")]

let testTargets: [Target] = [
    .target(
        name: "TestSupport",
        dependencies: [
            "ServiceKit", "Auth",
            .product(name: "JWTKit", package: "jwt-kit"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "CryptoExtras", package: "swift-crypto"),
            .product(name: "HummingbirdTesting", package: "hummingbird"),
            .product(name: "PostgresNIO", package: "postgres-nio"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            httpClient,
            .product(name: "NIOHTTP1", package: "swift-nio"),
        ],
        path: "Tests/TestSupport", swiftSettings: swiftSettings
    ),
    .testTarget(name: "ServiceKitTests", dependencies: testing, path: "Tests/ServiceKitTests", swiftSettings: swiftSettings),
    .testTarget(
        name: "ContractsTests",
        dependencies: testing + [
            "Contracts", "EventBus", "GatewayService", "IdentityService", "ProductService", "BasketService", "OrderingService", "PaymentService", "ShippingService", "NotificationService", "Auth",
            .product(name: "Yams", package: "Yams"),
        ],
        path: "Tests/ContractsTests", swiftSettings: swiftSettings
    ),
    .testTarget(name: "ProductServiceTests", dependencies: testing + ["ProductService", "Contracts", "Auth", "EventBus", httpClient], path: "Tests/ProductServiceTests", swiftSettings: swiftSettings),
    .testTarget(
        name: "EventBusTests",
        dependencies: testing + ["EventBus", "Contracts", "AWS", httpClient],
        path: "Tests/EventBusTests", swiftSettings: swiftSettings
    ),
    .testTarget(
        name: "BasketServiceTests",
        dependencies: testing + ["BasketService", "ProductService", "EventBus", "Contracts", httpClient],
        path: "Tests/BasketServiceTests", swiftSettings: swiftSettings
    ),
    .testTarget(name: "OrderingServiceTests", dependencies: testing + ["OrderingService", "EventBus", "Contracts", .product(name: "PostgresNIO", package: "postgres-nio")], path: "Tests/OrderingServiceTests", swiftSettings: swiftSettings),
    .testTarget(name: "PaymentServiceTests", dependencies: testing + ["PaymentService", "EventBus", "Contracts"], path: "Tests/PaymentServiceTests", swiftSettings: swiftSettings),
    .testTarget(name: "NotificationServiceTests", dependencies: testing + ["NotificationService", "Contracts", "EventBus", hummingbird, httpTypes, .product(name: "Crypto", package: "swift-crypto")], path: "Tests/NotificationServiceTests", swiftSettings: swiftSettings),
    .testTarget(name: "IdentityServiceTests", dependencies: testing + ["IdentityService"], path: "Tests/IdentityServiceTests", swiftSettings: swiftSettings),
    .testTarget(name: "ShippingServiceTests", dependencies: testing + ["ShippingService", "EventBus", "Contracts"], path: "Tests/ShippingServiceTests", swiftSettings: swiftSettings),
    .testTarget(
        name: "AuthTests",
        dependencies: testing + [
            "Auth", "GatewayService", "IdentityService", "ProductService", "BasketService", "OrderingService", "PaymentService", "ShippingService", "NotificationService",
            "EventBus", "Contracts",
            .product(name: "JWTKit", package: "jwt-kit"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "CryptoExtras", package: "swift-crypto"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOEmbedded", package: "swift-nio"),
            .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
            httpClient,
        ],
        path: "Tests/AuthTests", swiftSettings: swiftSettings
    ),
    .testTarget(
        name: "EndToEndTests",
        dependencies: testing + ["EventBus", "Contracts", httpClient, .product(name: "NIOHTTP1", package: "swift-nio")],
        path: "Tests/EndToEndTests", swiftSettings: swiftSettings
    ),
]

let package = Package(
    name: "swn-shop",
    platforms: [.macOS(.v15)],
    products: (serviceTargets + sharedTargets).filter { $0.type == .executable }.map { .executable(name: $0.name, targets: [$0.name]) },
    // Every direct dependency at the exact version CI builds with. (Package.resolved, which would pin the
    // transitive ones too, cannot be committed from the machines this is built on: their package mirror's
    // commit ids are not GitHub's, and their git ignores the file.)
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", exact: "2.28.1"),
        .package(url: "https://github.com/vapor/postgres-nio.git", exact: "1.33.2"),
        .package(url: "https://github.com/apple/swift-log.git", exact: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", exact: "2.13.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", exact: "1.37.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", exact: "4.5.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", exact: "1.8.0"),
        .package(url: "https://github.com/apple/swift-nio.git", exact: "2.101.3"),
        .package(url: "https://github.com/vapor/jwt-kit.git", exact: "5.8.0"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", exact: "1.35.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", exact: "2.37.6"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", exact: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams.git", exact: "6.2.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", exact: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", exact: "2.4.1"),
        // Traces over OTLP/HTTP only (the gRPC exporter is not used, and its trait would build grpc-swift).
        .package(url: "https://github.com/swift-otel/swift-otel.git", exact: "1.6.0", traits: ["OTLPHTTP"]),
        .package(url: "https://github.com/apple/swift-distributed-tracing.git", exact: "1.7.3"),
    ],
    targets: sharedTargets + serviceTargets + testTargets
)
