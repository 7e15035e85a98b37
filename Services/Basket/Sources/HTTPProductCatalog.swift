import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import ServiceKit
import Synchronization

/// The catalog read over HTTP from `product-service`'s replicas (`Replicas`: round-robin over the
/// healthy ones; a replica whose connection fails is ejected and the read goes once to another), with
/// a timeout per request. Many products are
/// looked up in one call (`GET /product?ids=`), and ids the catalog did not have are remembered for
/// `absentFor` (a negative cache, bounded): a basket naming a hundred unknown ids costs one call, and
/// naming them again at once costs none.
package struct HTTPProductCatalog: ProductCatalog {
    let httpClient: HTTPClient
    let replicas: Replicas
    let timeout: Duration
    let absentFor: Duration
    private let absent = AbsentProducts()
    static var absentCapacity: Int { 10_000 }

    package init(httpClient: HTTPClient, replicas: Replicas, timeout: Duration, absentFor: Duration = .seconds(5)) {
        self.httpClient = httpClient
        self.replicas = replicas
        self.timeout = timeout
        self.absentFor = absentFor
    }

    package func products(ids: Set<UUID>) async throws -> [UUID: CatalogProduct] {
        let now = ContinuousClock.now
        let asked = absent.entries.withLock { absent in ids.filter { id in absent[id].map { $0 <= now } ?? true } }
        guard !asked.isEmpty else { return [:] }
        var found: [UUID: CatalogProduct] = [:]
        // The catalog takes at most 100 ids a call (a basket's lines fit in one).
        let sorted = asked.sorted { $0.uuidString < $1.uuidString }
        for start in stride(from: 0, to: sorted.count, by: 100) {
            let list = sorted[start..<min(start + 100, sorted.count)].map(\.uuidString).joined(separator: ",")
            let page: Page<CatalogProduct>
            do {
                let response = try await get("/product?limit=200&ids=\(list)")
                let body = try await response.body.collect(upTo: 4 * 1024 * 1024)
                guard response.status == .ok else { throw CatalogUnavailable(reason: "catalog answered \(response.status.code)") }
                page = try JSONDecoder().decode(Page<CatalogProduct>.self, from: body)
            } catch let error as CatalogUnavailable {
                throw error
            } catch {
                throw CatalogUnavailable(reason: "\(error)")
            }
            for product in page.items { found[product.id] = product }
        }
        let missing = asked.filter { found[$0] == nil }
        if !missing.isEmpty {
            let until = now + absentFor
            absent.entries.withLock { absent in
                if absent.count + missing.count > Self.absentCapacity { absent = absent.filter { $0.value > now } }
                guard absent.count + missing.count <= Self.absentCapacity else { return }
                for id in missing { absent[id] = until }
            }
        }
        return found
    }

    package func product(id: UUID) async throws -> CatalogProduct? {
        let response: HTTPClientResponse
        let body: ByteBuffer
        do {
            response = try await get("/product/\(id)")
            body = try await response.body.collect(upTo: 1024 * 1024)
        } catch {
            throw CatalogUnavailable(reason: "\(error)")
        }
        switch response.status {
        case .ok:
            do {
                return try JSONDecoder().decode(CatalogProduct.self, from: body)
            } catch {
                throw CatalogUnavailable(reason: "unreadable product: \(error)")
            }
        case .notFound:
            return nil
        default:
            throw CatalogUnavailable(reason: "catalog answered \(response.status.code)")
        }
    }
}

extension HTTPProductCatalog {
    /// `GET path` on a replica; once more on another when the first could not be reached (a read may
    /// be repeated). A timeout is not retried: the request's time is spent.
    func get(_ path: String) async throws -> HTTPClientResponse {
        var failed: String?
        while true {
            guard let base = replicas.pick(avoiding: failed) else { throw CatalogUnavailable(reason: "no product-service replica configured") }
            do {
                return try await httpClient.execute(HTTPClientRequest(url: base + path), timeout: TimeAmount(timeout))
            } catch let error as HTTPClientError where [.deadlineExceeded, .readTimeout].contains(error) {
                throw error
            } catch {
                replicas.eject(base)
                guard failed == nil, replicas.hasAnother(than: base) else { throw error }
                failed = base
            }
        }
    }
}

/// Ids the catalog answered it does not have, until when (shared by the copies of the catalog struct).
final class AbsentProducts: Sendable {
    let entries = Mutex<[UUID: ContinuousClock.Instant]>([:])
}
