import EventBus
import Foundation

/// Fulfilment's messages: ordering asks shipping to stop a dispatch or take a parcel back, shipping
/// tells everyone when a parcel moves. Declared once, here.
extension ShopEvents {
    static let shippingSource = "com.swn.shipping"

    // MARK: ordering → shipping

    /// The customer cancelled a completed order: stop its dispatch if it has not left. Shipping answers
    /// `ShipmentCancelled`, or nothing when the parcel had left (its `OrderShipped` is the answer). Before
    /// any shipment it leaves a cancelled one, so a late `OrderCompleted` ships nothing.
    package static let cancelShipment = EventType<ShipmentCommand>(source: orderingSource, detailType: "CancelShipment")
    /// The customer returns a delivered order: the parcel is on its way back.
    package static let returnShipment = EventType<ShipmentCommand>(source: orderingSource, detailType: "ReturnShipment")
    package static let shippingCommands = [cancelShipment.name, returnShipment.name]

    // MARK: ordering → product

    /// A completed order was cancelled before it shipped, or returned: its committed units go back on
    /// sale, once.
    package static let restockOrder = EventType<OrderReference>(source: orderingSource, detailType: "RestockOrder")

    // MARK: shipping → ordering (and anyone)

    package static let orderShipped = EventType<ShipmentEvent>(source: shippingSource, detailType: "OrderShipped")
    package static let orderDelivered = EventType<ShipmentEvent>(source: shippingSource, detailType: "OrderDelivered")
    /// The returned parcel arrived back at the warehouse.
    package static let orderReturned = EventType<ShipmentEvent>(source: shippingSource, detailType: "OrderReturned")
    /// The parcel's movements, for ordering and any subscriber.
    package static let shipmentEvents = [orderShipped.name, orderDelivered.name, orderReturned.name]
    /// The dispatch was stopped (the answer to `CancelShipment`).
    package static let shipmentCancelled = EventType<ShipmentEvent>(source: shippingSource, detailType: "ShipmentCancelled")
    package static let shippingReplies = shipmentEvents + [shipmentCancelled.name]

    /// `RestockOrder` travels with the stock commands.
    package static let fulfilment = shippingCommands + shippingReplies
}

/// The detail of `CancelShipment` and `ReturnShipment`.
package struct ShipmentCommand: Codable, Sendable, Equatable {
    package var orderId: UUID
    package var userName: String

    package init(orderId: UUID, userName: String) {
        self.orderId = orderId
        self.userName = userName
    }
}

/// The detail of `OrderShipped`, `OrderDelivered`, `OrderReturned` and `ShipmentCancelled`: the
/// shipment as it stands after the move (so a consumer that sees them out of order keeps the latest).
package struct ShipmentEvent: Codable, Sendable, Equatable {
    package var orderId: UUID
    package var userName: String
    /// Null only in the answer to a cancel that came before any shipment existed.
    package var carrier: String?
    package var trackingNumber: String?
    /// When this move happened.
    package var at: Date
    package var shippedAt: Date?
    package var deliveredAt: Date?

    package init(orderId: UUID, userName: String, carrier: String?, trackingNumber: String?, at: Date, shippedAt: Date?, deliveredAt: Date?) {
        self.orderId = orderId
        self.userName = userName
        self.carrier = carrier
        self.trackingNumber = trackingNumber
        self.at = at
        self.shippedAt = shippedAt
        self.deliveredAt = deliveredAt
    }

    /// `shippedAt` and `deliveredAt` are always present (null until they happened).
    package func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(orderId, forKey: .orderId)
        try container.encode(userName, forKey: .userName)
        try container.encode(carrier, forKey: .carrier)
        try container.encode(trackingNumber, forKey: .trackingNumber)
        try container.encode(at, forKey: .at)
        try container.encode(shippedAt, forKey: .shippedAt)
        try container.encode(deliveredAt, forKey: .deliveredAt)
    }
}
