// swift-tools-version:6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [.swiftLanguageMode(.v6)]

let package = Package(
    name: "swn-shop",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "product-service", targets: ["product-service"]),
        .executable(name: "basket-service", targets: ["basket-service"]),
        .executable(name: "ordering-service", targets: ["ordering-service"]),
        .executable(name: "bus", targets: ["bus"]),
        .executable(name: "gateway", targets: ["gateway"]),
        .executable(name: "identity", targets: ["identity"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", "4.0.0"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.8.0"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
    ],
    targets: [
        // Shared libraries
        .target(
            name: "ServiceKit",
            dependencies: [
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Shared/ServiceKit",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "AWS",
            dependencies: [
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Shared/AWS",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "EventBus",
            dependencies: [
                "ServiceKit", "AWS",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Shared/EventBus",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Auth",
            dependencies: [
                "ServiceKit",
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Shared/Auth",
            swiftSettings: swiftSettings
        ),

        // Gateway
        .target(
            name: "GatewayService",
            dependencies: [
                "ServiceKit", "Auth",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
            ],
            path: "Services/Gateway/Sources",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "gateway",
            dependencies: ["GatewayService", "ServiceKit"],
            path: "Services/Gateway/Main",
            swiftSettings: swiftSettings
        ),

        // Identity (local Cognito stand-in)
        .target(
            name: "IdentityService",
            dependencies: [
                "ServiceKit", "Auth", "AWS",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            path: "Services/Identity/Sources",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "identity",
            dependencies: ["IdentityService", "ServiceKit"],
            path: "Services/Identity/Main",
            swiftSettings: swiftSettings
        ),

        // Product
        .target(
            name: "ProductService",
            dependencies: ["ServiceKit", "EventBus", "Auth", .product(name: "Hummingbird", package: "hummingbird")],
            path: "Services/Product/Sources",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "product-service",
            dependencies: ["ProductService", "ServiceKit"],
            path: "Services/Product/Main",
            swiftSettings: swiftSettings
        ),

        // Basket
        .target(
            name: "BasketService",
            dependencies: [
                "ServiceKit", "EventBus", "Auth",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            path: "Services/Basket/Sources",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "basket-service",
            dependencies: ["BasketService", "ServiceKit"],
            path: "Services/Basket/Main",
            swiftSettings: swiftSettings
        ),

        // Ordering
        .target(
            name: "OrderingService",
            dependencies: ["ServiceKit", "EventBus", "Auth", .product(name: "Hummingbird", package: "hummingbird")],
            path: "Services/Ordering/Sources",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "ordering-service",
            dependencies: ["OrderingService", "ServiceKit"],
            path: "Services/Ordering/Main",
            swiftSettings: swiftSettings
        ),

        // Local bus administration (dead letters, redrive, queue peek)
        .executableTarget(
            name: "bus",
            dependencies: ["EventBus", "ServiceKit"],
            path: "Services/Bus",
            swiftSettings: swiftSettings
        ),

        // Tests
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
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            path: "Tests/TestSupport",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ServiceKitTests",
            dependencies: ["ServiceKit", "TestSupport", .product(name: "HummingbirdTesting", package: "hummingbird")],
            path: "Tests/ServiceKitTests",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ProductServiceTests",
            dependencies: ["ProductService", "ServiceKit", "TestSupport", .product(name: "HummingbirdTesting", package: "hummingbird")],
            path: "Tests/ProductServiceTests",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "EventBusTests",
            dependencies: ["EventBus", "AWS", "ServiceKit", "TestSupport", .product(name: "AsyncHTTPClient", package: "async-http-client")],
            path: "Tests/EventBusTests",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "BasketServiceTests",
            dependencies: [
                "BasketService", "ProductService", "EventBus", "ServiceKit", "TestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            path: "Tests/BasketServiceTests",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "AuthTests",
            dependencies: [
                "Auth", "GatewayService", "IdentityService", "ProductService", "BasketService", "OrderingService",
                "EventBus", "ServiceKit", "TestSupport",
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            path: "Tests/AuthTests",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "EndToEndTests",
            dependencies: [
                "ServiceKit", "EventBus", "TestSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            path: "Tests/EndToEndTests",
            swiftSettings: swiftSettings
        ),
    ]
)
