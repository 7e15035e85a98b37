import Contracts
import Foundation

/// What the customer is told about their order, apart from how it is sent: one e-mail per order event,
/// in plain text and HTML, with the order number, the items, the total, the status and what happens
/// next (the tracking number once shipped). Card data only ever appears masked; every value is escaped
/// in the HTML.
package struct OrderEmail: Sendable, Equatable {
    /// The order as the notifications know it (from `OrderCompleted` and `OrderCancelled`).
    package struct Order: Sendable, Equatable {
        package var orderId: UUID
        package var userName: String
        package var firstName: String
        package var email: String
        package var items: [OrderLine]
        package var totalPrice: Decimal

        package init(orderId: UUID, userName: String, firstName: String, email: String, items: [OrderLine], totalPrice: Decimal) {
            self.orderId = orderId
            self.userName = userName
            self.firstName = firstName
            self.email = email
            self.items = items
            self.totalPrice = totalPrice
        }

        /// The short order number customers see (the storefront shows the same).
        package var number: String { String(orderId.uuidString.prefix(8)) }
    }

    package enum Event: String, Sendable, Equatable, CaseIterable {
        case completed = "OrderCompleted"
        case cancelled = "OrderCancelled"
        case shipped = "OrderShipped"
        case delivered = "OrderDelivered"
        case returned = "OrderReturned"
    }

    package var to: String
    package var subject: String
    package var text: String
    package var html: String

    package init(_ event: Event, order: Order, cancellationReason: CancellationReason? = nil, carrier: String? = nil, trackingNumber: String? = nil) {
        to = order.email
        let number = order.number
        let (subject, headline, next): (String, String, String) = switch event {
        case .completed:
            ("Your order \(number) is confirmed", "Thank you, your order is confirmed and paid.",
             "We are preparing your parcel; you will get another e-mail with its tracking number when it leaves.")
        case .cancelled:
            ("Your order \(number) was cancelled", "Your order was cancelled: \(Self.reason(cancellationReason)).",
             "Any money taken for it is refunded in full, and nothing will be shipped.")
        case .shipped:
            ("Your order \(number) is on its way", "Your parcel has left the warehouse.",
             "It travels with \(carrier ?? "our carrier")\(trackingNumber.map { ", tracking number \($0)" } ?? ""). You will get an e-mail when it is delivered.")
        case .delivered:
            ("Your order \(number) was delivered", "Your parcel was delivered.",
             "Not what you expected? You can return it from your order page within 30 days for a full refund.")
        case .returned:
            ("We received your return of order \(number)", "Your returned parcel arrived back at our warehouse.",
             "Your payment is refunded in full; it may take a few days to show on your statement.")
        }
        self.subject = subject
        let lines = order.items.map { line in
            "\(line.quantity) × \(line.productName)\(line.color.isEmpty ? "" : " (\(line.color))")  \(Self.money(line.price * Decimal(line.quantity)))"
        }
        text = """
            Hello \(order.firstName),

            \(headline)

            Order \(number) (\(order.orderId.uuidString.lowercased()))
            \(lines.joined(separator: "\n"))
            Total: \(Self.money(order.totalPrice))

            \(next)

            SWN Shop
            """
        let rows = order.items.map { line in
            "<tr><td>\(line.quantity) × \(Self.escape(line.productName))\(line.color.isEmpty ? "" : " <small>(\(Self.escape(line.color)))</small>")</td>"
                + "<td style=\"text-align:right\">\(Self.money(line.price * Decimal(line.quantity)))</td></tr>"
        }
        html = """
            <!doctype html><html><body style="font-family:sans-serif;color:#1f2937">
            <p>Hello \(Self.escape(order.firstName)),</p>
            <p><strong>\(Self.escape(headline))</strong></p>
            <table style="border-collapse:collapse;min-width:320px">
            <caption style="text-align:left">Order \(Self.escape(number))</caption>
            \(rows.joined(separator: "\n"))
            <tr><th style="text-align:left">Total</th><th style="text-align:right">\(Self.money(order.totalPrice))</th></tr>
            </table>
            <p>\(Self.escape(next))</p>
            <p>SWN Shop</p>
            </body></html>
            """
    }

    static func reason(_ reason: CancellationReason?) -> String {
        switch reason {
        case .outOfStock: "a product was out of stock"
        case .paymentDeclined: "the payment was declined"
        case .stepTimeout: "a step did not answer in time"
        case .priceChanged: "a price changed before we could reserve it"
        case .reservationLimit: "you already hold the most units of a product we reserve per customer"
        case .customerCancelled: "you cancelled it"
        case nil: "it could not be completed"
        }
    }

    static func money(_ amount: Decimal) -> String {
        var rounded = Decimal()
        var value = amount
        NSDecimalRound(&rounded, &value, 2, .bankers)
        let text = "\(rounded)"
        let parts = text.split(separator: ".", maxSplits: 1)
        let cents = parts.count == 2 ? String(parts[1]).padding(toLength: 2, withPad: "0", startingAt: 0) : "00"
        return "$\(parts.first ?? "0").\(cents)"
    }

    static func escape(_ text: String) -> String {
        var escaped = ""
        escaped.reserveCapacity(text.count)
        for character in text {
            switch character {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "\"": escaped += "&quot;"
            case "'": escaped += "&#39;"
            default: escaped.append(character)
            }
        }
        return escaped
    }
}
