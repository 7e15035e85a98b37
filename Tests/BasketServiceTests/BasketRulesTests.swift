import Contracts
import EventBus
import Foundation
import ServiceKit
import Testing

@testable import BasketService

/// The basket's rules as plain values: no database, no HTTP.
@Suite struct BasketRulesTests {
    static let phone = UUID()
    static let cable = UUID()

    static func item(_ id: UUID = phone, quantity: Int = 1, price: String = "19.99", available: Bool = true) -> BasketItem {
        BasketItem(productId: id, productName: id == phone ? "Phone" : "Cable", quantity: quantity, color: "", price: Decimal(string: price)!, available: available)
    }

    static let request = CheckoutRequest(
        userName: "ann", firstName: "Ann", lastName: "Lee", email: "ann@example.com", address: "1 Main St",
        paymentMethod: "card", cardInfo: "4242424242424242"
    )

    static func field(of body: () throws -> Void) -> String? {
        do { try body(); return nil } catch let problem as Problem { return problem.field } catch { return "\(error)" }
    }

    // MARK: merge and limits

    /// A stored basket fits the money range; a later price rise can carry it beyond (the API says so),
    /// and then checkout refuses it naming the line, never a 500 or an order beyond the range.
    @Test func aPriceRiseBeyondTheMoneyRangeIsRefusedAtCheckout() throws {
        let stored = [Self.item(quantity: 615, price: "1.00")]
        #expect(Self.field { try Basket.checkAmounts(of: stored) } == nil)
        let risen = stored.map { CatalogChange(productId: Self.phone, name: "Phone", price: Decimal(string: "9999999999.98")!, version: 2, deleted: false).applied(to: $0) }
        #expect(Basket(userName: "ann", items: risen).totalPrice > Money.maximum)
        #expect(Self.field { try Basket.checkAmounts(of: risen) } == "items[0].quantity")
    }

    @Test func linesOfTheSameProductAndColorMerge() throws {
        let input = try BasketInput(userName: "ann", items: [
            .init(productId: Self.phone, quantity: 2, color: " black "),
            .init(productId: Self.cable, quantity: 1, color: nil),
            .init(productId: Self.phone, quantity: 3, color: "black"),
            .init(productId: Self.phone, quantity: 1, color: "white"),
        ]).validated()
        #expect(input.items.map(\.quantity) == [5, 1, 1])
        #expect(input.items.map(\.color) == ["black", "", "white"])
    }

    @Test func limitsNameTheField() {
        #expect(Self.field { _ = try BasketInput(userName: "ann", items: [.init(productId: Self.phone, quantity: 0, color: nil)]).validated() } == "items[0].quantity")
        #expect(Self.field { _ = try BasketInput(userName: "ann", items: [.init(productId: Self.phone, quantity: 1001, color: nil)]).validated() } == "items[0].quantity")
        #expect(Self.field {
            _ = try BasketInput(userName: "ann", items: [.init(productId: Self.phone, quantity: 600, color: nil), .init(productId: Self.phone, quantity: 600, color: nil)]).validated()
        } == "items[1].quantity", "merged lines stay within the limit")
        #expect(Self.field { _ = try BasketInput(userName: "ann", items: Array(repeating: .init(productId: UUID(), quantity: 1, color: nil), count: 101)).validated() } == "items")
        #expect(Self.field { _ = try BasketInput(userName: "ann", items: [.init(productId: Self.phone, quantity: 1, color: "red\u{0}")]).validated() } == "items[0].color")
        #expect(Self.field { _ = try BasketInput(userName: "a b", items: []).validated() } == "userName")
    }

    @Test func theTotalCountsQuantitiesAndSkipsUnavailableItems() throws {
        let basket = Basket(userName: "ann", items: [Self.item(quantity: 3), Self.item(Self.cable, quantity: 2, price: "0.10"), Self.item(quantity: 5, available: false)])
        #expect(basket.totalPrice == Decimal(string: "60.17"))
        #expect(Self.field { try Basket.checkAmounts(of: [Self.item(quantity: 1000, price: "9999999999.99")]) } == "items[0].quantity")
        #expect(Self.field { try Basket.checkAmounts(of: [Self.item(quantity: 1000, price: "9999999.99"), Self.item(quantity: 1000, price: "9999999.99")]) } == "totalPrice")
    }

    // MARK: checkout

    @Test func aCheckoutMakesTheEventWithAMaskedCard() throws {
        let id = UUID()
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let basket = Basket(userName: "ann", items: [Self.item(quantity: 2), Self.item(Self.cable, quantity: 1, price: "0.10")])
        guard case .accepted(let checkout) = try CheckoutRules.decide(Self.request, basket: basket, checkoutId: id, at: now) else {
            Issue.record("not accepted")
            return
        }
        #expect(checkout.checkoutId == id && checkout.checkoutDate == now && checkout.userName == "ann")
        #expect(checkout.cardInfo == "**** **** **** 4242")
        #expect(checkout.totalPrice == Decimal(string: "40.08"))
        #expect(checkout.items == [
            OrderLine(productId: Self.phone, productName: "Phone", quantity: 2, color: "", price: Decimal(string: "19.99")!),
            OrderLine(productId: Self.cable, productName: "Cable", quantity: 1, color: "", price: Decimal(string: "0.10")!),
        ])
        let entry = try ShopEvents.checkoutBasket.entry(checkout)
        #expect(entry.source == "com.swn.basket.checkoutbasket" && entry.detailType == "CheckoutBasket")
        #expect(entry.detail["cardInfo"] == .string("**** **** **** 4242"))
    }

    @Test func anEmptyBasketOrOneWithDeletedProductsIsRefused() throws {
        #expect(try CheckoutRules.decide(Self.request, basket: Basket(userName: "ann", items: []), checkoutId: UUID(), at: Date()) == .emptyBasket)
        let withDeleted = Basket(userName: "ann", items: [Self.item(), Self.item(Self.cable, available: false)])
        #expect(try CheckoutRules.decide(Self.request, basket: withDeleted, checkoutId: UUID(), at: Date()) == .unavailableItems(["Cable"]))
    }

    @Test func aRepeatedKeyReplaysOnlyTheSameRequest() throws {
        let fingerprint = try CheckoutRules.fingerprint(Self.request)
        #expect(!fingerprint.contains("4242424242424242"), "the full card number is never kept")
        let first = CheckoutBasket(
            checkoutId: UUID(), userName: "ann", firstName: "Ann", lastName: "Lee", email: "ann@example.com", address: "1 Main St",
            paymentMethod: "card", cardInfo: "**** **** **** 4242", items: [], totalPrice: 0, checkoutDate: Date()
        )
        let stored = StoredCheckout(request: fingerprint, response: first)
        #expect(CheckoutRules.replay(stored, request: fingerprint) == .replayed(first))
        var other = Self.request
        other.address = "2 Main St"
        #expect(CheckoutRules.replay(stored, request: try CheckoutRules.fingerprint(other)) == .idempotencyKeyReused)
        var sameLastFour = Self.request
        sameLastFour.cardInfo = "5555555555554242"
        #expect(CardNumber.mask(sameLastFour.cardInfo) == CardNumber.mask(Self.request.cardInfo))
        #expect(CheckoutRules.replay(stored, request: try CheckoutRules.fingerprint(sameLastFour)) == .idempotencyKeyReused, "another card with the same last four digits")
    }

    @Test func checkoutRequestsAreValidatedFieldByField() throws {
        var request = Self.request
        request.cardInfo = "4242 4242-4242 4242"
        #expect(try request.validated().cardInfo == "4242424242424242")
        for (field, change) in [
            ("cardInfo", { (r: inout CheckoutRequest) in r.cardInfo = "4242" }),
            ("cardInfo", { (r: inout CheckoutRequest) in r.cardInfo = "४२४२४२४२४२४२४२४२" }),
            ("email", { (r: inout CheckoutRequest) in r.email = "ann@example" }),
            ("email", { (r: inout CheckoutRequest) in r.email = "ann@exa mple.com" }),
            ("firstName", { (r: inout CheckoutRequest) in r.firstName = "  " }),
            ("address", { (r: inout CheckoutRequest) in r.address = "1\u{202E} Main" }),
        ] as [(String, (inout CheckoutRequest) -> Void)] {
            var bad = Self.request
            change(&bad)
            #expect(Self.field { _ = try bad.validated() } == field)
        }
    }

    // MARK: catalog changes

    @Test func onlyANewerVersionWins() {
        let change = CatalogChange(productId: Self.phone, name: "Phone", price: 10, version: 3, deleted: false)
        #expect(change.supersedes(knownVersion: nil))
        #expect(change.supersedes(knownVersion: 2))
        #expect(!change.supersedes(knownVersion: 3), "a repeat")
        #expect(!change.supersedes(knownVersion: 4), "a late event")
    }

    @Test func aPriceChangeRemembersThePriceTheUserSawUntilItReturns() {
        var item = Self.item(price: "10.00")
        item = CatalogChange(productId: Self.phone, name: "Phone 2", price: Decimal(string: "12.00")!, version: 2, deleted: false).applied(to: item)
        #expect(item.price == Decimal(string: "12.00") && item.previousPrice == Decimal(string: "10.00") && item.productName == "Phone 2")
        item = CatalogChange(productId: Self.phone, name: "Phone 2", price: Decimal(string: "15.00")!, version: 3, deleted: false).applied(to: item)
        #expect(item.previousPrice == Decimal(string: "10.00"), "still the price the user last saw")
        item = CatalogChange(productId: Self.phone, name: "Phone 2", price: Decimal(string: "10.00")!, version: 4, deleted: false).applied(to: item)
        #expect(item.previousPrice == nil, "back to what the user saw: no change to report")
        let gone = CatalogChange(productId: Self.phone, name: "Phone 2", price: Decimal(string: "10.00")!, version: 5, deleted: true).applied(to: item)
        #expect(!gone.available && gone.price == item.price)
        let back = CatalogChange(productId: Self.phone, name: "Phone 3", price: Decimal(string: "10.00")!, version: 6, deleted: false).applied(to: gone)
        #expect(back.available && back.productName == "Phone 3")
    }

    @Test func catalogEventsAreReadWithTheirDeclaredTypes() throws {
        func envelope(_ type: String, detail: String) throws -> EventEnvelope {
            EventEnvelope(detailType: type, source: "com.swn.product", region: "local", detail: try JSONValue(json: detail))
        }
        let detail = #"{"productId":"\#(Self.phone)","name":"Lamp","category":"Home","price":30.5,"version":3}"#
        #expect(try CatalogChange(try envelope("ProductDeleted", detail: detail))?.deleted == true)
        #expect(try CatalogChange(try envelope("ProductPriceChanged", detail: detail))?.price == Decimal(string: "30.5"))
        #expect(try CatalogChange(try envelope("ProductRenamed", detail: detail)) == nil, "not a catalog change")
        #expect(throws: UnprocessableMessage.self) { try CatalogChange(try envelope("ProductCreated", detail: #"{"productId":"x"}"#)) }
    }
}
