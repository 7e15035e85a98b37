import Foundation
import Testing

@testable import EventBus

@Suite struct EventPatternTests {
    let event = try! EventEnvelope(json: """
        {"version":"0","id":"1","detail-type":"CheckoutBasket","source":"com.swn.basket.checkoutbasket",
         "time":"2026-11-22T10:00:00Z","region":"local","resources":[],
         "detail":{"userName":"swn","totalPrice":19.99,"tags":["gift","express"],"address":{"country":"NL"}}}
        """).jsonValue

    func matches(_ pattern: String) throws -> Bool {
        try EventPattern(json: pattern).matches(event)
    }

    @Test func exactValuesAndLists() throws {
        #expect(try matches(#"{"source":["com.swn.basket.checkoutbasket"]}"#))
        #expect(try matches(#"{"source":["other","com.swn.basket.checkoutbasket"],"detail-type":["CheckoutBasket"]}"#))
        #expect(try !matches(#"{"source":["com.swn.basket.checkoutbasket"],"detail-type":["Other"]}"#))
        #expect(try matches(#"{"detail":{"totalPrice":[19.99]}}"#))
        #expect(try !matches(#"{"detail":{"totalPrice":[19.98]}}"#))
        #expect(try matches(#"{"detail":{"address":{"country":["NL"]}}}"#))
        #expect(try matches(#"{"detail":{"tags":["express"]}}"#), "an array field matches when any element does")
        #expect(try !matches(#"{"detail":{"missing":["x"]}}"#))
    }

    @Test func prefixAnythingButAndExists() throws {
        #expect(try matches(#"{"source":[{"prefix":"com.swn."}]}"#))
        #expect(try matches(#"{"detail-type":[{"prefix":"Checkout"}]}"#))
        #expect(try matches(#"{"detail":{"userName":[{"prefix":"sw"}]}}"#))
        #expect(try !matches(#"{"source":[{"prefix":"com.other"}]}"#))
        #expect(try matches(#"{"detail":{"userName":[{"anything-but":["admin"]}]}}"#))
        #expect(try !matches(#"{"detail":{"userName":[{"anything-but":"swn"}]}}"#))
        #expect(try matches(#"{"detail":{"userName":[{"exists":true}]}}"#))
        #expect(try matches(#"{"detail":{"nope":[{"exists":false}]}}"#))
        #expect(try !matches(#"{"detail":{"userName":[{"exists":false}]}}"#))
    }

    @Test func envelopeRoundTripsDecimalsExactly() throws {
        let detail = try JSONValue(encoding: ["price": Decimal(string: "1234567.89")!])
        let envelope = EventEnvelope(detailType: "T", source: "s", region: "local", detail: detail)
        let parsed = try EventEnvelope(json: try envelope.jsonString())
        #expect(parsed.detail["price"] == .number(Decimal(string: "1234567.89")!))
        #expect(try envelope.jsonString().contains("\"detail-type\":\"T\""))
    }
}
