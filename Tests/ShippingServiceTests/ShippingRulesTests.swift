import Contracts
import EventBus
import Foundation
import Testing

@testable import ShippingService

/// The warehouse's rules without a database: one shipment per order, moves on the clock, and a
/// cancel that either stops the dispatch or finds the parcel gone — never both.
@Suite struct ShippingRulesTests {
    static let delays = ShippingRules.Delays(dispatch: .seconds(2), delivery: .seconds(5), returnTrip: .seconds(3))

    static func created(_ orderId: UUID = UUID(), at now: Date = Date()) -> ShipmentRecord {
        ShippingRules.created(orderId: orderId, userName: "ann", existing: nil, now: now, delays: delays).record!
    }

    @Test func oneShipmentPerOrderLabelledTheSameWay() throws {
        let now = Date()
        let record = Self.created(at: now)
        #expect(record.shipment.status == .preparing && record.dueAt == now + 2)
        #expect(ShippingRules.carriers.contains(record.shipment.carrier ?? "") && (record.shipment.trackingNumber?.count ?? 0) == 12)
        let again = ShippingRules.created(orderId: record.shipment.orderId, userName: "ann", existing: record, now: now + 1, delays: Self.delays)
        #expect(again == ShippingRules.Decision(), "a redelivered OrderCompleted changes nothing")
        #expect(ShippingRules.label(for: record.shipment.orderId) == ShippingRules.label(for: record.shipment.orderId))
    }

    @Test func preparingShippedDeliveredOnTheClock() throws {
        let now = Date()
        var record = Self.created(at: now)
        let shipped = ShippingRules.due(existing: record, claimed: .preparing, now: now + 2, delays: Self.delays)
        #expect(shipped.events == [.shipped] && shipped.record?.shipment.status == .shipped && shipped.record?.dueAt == now + 7)
        record = try #require(shipped.record)
        #expect(ShippingRules.due(existing: record, claimed: .preparing, now: now + 3, delays: Self.delays) == ShippingRules.Decision(),
                "a move claimed in a status the shipment has left is not made again")
        let delivered = ShippingRules.due(existing: record, claimed: .shipped, now: now + 7, delays: Self.delays)
        #expect(delivered.events == [.delivered] && delivered.record?.shipment.deliveredAt == now + 7 && delivered.record?.dueAt == nil)
    }

    @Test func aCancelStopsOnlyAParcelThatHasNotLeft() throws {
        let now = Date()
        let record = Self.created(at: now)
        let stopped = ShippingRules.cancel(orderId: record.shipment.orderId, userName: "ann", existing: record, now: now + 1)
        #expect(stopped.events == [.cancelled] && stopped.record?.shipment.status == .cancelled && stopped.record?.dueAt == nil)
        #expect(ShippingRules.due(existing: stopped.record, claimed: .preparing, now: now + 2, delays: Self.delays).events.isEmpty,
                "a stopped shipment never leaves")
        #expect(ShippingRules.cancel(orderId: record.shipment.orderId, userName: "ann", existing: stopped.record, now: now + 3).events == [.cancelled],
                "a repeated cancel answers the same")

        let shipped = try #require(ShippingRules.due(existing: record, claimed: .preparing, now: now + 2, delays: Self.delays).record)
        #expect(ShippingRules.cancel(orderId: record.shipment.orderId, userName: "ann", existing: shipped, now: now + 3) == ShippingRules.Decision(),
                "a parcel that left is not stopped: its OrderShipped is the answer")
    }

    @Test func aCancelBeforeTheShipmentExistsLeavesAStoppedOne() {
        let orderId = UUID()
        let now = Date()
        let stopped = ShippingRules.cancel(orderId: orderId, userName: "ann", existing: nil, now: now)
        #expect(stopped.events == [.cancelled] && stopped.record?.shipment.status == .cancelled)
        #expect(ShippingRules.created(orderId: orderId, userName: "ann", existing: stopped.record, now: now + 1, delays: Self.delays) == ShippingRules.Decision(),
                "a late OrderCompleted ships nothing")
    }

    @Test func aDeliveredParcelComesBack() throws {
        let now = Date()
        var record = Self.created(at: now)
        record = try #require(ShippingRules.due(existing: record, claimed: .preparing, now: now + 2, delays: Self.delays).record)
        #expect(ShippingRules.returnRequested(existing: record, now: now + 3, delays: Self.delays) == ShippingRules.Decision(), "only a delivered parcel")
        record = try #require(ShippingRules.due(existing: record, claimed: .shipped, now: now + 7, delays: Self.delays).record)
        let back = ShippingRules.returnRequested(existing: record, now: now + 8, delays: Self.delays)
        #expect(back.record?.shipment.status == .returnRequested && back.record?.dueAt == now + 11 && back.events.isEmpty)
        let arrived = ShippingRules.due(existing: back.record, claimed: .returnRequested, now: now + 11, delays: Self.delays)
        #expect(arrived.events == [.returned] && arrived.record?.shipment.returnedAt == now + 11)
        #expect(ShippingRules.returnRequested(existing: arrived.record, now: now + 12, delays: Self.delays) == ShippingRules.Decision())
    }

    @Test func eventsCarryTheWholeShipment() throws {
        let now = Date()
        let record = try #require(ShippingRules.due(existing: Self.created(at: now), claimed: .preparing, now: now + 2, delays: Self.delays).record)
        let entries = try ShippingRules.entries([.shipped], for: record.shipment, now: now + 2)
        #expect(entries.count == 1 && entries[0].source == "com.swn.shipping" && entries[0].detailType == "OrderShipped")
        let detail = entries[0].detail
        #expect(detail["trackingNumber"] == .string(record.shipment.trackingNumber ?? "") && detail["deliveredAt"] == .null)
    }
}
