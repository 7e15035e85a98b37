import Contracts
import Foundation
import Testing
import TestSupport
import Yams

/// The order lifecycle's words are declared once (Shared/Contracts/OrderLifecycle.swift): the
/// storefront's module and the README's diagram are rendered from it, and the OpenAPI enums must
/// hold exactly its words.
@Suite struct LifecycleTests {
    static func file(_ path: String) throws -> String {
        try String(contentsOfFile: repositoryRoot.appendingPathComponent(path).path, encoding: .utf8)
    }

    @Test func theStorefrontModuleIsRendered() throws {
        #expect(try Self.file(OrderLifecycleDocuments.storefrontPath) == OrderLifecycleDocuments.storefrontModule,
                "run `swift run bus lifecycle --write`")
    }

    @Test func theReadmeDiagramIsRendered() throws {
        let readme = try Self.file("README.md")
        #expect(OrderLifecycleDocuments.replacingDiagram(in: readme) == readme, "run `swift run bus lifecycle --write`")
    }

    @Test func theOpenAPIEnumsHoldExactlyTheDeclaredWords() throws {
        let document = try #require(try Yams.load(yaml: try Self.file("deploy/openapi.yaml")) as? [String: Any])
        let schemas = try #require((document["components"] as? [String: Any])?["schemas"] as? [String: Any])
        func enumeration(_ path: [String]) -> [String]? {
            var node: Any? = schemas
            for key in path { node = (node as? [String: Any])?[key] }
            return (node as? [String: Any])?["enum"] as? [String]
        }
        #expect(enumeration(["OrderStatus"]) == OrderStatus.allCases.map(\.rawValue))
        #expect(enumeration(["CancellationReason"]) == CancellationReason.allCases.map(\.rawValue))
        #expect(enumeration(["ShipmentStatus"]) == ShipmentStatus.allCases.map(\.rawValue))
    }
}
