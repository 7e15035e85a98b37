import Contracts
import Foundation
import Testing

@testable import ProductService

/// Reservations: all lines or none, never below zero, idempotent per order, released once.
@Suite struct StockRulesTests {
    static let lamp = UUID()
    static let desk = UUID()

    static func reserve(_ lines: [(UUID, Int)], order: UUID = UUID()) -> ReserveStock {
        ReserveStock(orderId: order, lines: lines.map { ReserveStock.Line(productId: $0.0, quantity: $0.1) })
    }

    @Test func allLinesOrNone() {
        let ok = StockRules.reserve(Self.reserve([(Self.lamp, 2), (Self.desk, 1), (Self.lamp, 1)]), existing: nil, available: [Self.lamp: 3, Self.desk: 1])
        #expect(ok.reply == .reserved && ok.stockChanges == [Self.lamp: -3, Self.desk: -1], "lines of one product are summed")
        let short = StockRules.reserve(Self.reserve([(Self.lamp, 2), (Self.desk, 2)]), existing: nil, available: [Self.lamp: 3, Self.desk: 1])
        #expect(short.reply == .failed(reason: "OutOfStock") && short.stockChanges.isEmpty && short.store?.status == .rejected)
        let deleted = StockRules.reserve(Self.reserve([(Self.lamp, 1)]), existing: nil, available: [:])
        #expect(deleted.reply == .failed(reason: "OutOfStock"), "a product deleted since the checkout")
    }

    @Test func aRepeatedCommandAnswersTheSame() {
        let command = Self.reserve([(Self.lamp, 2)])
        let first = StockRules.reserve(command, existing: nil, available: [Self.lamp: 2])
        let again = StockRules.reserve(command, existing: first.store, available: [Self.lamp: 0])
        #expect(again.reply == .reserved && again.stockChanges.isEmpty && again.store == nil)
        let rejected = StockRules.reserve(command, existing: Reservation(orderId: command.orderId, status: .rejected, reason: "OutOfStock", lines: []), available: [Self.lamp: 9])
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
        let late = StockRules.reserve(Self.reserve([(Self.lamp, 1)], order: order), existing: mark.store, available: [Self.lamp: 5])
        #expect(late.stockChanges.isEmpty && late.reply == .failed(reason: "Released"), "a reservation after the release takes nothing")
        let committed = StockRules.commit(existing: reserved)
        #expect(committed?.status == .committed)
        #expect(StockRules.release(orderId: order, existing: committed).stockChanges.isEmpty, "a completed order keeps its stock")
    }
}
