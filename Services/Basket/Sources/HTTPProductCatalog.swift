import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import ServiceKit

/// The catalog read over HTTP from `product-service`, with a timeout per request.
package struct HTTPProductCatalog: ProductCatalog {
    let httpClient: HTTPClient
    let baseURL: String
    let timeout: Duration

    package init(httpClient: HTTPClient, baseURL: String, timeout: Duration) {
        self.httpClient = httpClient
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.timeout = timeout
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
