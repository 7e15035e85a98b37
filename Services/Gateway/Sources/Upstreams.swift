import Contracts
import Foundation
import Logging
import Metrics
import ServiceKit

/// The replicas behind each upstream service, and which of them take requests.
///
/// `<NAME>_SERVICE_URL` is a comma-separated list of base URLs; an `http` URL whose host name resolves
/// to several addresses (a compose service scaled up, a Kubernetes headless service) stands for one
/// replica per address, re-resolved on every refresh (`READY_REFRESH_MS`). Requests go round-robin over
/// the healthy replicas. A replica whose connection failed is ejected at once; every refresh probes
/// every replica's `/health`, which ejects the failing ones and takes back those that answer again.
/// When no replica of a service is healthy, all of them are tried (a stale view must not turn a
/// passing blip into an outage).
package final class Upstreams: Sendable {
    let replicas: [ShopService: Replicas]

    package init(urls: [ShopService: String]) {
        replicas = urls.mapValues { Replicas(configured: $0) }
    }

    subscript(service: ShopService) -> Replicas { replicas[service]! }

    /// Up when every service has a healthy replica.
    var allHaveAHealthyReplica: Bool { replicas.values.allSatisfy(\.hasHealthy) }
}
