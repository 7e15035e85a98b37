import Contracts
import EventBus
import Foundation
import ServiceKit

/// A shipment as `GET /shipment/{orderId}` shows it.
package struct Shipment: Codable, Sendable, Equatable {
    package var orderId: UUID
    package var userName: String
    package var status: ShipmentStatus
    // Every field is present (null until it happened).
    @NullWhenAbsent package var carrier: String?
    @NullWhenAbsent package var trackingNumber: String?
    package var createdAt: Date
    @NullWhenAbsent package var shippedAt: Date?
    @NullWhenAbsent package var deliveredAt: Date?
    @NullWhenAbsent package var returnRequestedAt: Date?
    @NullWhenAbsent package var returnedAt: Date?
    @NullWhenAbsent package var cancelledAt: Date?

    package init(
        orderId: UUID, userName: String, status: ShipmentStatus, carrier: String?, trackingNumber: String?, createdAt: Date,
        shippedAt: Date? = nil, deliveredAt: Date? = nil, returnRequestedAt: Date? = nil, returnedAt: Date? = nil, cancelledAt: Date? = nil
    ) {
        self.orderId = orderId
        self.userName = userName
        self.status = status
        self.carrier = carrier
        self.trackingNumber = trackingNumber
        self.createdAt = createdAt
        self.shippedAt = shippedAt
        self.deliveredAt = deliveredAt
        self.returnRequestedAt = returnRequestedAt
        self.returnedAt = returnedAt
        self.cancelledAt = cancelledAt
    }
}

/// What the warehouse keeps of one order's parcel: the shipment and, while a move is ahead (dispatch,
/// delivery, the parcel's way back), when it is due.
package struct ShipmentRecord: Sendable, Equatable {
    package var shipment: Shipment
    package var dueAt: Date?

    package init(shipment: Shipment, dueAt: Date? = nil) {
        self.shipment = shipment
        self.dueAt = dueAt
    }
}

/// The warehouse's rules, apart from storage. One shipment per order; every command and every move
/// is idempotent. A cancel and the dispatch are decided here, under the shipment's lock, and only one
/// of them happens: a stopped shipment never leaves, a parcel that left is never stopped — so
/// shipping publishes exactly one of `ShipmentCancelled` and `OrderShipped` for an order.
package enum ShippingRules {
    package struct Delays: Sendable, Equatable {
        package var dispatch: Duration
        package var delivery: Duration
        package var returnTrip: Duration

        package init(dispatch: Duration, delivery: Duration, returnTrip: Duration) {
            self.dispatch = dispatch
            self.delivery = delivery
            self.returnTrip = returnTrip
        }
    }

    /// A message to publish: the shipment's event of this kind.
    package enum Event: Sendable, Equatable { case shipped, delivered, returned, cancelled }

    package struct Decision: Sendable, Equatable {
        /// The record to store (nil: unchanged).
        package var record: ShipmentRecord?
        package var events: [Event]

        package init(record: ShipmentRecord? = nil, events: [Event] = []) {
            self.record = record
            self.events = events
        }
    }

    /// `OrderCompleted`: a new shipment, prepared for dispatch after the delay; nothing when the order
    /// has one (a redelivery) or was cancelled first.
    package static func created(orderId: UUID, userName: String, existing: ShipmentRecord?, now: Date, delays: Delays) -> Decision {
        guard existing == nil else { return Decision() }
        let (carrier, trackingNumber) = label(for: orderId)
        let shipment = Shipment(orderId: orderId, userName: userName, status: .preparing, carrier: carrier, trackingNumber: trackingNumber, createdAt: now)
        return Decision(record: ShipmentRecord(shipment: shipment, dueAt: now + delays.dispatch.timeInterval))
    }

    /// `CancelShipment`: stops a shipment that has not left (or, before any shipment, leaves a
    /// cancelled one so that a late `OrderCompleted` ships nothing) and answers `ShipmentCancelled`,
    /// again on a repeat. A parcel that left is not stopped: its `OrderShipped` is the answer.
    package static func cancel(orderId: UUID, userName: String, existing: ShipmentRecord?, now: Date) -> Decision {
        guard var record = existing else {
            let shipment = Shipment(orderId: orderId, userName: userName, status: .cancelled, carrier: nil, trackingNumber: nil, createdAt: now, cancelledAt: now)
            return Decision(record: ShipmentRecord(shipment: shipment), events: [.cancelled])
        }
        switch record.shipment.status {
        case .preparing:
            record.shipment.status = .cancelled
            record.shipment.cancelledAt = now
            record.dueAt = nil
            return Decision(record: record, events: [.cancelled])
        case .cancelled:
            return Decision(events: [.cancelled])
        case .shipped, .delivered, .returnRequested, .returned:
            return Decision()
        }
    }

    /// `ReturnShipment`: a delivered parcel is on its way back, due after the return trip.
    package static func returnRequested(existing: ShipmentRecord?, now: Date, delays: Delays) -> Decision {
        guard var record = existing, record.shipment.status == .delivered else { return Decision() }
        record.shipment.status = .returnRequested
        record.shipment.returnRequestedAt = now
        record.dueAt = now + delays.returnTrip.timeInterval
        return Decision(record: record)
    }

    /// The move that was due for a shipment claimed in status `claimed`: dispatch, delivery, or the
    /// parcel back. Nothing when the shipment moved meanwhile (another replica's scan, a cancel).
    package static func due(existing: ShipmentRecord?, claimed: ShipmentStatus, now: Date, delays: Delays) -> Decision {
        guard var record = existing, record.shipment.status == claimed else { return Decision() }
        switch record.shipment.status {
        case .preparing:
            record.shipment.status = .shipped
            record.shipment.shippedAt = now
            record.dueAt = now + delays.delivery.timeInterval
            return Decision(record: record, events: [.shipped])
        case .shipped:
            record.shipment.status = .delivered
            record.shipment.deliveredAt = now
            record.dueAt = nil
            return Decision(record: record, events: [.delivered])
        case .returnRequested:
            record.shipment.status = .returned
            record.shipment.returnedAt = now
            record.dueAt = nil
            return Decision(record: record, events: [.returned])
        case .delivered, .returned, .cancelled:
            return Decision()
        }
    }

    /// The outbox entries of `events` for `shipment`.
    package static func entries(_ events: [Event], for shipment: Shipment, now: Date) throws -> [PublishEntry] {
        let detail = ShipmentEvent(
            orderId: shipment.orderId, userName: shipment.userName, carrier: shipment.carrier, trackingNumber: shipment.trackingNumber, at: now,
            shippedAt: shipment.shippedAt, deliveredAt: shipment.deliveredAt
        )
        return try events.map { event in
            switch event {
            case .shipped: try ShopEvents.orderShipped.entry(detail)
            case .delivered: try ShopEvents.orderDelivered.entry(detail)
            case .returned: try ShopEvents.orderReturned.entry(detail)
            case .cancelled: try ShopEvents.shipmentCancelled.entry(detail)
            }
        }
    }

    /// The carriers parcels go with. An order's carrier and tracking number follow from its id, so a
    /// redelivered `OrderCompleted` could only ever label the parcel the same way.
    package static let carriers = ["DHL Express", "UPS", "FedEx"]

    package static func label(for orderId: UUID) -> (carrier: String, trackingNumber: String) {
        var digest: UInt64 = 14_695_981_039_346_656_037
        for byte in orderId.uuidString.utf8 { digest = (digest ^ UInt64(byte)) &* 1_099_511_628_211 }
        let carrier = carriers[Int(digest % UInt64(carriers.count))]
        let digits = String(digest % 10_000_000_000).leftPadded(to: 10)
        let prefix = switch carrier { case "UPS": "1Z"; case "FedEx": "FX"; default: "JD" }
        return (carrier, prefix + digits)
    }
}

extension String {
    fileprivate func leftPadded(to length: Int) -> String { String(repeating: "0", count: max(0, length - count)) + self }
}
