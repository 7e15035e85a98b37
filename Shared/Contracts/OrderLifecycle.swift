import Foundation

/// The order's lifecycle vocabulary, declared once: statuses, cancellation reasons, shipment statuses,
/// their labels and the transitions between statuses. The ordering service stores and serves these
/// words; the OpenAPI enums, the SQL checks, the storefront's `lifecycle.js` and the README's
/// diagram are rendered from here (`bus lifecycle --write`) or checked against it by tests.
package enum OrderStatus: String, Codable, Sendable, CaseIterable {
    case pending = "Pending"
    case stockReserved = "StockReserved"
    case paid = "Paid"
    case completed = "Completed"
    case shipped = "Shipped"
    case delivered = "Delivered"
    case returnRequested = "ReturnRequested"
    case returned = "Returned"
    case cancelled = "Cancelled"

    /// What a customer reads.
    package var label: String {
        switch self {
        case .pending: "Order placed"
        case .stockReserved: "Stock reserved"
        case .paid: "Paid"
        case .completed: "Completed"
        case .shipped: "Shipped"
        case .delivered: "Delivered"
        case .returnRequested: "Return requested"
        case .returned: "Returned"
        case .cancelled: "Cancelled"
        }
    }

    /// Nothing more happens to the order by itself.
    package var isAtRest: Bool { Self.atRest.contains(self) }

    /// The units stay sold and the money kept: each product's stock is its start minus the units of
    /// these orders.
    package var holdsStock: Bool { [.completed, .shipped, .delivered, .returnRequested].contains(self) }

    /// The path of an order that nobody cancels or returns.
    package static let happyPath: [OrderStatus] = [.pending, .stockReserved, .paid, .completed, .shipped, .delivered]
    package static let returnPath: [OrderStatus] = [.returnRequested, .returned]
    package static let atRest: [OrderStatus] = [.delivered, .returned, .cancelled]
    /// `POST /order/{userName}/{orderId}/cancel` is accepted in these.
    package static let cancellable: [OrderStatus] = [.pending, .stockReserved, .paid, .completed]
    /// `POST /order/{userName}/{orderId}/return` is accepted in these (within the return window).
    package static let returnable: [OrderStatus] = [.delivered]

    /// Every move an order can make, with what causes it: the README's diagram is drawn from this
    /// list, and a test walks the saga to check it makes no other move.
    package static let transitions: [(from: OrderStatus, to: OrderStatus, cause: String)] = [
        (.pending, .stockReserved, "StockReserved"),
        (.stockReserved, .paid, "PaymentApproved"),
        (.paid, .completed, "stock committed"),
        (.completed, .shipped, "OrderShipped"),
        (.shipped, .delivered, "OrderDelivered"),
        (.delivered, .returnRequested, "return (customer)"),
        (.returnRequested, .returned, "OrderReturned (refund, restock)"),
        (.pending, .cancelled, "out of stock, price changed, limit, timeout, customer"),
        (.stockReserved, .cancelled, "payment declined, timeout, customer (refund, release)"),
        (.completed, .cancelled, "customer, ShipmentCancelled (refund, restock)"),
    ]
}

package enum CancellationReason: String, Codable, Sendable, CaseIterable {
    /// A product lacked stock or no longer exists.
    case outOfStock = "OutOfStock"
    case paymentDeclined = "PaymentDeclined"
    /// A step did not answer in time.
    case stepTimeout = "StepTimeout"
    /// A price changed between the checkout and the stock reservation: nothing was charged.
    case priceChanged = "PriceChanged"
    /// The customer already holds `MAX_RESERVED_PER_CUSTOMER` units of a product in unpaid orders.
    case reservationLimit = "ReservationLimit"
    /// The customer cancelled before the order was shipped.
    case customerCancelled = "CustomerCancelled"

    package var label: String {
        switch self {
        case .outOfStock: "Out of stock"
        case .paymentDeclined: "Payment declined"
        case .stepTimeout: "Timed out"
        case .priceChanged: "Price changed"
        case .reservationLimit: "Reservation limit"
        case .customerCancelled: "Cancelled by you"
        }
    }
}

/// The parcel's state, as the order's `shipment.status` shows it.
package enum ShipmentStatus: String, Codable, Sendable, CaseIterable {
    case preparing = "Preparing"
    case shipped = "Shipped"
    case delivered = "Delivered"
    case returnRequested = "ReturnRequested"
    case returned = "Returned"
    /// The dispatch was stopped: the customer cancelled first.
    case cancelled = "Cancelled"

    package var label: String {
        switch self {
        case .preparing: "Preparing"
        case .shipped: "Shipped"
        case .delivered: "Delivered"
        case .returnRequested: "Return requested"
        case .returned: "Returned"
        case .cancelled: "Cancelled"
        }
    }
}

/// The reason on a `Shipped` history entry when a customer's cancel lost the race to the dispatch.
package let cancelTooLateReason = "CancelTooLate"

extension OrderLifecycleDocuments {
    /// `Services/Gateway/Storefront/lifecycle.js`: the storefront's statuses, labels and rules.
    package static var storefrontModule: String {
        func list(_ statuses: [OrderStatus]) -> String { "[" + statuses.map { "'\($0.rawValue)'" }.joined(separator: ", ") + "]" }
        let statuses = OrderStatus.allCases.map { "{ status: '\($0.rawValue)', label: '\($0.label)' }" }.joined(separator: ", ")
        let reasons = CancellationReason.allCases.map { "\($0.rawValue): '\($0.label)'" }.joined(separator: ", ")
        let shipment = ShipmentStatus.allCases.map { "\($0.rawValue): '\($0.label)'" }.joined(separator: ", ")
        return """
            // Rendered by `swift run bus lifecycle --write` from Shared/Contracts/OrderLifecycle.swift; do not edit.
            export const ORDER_STATUSES = [\(statuses)];
            export const HAPPY_PATH = \(list(OrderStatus.happyPath));
            export const RETURN_PATH = \(list(OrderStatus.returnPath));
            export const AT_REST = \(list(OrderStatus.atRest));
            export const CANCELLABLE = \(list(OrderStatus.cancellable));
            export const RETURNABLE = \(list(OrderStatus.returnable));
            export const CANCELLATION_REASONS = { \(reasons) };
            export const SHIPMENT_STATUSES = { \(shipment) };

            """
    }

    /// The README's lifecycle diagram (Mermaid), between its markers.
    package static var readmeDiagram: String {
        var lines = ["```mermaid", "stateDiagram-v2", "    [*] --> Pending: CheckoutBasket"]
        for (from, to, cause) in OrderStatus.transitions { lines.append("    \(from.rawValue) --> \(to.rawValue): \(cause)") }
        for status in OrderStatus.atRest { lines.append("    \(status.rawValue) --> [*]") }
        lines.append("```")
        return lines.joined(separator: "\n")
    }

    /// A SQL `CHECK` that a column holds one of `values`.
    package static func check(_ column: String, in values: [String]) -> String {
        "CHECK (\(column) IN (" + values.map { "'\($0)'" }.joined(separator: ", ") + "))"
    }
}

/// What is rendered from the lifecycle's declaration.
package enum OrderLifecycleDocuments {
    package static let storefrontPath = "Services/Gateway/Storefront/lifecycle.js"
    package static let readmeBegin = "<!-- lifecycle: rendered by `swift run bus lifecycle --write` -->"
    package static let readmeEnd = "<!-- /lifecycle -->"

    /// `readme` with the diagram between its markers rendered anew; nil without the markers.
    package static func replacingDiagram(in readme: String) -> String? {
        guard let start = readme.range(of: readmeBegin),
              let stop = readme.range(of: readmeEnd, range: start.upperBound..<readme.endIndex) else { return nil }
        return readme.replacingCharacters(in: start.upperBound..<stop.lowerBound, with: "\n" + readmeDiagram + "\n")
    }
}
