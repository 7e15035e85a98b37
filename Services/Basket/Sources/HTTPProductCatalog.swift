import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import ServiceKit
import Synchronization

/// The catalog read over HTTP from `product-service`, with a timeout per request. Many products are
/// looked up in one call (`GET /product?ids=`), and ids the catalog did not have are remembered for
/// `absentFor` (a negative cache, bounded): a basket naming a hundred unknown ids costs one call, and
/// naming them again at once costs none.
package struct HTTPProductCatalog: ProductCatalog {
    let httpClient: HTTPClient
    let baseURL: String
    let timeout: Duration
    let absentFor: Duration
    private let absent = AbsentProducts()
    static var absentCapacity: Int { 10_000 }

    package init(httpClient: HTTPClient, baseURL: String, timeout: Duration, absentFor: Duration = .seconds(5)) {
        self.httpClient = httpClient
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
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
            let request = HTTPClientRequest(url: "\(baseURL)/product?limit=200&ids=\(list)")
            let page: Page<CatalogProduct>
            do {
                let response = try await httpClient.execute(request, timeout: TimeAmount(timeout))
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
        let request = HTTPClientRequest(url: "\(baseURL)/product/\(id)")
        let response: HTTPClientResponse
        let body: ByteBuffer
        do {
            response = try await httpClient.execute(request, timeout: TimeAmount(timeout))
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

/// Ids the catalog answered it does not have, until when (shared by the copies of the catalog struct).
final class AbsentProducts: Sendable {
    let entries = Mutex<[UUID: ContinuousClock.Instant]>([:])
}
