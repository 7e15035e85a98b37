import EventBus

/// The shop's queues and rules, declared once. The local bus installs exactly this; the
/// CloudFormation section and the moto set-up are rendered from it (`bus cloudformation`,
/// `bus topology`), and a test fails when the committed template differs.
package enum ShopQueues {
    /// `CheckoutBasket` events, read by ordering-service.
    package static let orderingCheckout = "ordering-checkout"
    /// Catalog changes, read by basket-service.
    package static let basketCatalog = "basket-catalog"
}

extension BusTopology {
    /// The shop's topology on the bus named `eventBusName`; every work queue has a dead-letter
    /// queue `<name>-dlq` taking a message after `maxReceiveCount` receives.
    package static func shop(
        eventBusName: String = defaultEventBusName, visibilityTimeout: Duration = .seconds(30), maxReceiveCount: Int = 5
    ) -> BusTopology {
        func queue(_ name: String, consumer: ShopService) -> [Queue] {
            queueWithDeadLetterQueue(name, consumer: consumer.executable, visibilityTimeout: visibilityTimeout, maxReceiveCount: maxReceiveCount)
        }
        return BusTopology(
            eventBusName: eventBusName,
            queues: queue(ShopQueues.orderingCheckout, consumer: .ordering) + queue(ShopQueues.basketCatalog, consumer: .basket),
            rules: [
                Rule(name: "CheckoutBasketToOrdering", eventBusName: eventBusName,
                     events: [ShopEvents.checkoutBasket.name], targetQueue: ShopQueues.orderingCheckout),
                Rule(name: "CatalogChangesToBasket", eventBusName: eventBusName,
                     events: ShopEvents.catalogChanges.map(\.name), targetQueue: ShopQueues.basketCatalog),
            ]
        )
    }
}

extension BusSettings {
    /// The shop's topology with these settings (bus name, visibility timeout, receive limit).
    package var shopTopology: BusTopology {
        .shop(eventBusName: eventBusName, visibilityTimeout: visibilityTimeout, maxReceiveCount: maxReceiveCount)
    }
}
