import Foundation
import OrderingService
import ProductService
import ServiceKit
import Testing
import TestSupport
import Yams

/// Every list's cursor is declared once, by its type (`PageCursor`): the OpenAPI file states the same
/// pattern and length, and the pattern says exactly which values the service takes — a string the
/// pattern accepts is a position, one it refuses is a 400 (so API fuzzers' "valid" cursors are valid).
@Suite struct CursorFormTests {
    static let forms: [(parameter: String, path: String, pattern: String, maximumLength: Int, decodes: @Sendable (Substring) -> Bool)] = [
        ("ProductCursor", "/product", ProductCursor.pattern, ProductCursor.maximumLength, { ProductCursor(cursor: $0) != nil }),
        ("OrderCursor", "/order", OrderCursor.pattern, OrderCursor.maximumLength, { OrderCursor(cursor: $0) != nil }),
        ("BasketCursor", "/basket", NameCursor.pattern, NameCursor.maximumLength, { NameCursor(cursor: $0) != nil }),
        ("ShipmentCursor", "/shipment", TimeCursor.pattern, TimeCursor.maximumLength, { TimeCursor(cursor: $0) != nil }),
        ("ProductCursor", "/product", SearchCursor.pattern, SearchCursor.maximumLength, { SearchCursor(cursor: $0) != nil }),
    ]

    @Test func theOpenAPIFileDeclaresEachListsCursorForm() throws {
        let document = try #require(try Yams.load(yaml: String(contentsOf: repositoryRoot.appendingPathComponent("deploy/openapi.yaml"), encoding: .utf8)) as? [String: Any])
        let components = try #require(document["components"] as? [String: Any])
        let parameters = try #require(components["parameters"] as? [String: Any])
        let paths = try #require(document["paths"] as? [String: Any])
        for form in Self.forms {
            let parameter = try #require(parameters[form.parameter] as? [String: Any], "\(form.parameter)")
            let schema = try #require(parameter["schema"] as? [String: Any])
            #expect(schema["pattern"] as? String == form.pattern, "\(form.parameter)")
            #expect(schema["maxLength"] as? Int == form.maximumLength, "\(form.parameter)")
            let get = try #require((paths[form.path] as? [String: Any])?["get"] as? [String: Any])
            let references = (get["parameters"] as? [[String: Any]] ?? []).compactMap { $0["$ref"] as? String }
            #expect(references.contains("#/components/parameters/\(form.parameter)"), "GET \(form.path) uses \(form.parameter)")
        }
    }

    /// Random strings built from the forms' pieces, some mangled: the decoder takes a string exactly
    /// when the pattern matches it.
    @Test func thePatternIsExactlyWhatTheDecoderTakes() throws {
        var generator = SystemRandomNumberGenerator()
        let base64 = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        let pieces = ["", "-", ".", "0", "9", "a", "F", "g", "_", "+", "=", "/", "%", " ", "é"]
        func hex(_ count: Int) -> String { String((0..<count).map { _ in Array("0123456789abcdefABCDEF").randomElement(using: &generator)! }) }
        func text(_ count: Int) -> String { String((0..<count).map { _ in base64.randomElement(using: &generator)! }) }
        var accepted = 0
        for form in Self.forms {
            let regex = try NSRegularExpression(pattern: form.pattern)
            for _ in 0..<3000 {
                var candidate: String
                switch Int.random(in: 0..<5, using: &generator) {
                case 4: candidate = "r" + hex(Int.random(in: 7...9, using: &generator)) + hex(32) + text(Int.random(in: 0...12, using: &generator))
                case 0: candidate = hex(32) + text(Int.random(in: 0...12, using: &generator))
                case 1: candidate = (Bool.random(using: &generator) ? "-" : "") + String(Int64.random(in: 0...9_999_999_999_999_999, using: &generator)) + "." + hex(32)
                case 2: candidate = text(Int.random(in: 0...40, using: &generator))
                default: candidate = String(Int.random(in: 0...99_999_999_999_999_999, using: &generator)) + "." + hex(Int.random(in: 30...33, using: &generator))
                }
                if Int.random(in: 0..<3, using: &generator) == 0, !candidate.isEmpty {
                    // Mangle: put a piece somewhere.
                    let index = candidate.index(candidate.startIndex, offsetBy: Int.random(in: 0...candidate.count, using: &generator))
                    candidate.insert(contentsOf: pieces.randomElement(using: &generator)!, at: index)
                }
                let matches = regex.firstMatch(in: candidate, range: NSRange(candidate.startIndex..., in: candidate)) != nil
                let decodes = candidate.isEmpty || form.decodes(Substring(candidate))
                #expect(matches == decodes, "\(form.parameter): \(candidate)")
                if matches { accepted += 1 }
            }
        }
        #expect(accepted > 1000, "the generator reaches the forms")
    }

    /// The cursors the lists issue are in their form, and no longer than declared.
    @Test func issuedCursorsAreInTheirForm() throws {
        let product = ProductCursor(name: String(repeating: "🙂", count: 200), id: UUID())
        let order = OrderCursor(orderDate: Date(timeIntervalSince1970: 1_800_000_000.123456), orderId: UUID())
        let search = SearchCursor(rank: 0.0607927, name: String(repeating: "🙂", count: 200), id: UUID())
        for (cursor, form) in [
            (product.cursor, Self.forms[0]), (order.cursor, Self.forms[1]), (NameCursor(name: "josé").cursor, Self.forms[2]), (search.cursor, Self.forms[4]),
        ] {
            let regex = try NSRegularExpression(pattern: form.pattern)
            #expect(regex.firstMatch(in: cursor, range: NSRange(cursor.startIndex..., in: cursor)) != nil, "\(cursor)")
            #expect(cursor.count <= form.maximumLength)
        }
        #expect(ProductCursor(cursor: Substring(product.cursor)) == product)
        #expect(SearchCursor(cursor: Substring(search.cursor)) == search)
        #expect(OrderCursor(cursor: Substring(order.cursor)) == order)
    }
}
