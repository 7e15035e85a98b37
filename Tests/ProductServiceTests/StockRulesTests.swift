import Contracts
import Foundation
import Testing

@testable import ProductService

/// Reservations: all lines or none, never below zero, idempotent per order, released once.
@Suite struct StockRulesTests {
    static let lamp = UUID()
    static let desk = UUID()

    /// Stock levels at the catalog price 10.
    static func at(_ stock: [UUID: Int], price: Decimal = 10) -> [UUID: StockLevel] {
        stock.mapValues { StockLevel(stock: $0, price: price) }
    }

    static func reserve(_ lines: [(UUID, Int)], order: UUID = UUID()) -> ReserveStock {
        ReserveStock(orderId: order, lines: lines.map { ReserveStock.Line(productId: $0.0, quantity: $0.1) })
    }

    @Test func restockGivesCommittedUnitsBackOnce() {
        let order = UUID()
        let product = UUID()
        let committed = Reservation(orderId: order, status: .committed, lines: [ReserveStock.Line(productId: product, quantity: 3)])
        let back = StockRules.restock(orderId: order, existing: committed)
        #expect(back.store?.status == .returned && back.stockChanges == [product: 3])
        #expect(StockRules.restock(orderId: order, existing: back.store).stockChanges.isEmpty, "once")
        #expect(StockRules.commit(existing: back.store) == nil, "a late commit makes nothing final")
        let released = Reservation(orderId: order, status: .released, lines: [ReserveStock.Line(productId: product, quantity: 3)])
        #expect(StockRules.restock(orderId: order, existing: released).stockChanges.isEmpty, "released stock is not given twice")
        let mark = StockRules.restock(orderId: order, existing: nil)
        #expect(mark.store?.status == .returned && mark.stockChanges.isEmpty)
    }

    @Test func allLinesOrNone() {
        let ok = StockRules.reserve(Self.reserve([(Self.lamp, 2), (Self.desk, 1), (Self.lamp, 1)]), existing: nil, available: Self.at([Self.lamp: 3, Self.desk: 1]))
        #expect(ok.reply == .reserved && ok.stockChanges == [Self.lamp: -3, Self.desk: -1], "lines of one product are summed")
        let short = StockRules.reserve(Self.reserve([(Self.lamp, 2), (Self.desk, 2)]), existing: nil, available: Self.at([Self.lamp: 3, Self.desk: 1]))
        #expect(short.reply == .failed(reason: "OutOfStock") && short.stockChanges.isEmpty && short.store?.status == .rejected)
        let deleted = StockRules.reserve(Self.reserve([(Self.lamp, 1)]), existing: nil, available: Self.at([:]))
        #expect(deleted.reply == .failed(reason: "OutOfStock"), "a product deleted since the checkout")
    }

    @Test func aRepeatedCommandAnswersTheSame() {
        let command = Self.reserve([(Self.lamp, 2)])
        let first = StockRules.reserve(command, existing: nil, available: Self.at([Self.lamp: 2]))
        let again = StockRules.reserve(command, existing: first.store, available: Self.at([Self.lamp: 0]))
        #expect(again.reply == .reserved && again.stockChanges.isEmpty && again.store == nil)
        let rejected = StockRules.reserve(command, existing: Reservation(orderId: command.orderId, status: .rejected, reason: "OutOfStock", lines: []), available: Self.at([Self.lamp: 9]))
        #expect(rejected.reply == .failed(reason: "OutOfStock") && rejected.stockChanges.isEmpty)
    }

    @Test func releaseGivesBackOnceAndMarksAnOrderThatNeverReserved() {
        let order = UUID()
        let reserved = Reservation(orderId: order, status: .reserved, lines: [ReserveStock.Line(productId: Self.lamp, quantity: 2)])
        let released = StockRules.release(orderId: order, existing: reserved)
        #expect(released.stockChanges == [Self.lamp: 2] && released.store?.status == .released)
        #expect(StockRules.release(orderId: order, existing: released.store).stockChanges.isEmpty, "released once")
        let mark = StockRules.release(orderId: order, existing: nil)
        #expect(mark.store?.status == .released && mark.stockChanges.isEmpty)
        let late = StockRules.reserve(Self.reserve([(Self.lamp, 1)], order: order), existing: mark.store, available: Self.at([Self.lamp: 5]))
        #expect(late.stockChanges.isEmpty && late.reply == .failed(reason: "Released"), "a reservation after the release takes nothing")
        let committed = StockRules.commit(existing: reserved)
        #expect(committed?.status == .committed)
        #expect(StockRules.release(orderId: order, existing: committed).stockChanges.isEmpty, "a completed order keeps its stock")
    }

    /// A line placed at a price the catalog no longer has is refused, all lines with it; a line
    /// without a price (a command from before prices were checked) is not checked.
    @Test func aLineAtAnOldPriceIsRefusedAsPriceChanged() {
        let order = UUID()
        let current = ReserveStock(orderId: order, lines: [ReserveStock.Line(productId: Self.lamp, quantity: 1, price: 10), ReserveStock.Line(productId: Self.desk, quantity: 1, price: 10)])
        #expect(StockRules.reserve(current, existing: nil, available: Self.at([Self.lamp: 5, Self.desk: 5])).reply == .reserved)
        let stale = ReserveStock(orderId: order, lines: [ReserveStock.Line(productId: Self.lamp, quantity: 1, price: 10), ReserveStock.Line(productId: Self.desk, quantity: 1, price: 9.5)])
        let refused = StockRules.reserve(stale, existing: nil, available: Self.at([Self.lamp: 5, Self.desk: 5]))
        #expect(refused.reply == .failed(reason: "PriceChanged") && refused.stockChanges.isEmpty && refused.store?.status == .rejected)
        let again = StockRules.reserve(stale, existing: refused.store, available: Self.at([Self.lamp: 5, Self.desk: 5], price: 9.5))
        #expect(again.reply == .failed(reason: "PriceChanged"), "a repeated command answers the same")
        let twoPrices = ReserveStock(orderId: UUID(), lines: [ReserveStock.Line(productId: Self.lamp, quantity: 1, price: 10), ReserveStock.Line(productId: Self.lamp, quantity: 1, price: 11)])
        #expect(StockRules.reserve(twoPrices, existing: nil, available: Self.at([Self.lamp: 5])).reply == .failed(reason: "PriceChanged"))
        #expect(StockRules.reserve(Self.reserve([(Self.lamp, 1)]), existing: nil, available: Self.at([Self.lamp: 5], price: 99)).reply == .reserved)
    }

    /// One customer holds at most `limit` units of a product in unpaid orders, whatever the colours or
    /// the number of orders; another customer is not affected; no limit, no cap.
    @Test func aCustomerCannotHoldMoreThanTheLimitInUnpaidOrders() {
        let two = ReserveStock(orderId: UUID(), lines: [ReserveStock.Line(productId: Self.lamp, quantity: 1), ReserveStock.Line(productId: Self.lamp, quantity: 1)], userName: "ann")
        #expect(StockRules.reserve(two, existing: nil, available: Self.at([Self.lamp: 50]), held: [:], limit: 3).reply == .reserved)
        let refused = StockRules.reserve(two, existing: nil, available: Self.at([Self.lamp: 50]), held: [Self.lamp: 2], limit: 3)
        #expect(refused.reply == .failed(reason: "ReservationLimit") && refused.stockChanges.isEmpty && refused.store?.status == .rejected)
        #expect(StockRules.reserve(two, existing: nil, available: Self.at([Self.lamp: 50]), held: [Self.desk: 3], limit: 3).reply == .reserved, "another product's units do not count")
        #expect(StockRules.reserve(two, existing: nil, available: Self.at([Self.lamp: 50]), held: [Self.lamp: 99], limit: nil).reply == .reserved)
    }
}
