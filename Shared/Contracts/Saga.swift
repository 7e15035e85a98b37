import EventBus
import Foundation

/// The order saga's commands and replies (ordering orchestrates; product and payment answer), and the
/// order events for any subscriber. Each is declared once, here.
extension ShopEvents {
    static let orderingSource = "com.swn.ordering"
    static let paymentSource = "com.swn.payment"

    // MARK: ordering → product (stock)

    /// Reserve every line or none, for one order. Idempotent per order.
    package static let reserveStock = EventType<ReserveStock>(source: orderingSource, detailType: "ReserveStock")
    /// Give back what the order reserved (compensation). Before any reservation it leaves a mark, so a
    /// late `ReserveStock` of that order reserves nothing.
    package static let releaseStock = EventType<OrderReference>(source: orderingSource, detailType: "ReleaseStock")
    /// The order completed: its reservation is final.
    package static let commitStock = EventType<OrderReference>(source: orderingSource, detailType: "CommitStock")
    package static let stockCommands = [reserveStock.name, releaseStock.name, commitStock.name, restockOrder.name]

    // MARK: product → ordering

    package static let stockReserved = EventType<OrderReference>(source: productSource, detailType: "StockReserved")
    package static let stockReservationFailed = EventType<StepFailed>(source: productSource, detailType: "StockReservationFailed")
    package static let stockReplies = [stockReserved.name, stockReservationFailed.name]

    // MARK: ordering → payment

    package static let chargePayment = EventType<ChargePayment>(source: orderingSource, detailType: "ChargePayment")
    /// Give the money back (compensation); before any charge it leaves a mark, so a late
    /// `ChargePayment` of that order charges nothing.
    package static let refundPayment = EventType<OrderReference>(source: orderingSource, detailType: "RefundPayment")
    package static let paymentCommands = [chargePayment.name, refundPayment.name]

    // MARK: payment → ordering

    package static let paymentApproved = EventType<PaymentOutcome>(source: paymentSource, detailType: "PaymentApproved")
    package static let paymentDeclined = EventType<PaymentOutcome>(source: paymentSource, detailType: "PaymentDeclined")
    package static let paymentRefunded = EventType<PaymentOutcome>(source: paymentSource, detailType: "PaymentRefunded")
    package static let paymentReplies = [paymentApproved.name, paymentDeclined.name, paymentRefunded.name]

    // MARK: ordering → anyone

    package static let orderCompleted = EventType<OrderFinished>(source: orderingSource, detailType: "OrderCompleted")
    package static let orderCancelled = EventType<OrderFinished>(source: orderingSource, detailType: "OrderCancelled")
    /// Published for any subscriber (shipping takes `OrderCompleted`).
    package static let forAnySubscriber = [orderCompleted.name, orderCancelled.name]

    package static let saga = stockCommands + stockReplies + paymentCommands + paymentReplies + forAnySubscriber
}

package struct OrderReference: Codable, Sendable, Equatable {
    package var orderId: UUID

    package init(orderId: UUID) {
        self.orderId = orderId
    }
}

package struct ReserveStock: Codable, Sendable, Equatable {
    package struct Line: Codable, Sendable, Equatable {
        package var productId: UUID
        package var quantity: Int
        /// The unit price the order was placed at: product reserves only at this price (else the
        /// order ends `PriceChanged`). Absent in commands sent before prices were checked.
        package var price: Decimal?

        package init(productId: UUID, quantity: Int, price: Decimal? = nil) {
            self.productId = productId
            self.quantity = quantity
            self.price = price
        }
    }

    package var orderId: UUID
    package var lines: [Line]
    /// The customer, for the cap on units one customer holds in unpaid orders (absent in older commands).
    package var userName: String?

    package init(orderId: UUID, lines: [Line], userName: String? = nil) {
        self.orderId = orderId
        self.lines = lines
        self.userName = userName
    }
}

/// A step that could not be done, and why (`OutOfStock`, `card_declined`, ...).
package struct StepFailed: Codable, Sendable, Equatable {
    package var orderId: UUID
    package var reason: String

    package init(orderId: UUID, reason: String) {
        self.orderId = orderId
        self.reason = reason
    }
}

package struct ChargePayment: Codable, Sendable, Equatable {
    package var orderId: UUID
    package var userName: String
    package var amount: Decimal
    /// Masked: the last four digits decide, like a provider's test cards.
    package var cardInfo: String

    package init(orderId: UUID, userName: String, amount: Decimal, cardInfo: String) {
        self.orderId = orderId
        self.userName = userName
        self.amount = amount
        self.cardInfo = cardInfo
    }
}

package struct PaymentOutcome: Codable, Sendable, Equatable {
    package var orderId: UUID
    package var amount: Decimal
    /// Why a payment was declined (`card_declined`, `insufficient_funds`).
    package var reason: String?

    package init(orderId: UUID, amount: Decimal, reason: String? = nil) {
        self.orderId = orderId
        self.amount = amount
        self.reason = reason
    }
}

/// `OrderCompleted` and `OrderCancelled`. `firstName`, `email` and `items` tell subscribers (the
/// notifications) whom to tell what; absent in events from before they were added.
package struct OrderFinished: Codable, Sendable, Equatable {
    package var orderId: UUID
    package var checkoutId: UUID
    package var userName: String
    package var totalPrice: Decimal
    package var cancellationReason: String?
    package var firstName: String?
    package var email: String?
    package var items: [OrderLine]?

    package init(
        orderId: UUID, checkoutId: UUID, userName: String, totalPrice: Decimal, cancellationReason: String?,
        firstName: String? = nil, email: String? = nil, items: [OrderLine]? = nil
    ) {
        self.orderId = orderId
        self.checkoutId = checkoutId
        self.userName = userName
        self.totalPrice = totalPrice
        self.cancellationReason = cancellationReason
        self.firstName = firstName
        self.email = email
        self.items = items
    }

    /// `cancellationReason` is always present (null unless cancelled), as the contract writes it.
    package func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(orderId, forKey: .orderId)
        try container.encode(checkoutId, forKey: .checkoutId)
        try container.encode(userName, forKey: .userName)
        try container.encode(totalPrice, forKey: .totalPrice)
        try container.encode(cancellationReason, forKey: .cancellationReason)
        try container.encodeIfPresent(firstName, forKey: .firstName)
        try container.encodeIfPresent(email, forKey: .email)
        try container.encodeIfPresent(items, forKey: .items)
    }
}
