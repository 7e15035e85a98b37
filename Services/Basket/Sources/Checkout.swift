import Contracts
import Crypto
import EventBus
import Foundation
import ServiceKit

/// How a checkout ended.
package enum CheckoutOutcome: Sendable, Equatable {
    /// The basket was emptied and the event recorded.
    case accepted(CheckoutBasket)
    /// The same `Idempotency-Key` was used before with the same request: the first answer.
    case replayed(CheckoutBasket)
    case emptyBasket
    /// Items whose products were deleted from the catalog (their names).
    case unavailableItems([String])
    /// The `Idempotency-Key` was used before with a different request.
    case idempotencyKeyReused
}

/// A checkout recorded under an `Idempotency-Key`: the request as it was (card masked) and the answer.
package struct StoredCheckout: Sendable, Equatable {
    package var request: String
    package var response: CheckoutBasket

    package init(request: String, response: CheckoutBasket) {
        self.request = request
        self.response = response
    }
}

/// The checkout's rules, apart from storage: what a basket and a request make, and what a repeated
/// `Idempotency-Key` answers.
package enum CheckoutRules {
    /// The `CheckoutBasket` event for `basket`, or why there is none. Throws a 422 when an amount
    /// no longer fits (prices may have risen since the basket was stored).
    package static func decide(_ request: CheckoutRequest, basket: Basket, checkoutId: UUID, at now: Date) throws -> CheckoutOutcome {
        guard !basket.items.isEmpty else { return .emptyBasket }
        let unavailable = basket.items.filter { !$0.available }
        guard unavailable.isEmpty else { return .unavailableItems(unavailable.map(\.productName)) }
        try Basket.checkAmounts(of: basket.items)
        return .accepted(CheckoutBasket(
            checkoutId: checkoutId, userName: request.userName, firstName: request.firstName, lastName: request.lastName,
            email: request.email, address: request.address, paymentMethod: request.paymentMethod,
            cardInfo: CardNumber.mask(request.cardInfo),
            items: basket.items.map { OrderLine(productId: $0.productId, productName: $0.productName, quantity: $0.quantity, color: $0.color, price: $0.price) },
            totalPrice: basket.totalPrice, checkoutDate: now
        ))
    }

    /// The answer to a request whose key was seen before: the first answer for the same request,
    /// a refusal for another.
    package static func replay(_ stored: StoredCheckout, request fingerprint: String) -> CheckoutOutcome {
        stored.request == fingerprint ? .replayed(stored.response) : .idempotencyKeyReused
    }

    /// What is kept of a request to recognise its retry: the validated request with the card masked,
    /// and an HMAC-SHA256 of the whole card number under a key the database does not hold (a plain hash
    /// of a card whose last four digits are kept beside it could be reversed by trying the few numbers
    /// left), so that the same key with another card that shares the last four digits is refused.
    package static func fingerprint(_ request: CheckoutRequest, key: String = BasketServiceConfig.localFingerprintKey) throws -> String {
        var masked = request
        masked.cardInfo = CardNumber.mask(request.cardInfo)
        let card = HMAC<SHA256>.authenticationCode(for: Data(request.cardInfo.utf8), using: SymmetricKey(data: Data(key.utf8)))
        return String(decoding: try JSONOutput.encoder.encode(masked), as: UTF8.self) + " card:" + Data(card).base64EncodedString()
    }

    /// Runs a checkout on `repository`: one transaction holding the user's basket, in which the
    /// basket is emptied and the event recorded together, or nothing happens.
    package static func perform(
        _ request: CheckoutRequest, idempotencyKey: String?, fingerprintKey: String = BasketServiceConfig.localFingerprintKey, on repository: some BasketRepository,
        newID: @escaping @Sendable () -> UUID = { UUID.random() }, now: @escaping @Sendable () -> Date = { Timestamp.now() }
    ) async throws -> CheckoutOutcome {
        let fingerprint = try fingerprint(request, key: fingerprintKey)
        return try await repository.checkout(userName: request.userName) { store in
            if let idempotencyKey, let stored = try await store.storedCheckout(idempotencyKey: idempotencyKey) {
                return replay(stored, request: fingerprint)
            }
            let outcome = try decide(request, basket: try await store.basket(), checkoutId: newID(), at: now())
            guard case .accepted(let checkout) = outcome else { return outcome }
            try await store.record(
                checkout, event: try ShopEvents.checkoutBasket.entry(checkout, time: checkout.checkoutDate),
                idempotencyKey: idempotencyKey, request: fingerprint
            )
            return outcome
        }
    }
}
