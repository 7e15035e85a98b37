import Foundation

/// The queues and rules of the shop, declared once. The local bus creates them at start;
/// `deploy/aws/template.yaml` declares the same names for EventBridge and SQS.
package struct BusTopology: Sendable {
    package struct Queue: Sendable, Equatable {
        package var name: String
        package var visibilityTimeout: Duration
        package var maxReceiveCount: Int
        package var deadLetterQueue: String?
    }

    package struct Rule: Sendable, Equatable {
        package var name: String
        package var eventBusName: String
        package var pattern: EventPattern
        package var targetQueue: String
    }

    package var queues: [Queue]
    package var rules: [Rule]

    package init(queues: [Queue], rules: [Rule]) {
        self.queues = queues
        self.rules = rules
    }

    package static let defaultEventBusName = "SwnEventBus"

    package enum Names {
        package static let checkoutQueue = "ordering-checkout"
        package static let checkoutDeadLetterQueue = "ordering-checkout-dlq"
        package static let catalogQueue = "basket-catalog"
        package static let catalogDeadLetterQueue = "basket-catalog-dlq"
    }

    /// The shop's topology on the bus named `eventBusName`.
    package static func shop(
        eventBusName: String = defaultEventBusName, visibilityTimeout: Duration = .seconds(30), maxReceiveCount: Int = 5
    ) -> BusTopology {
        BusTopology(
            queues: [
                Queue(name: Names.checkoutQueue, visibilityTimeout: visibilityTimeout, maxReceiveCount: maxReceiveCount, deadLetterQueue: Names.checkoutDeadLetterQueue),
                Queue(name: Names.checkoutDeadLetterQueue, visibilityTimeout: visibilityTimeout, maxReceiveCount: 0, deadLetterQueue: nil),
                Queue(name: Names.catalogQueue, visibilityTimeout: visibilityTimeout, maxReceiveCount: maxReceiveCount, deadLetterQueue: Names.catalogDeadLetterQueue),
                Queue(name: Names.catalogDeadLetterQueue, visibilityTimeout: visibilityTimeout, maxReceiveCount: 0, deadLetterQueue: nil),
            ],
            rules: [
                Rule(
                    name: "CheckoutBasketToOrdering", eventBusName: eventBusName,
                    pattern: EventPattern(.object([
                        "source": .array([.string("com.swn.basket.checkoutbasket")]),
                        "detail-type": .array([.string("CheckoutBasket")]),
                    ])),
                    targetQueue: Names.checkoutQueue
                ),
                Rule(
                    name: "CatalogChangesToBasket", eventBusName: eventBusName,
                    pattern: EventPattern(.object([
                        "source": .array([.string("com.swn.product")]),
                        "detail-type": .array([.string("ProductCreated"), .string("ProductPriceChanged"), .string("ProductDeleted")]),
                    ])),
                    targetQueue: Names.catalogQueue
                ),
            ]
        )
    }
}
