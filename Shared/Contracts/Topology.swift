import EventBus

/// The shop's queues and rules, declared once. The local bus installs exactly this; the
/// CloudFormation section and the moto set-up are rendered from it (`bus cloudformation`,
/// `bus topology`), and a test fails when the committed template differs.
package enum ShopQueues {
    /// `CheckoutBasket` events, read by ordering-service.
    package static let orderingCheckout = "ordering-checkout"
    /// Catalog changes, read by basket-service.
    package static let basketCatalog = "basket-catalog"
    /// The saga's stock commands, read by product-service.
    package static let productStock = "product-stock"
    /// The saga's payment commands, read by payment-service.
    package static let paymentCommands = "payment-commands"
    /// The replies of product and payment, read by ordering-service's saga.
    package static let orderingSaga = "ordering-saga"
    /// Completed orders and the saga's shipping commands, read by shipping-service.
    package static let shippingOrders = "shipping-orders"
    /// The order events, read by notification-service (e-mails, webhooks).
    package static let notificationEvents = "notification-events"
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
            queues: queue(ShopQueues.orderingCheckout, consumer: .ordering) + queue(ShopQueues.basketCatalog, consumer: .basket)
                + queue(ShopQueues.productStock, consumer: .product) + queue(ShopQueues.paymentCommands, consumer: .payment)
                + queue(ShopQueues.orderingSaga, consumer: .ordering) + queue(ShopQueues.shippingOrders, consumer: .shipping)
                + queue(ShopQueues.notificationEvents, consumer: .notification),
            rules: [
                Rule(name: "CheckoutBasketToOrdering", eventBusName: eventBusName,
                     events: [ShopEvents.checkoutBasket.name], targetQueue: ShopQueues.orderingCheckout),
                Rule(name: "CatalogChangesToBasket", eventBusName: eventBusName,
                     events: ShopEvents.catalogChanges.map(\.name), targetQueue: ShopQueues.basketCatalog),
                Rule(name: "StockCommandsToProduct", eventBusName: eventBusName,
                     events: ShopEvents.stockCommands, targetQueue: ShopQueues.productStock),
                Rule(name: "PaymentCommandsToPayment", eventBusName: eventBusName,
                     events: ShopEvents.paymentCommands, targetQueue: ShopQueues.paymentCommands),
                Rule(name: "StockRepliesToOrdering", eventBusName: eventBusName,
                     events: ShopEvents.stockReplies, targetQueue: ShopQueues.orderingSaga),
                Rule(name: "PaymentRepliesToOrdering", eventBusName: eventBusName,
                     events: ShopEvents.paymentReplies, targetQueue: ShopQueues.orderingSaga),
                Rule(name: "OrderCompletedToShipping", eventBusName: eventBusName,
                     events: [ShopEvents.orderCompleted.name], targetQueue: ShopQueues.shippingOrders),
                Rule(name: "ShippingCommandsToShipping", eventBusName: eventBusName,
                     events: ShopEvents.shippingCommands, targetQueue: ShopQueues.shippingOrders),
                Rule(name: "ShipmentEventsToOrdering", eventBusName: eventBusName,
                     events: ShopEvents.shippingReplies, targetQueue: ShopQueues.orderingSaga),
                // The order events fan out: the same event also reaches the notifications' own queue.
                Rule(name: "OrderEventsToNotification", eventBusName: eventBusName,
                     events: ShopEvents.forAnySubscriber, targetQueue: ShopQueues.notificationEvents),
                Rule(name: "ShipmentEventsToNotification", eventBusName: eventBusName,
                     events: ShopEvents.shipmentEvents, targetQueue: ShopQueues.notificationEvents),
            ],
            publishers: ShopEvents.publishers.reduce(into: [:]) { sources, entry in
                sources[entry.key.executable] = Array(Set(entry.value.map(\.source))).sorted()
            },
            stateMachine: ShopStateMachine.callbacks
        )
    }
}

extension ShopEvents {
    /// Who publishes which events: the ground for each task role's `events:source` condition.
    package static let publishers: [ShopService: [EventName]] = [
        .basket: [checkoutBasket.name],
        .product: catalogChanges.map(\.name) + stockReplies,
        .ordering: stockCommands + paymentCommands + forAnySubscriber + shippingCommands,
        .payment: paymentReplies,
        .shipping: shippingReplies,
    ]
}

extension BusSettings {
    /// The shop's topology with these settings (bus name, visibility timeout, receive limit).
    package var shopTopology: BusTopology {
        .shop(eventBusName: eventBusName, visibilityTimeout: visibilityTimeout, maxReceiveCount: maxReceiveCount)
    }
}

extension BusTopology {
    /// Whether `service` is on the bus (publishes or consumes): it gets a bus connection locally and a
    /// task role on AWS (`KubernetesManifests`, `ServiceTemplate`).
    package func hasOnBus(_ service: ShopService) -> Bool {
        queues.contains { $0.consumer == service.executable } || publishers[service.executable] != nil
    }
}
