import Auth
import Contracts
import Foundation
import NIOHTTP1
import ServiceKit
import Testing
import TestSupport

/// Each service enforces its routes' declared access itself (`RouteAccessMiddleware`, built from the
/// route table the gateway uses): every route of every service, called directly on the service's
/// port (no gateway), as nobody, as another user, as the owner and as an admin.
@Suite struct RouteAccessTests {
    @Test func everyRouteOfEveryServiceAnswersOnlyTheCallersItsDeclarationAllows() async throws {
        try await ShopUnderGateway.run { shop in
            let key = try await GatewayAuthTests.signingKey(shop)
            let callers: [(name: String, token: String?)] = [
                ("nobody", nil),
                ("another user", try await GatewayAuthTests.sign(GatewayAuthTests.claims(shop) { $0.cognitoUsername = "ann" }, with: key)),
                ("the owner", try await GatewayAuthTests.sign(GatewayAuthTests.claims(shop) { $0.cognitoUsername = "swn" }, with: key)),
                ("an admin", try await GatewayAuthTests.sign(GatewayAuthTests.claims(shop) { $0.cognitoUsername = "admin"; $0.groups = ["admin"] }, with: key)),
            ]
            var walked = 0
            for route in ShopRoutes.all where route.service != .gateway {
                let base = try #require(shop.services[route.service.name], "\(route.service.name) is not started")
                let path = "/" + route.segments.map { $0 == "{userName}" ? "swn" : $0.hasPrefix("{") ? UUID().uuidString : String($0) }.joined(separator: "/")
                let body: String? = [.post, .put].contains(route.method) ? "{}" : nil
                let method = HTTPMethod(rawValue: route.method.rawValue)
                for caller in callers {
                    let status = try await HTTP.send(method, base + path, body, token: caller.token).status
                    let refused: Int? = switch (route.access, caller.name) {
                    case (.anyone, _): nil
                    case (_, "nobody"): 401
                    case (.signedIn, _): nil
                    case (.owner, "another user"), (.admin, "another user"), (.admin, "the owner"): 403
                    default: nil
                    }
                    if let refused {
                        #expect(status == refused, "\(route) as \(caller.name): \(status), expected \(refused)")
                    } else {
                        #expect(status != 401 && status != 403, "\(route) as \(caller.name): \(status), expected neither 401 nor 403")
                    }
                    walked += 1
                }
                // Other spellings of the same path reach nothing the caller may not reach.
                if route.access != .anyone {
                    for variant in [path + "/", "/" + path, path.replacingOccurrences(of: "/", with: "//")] {
                        let status = try await HTTP.send(method, base + variant, body, token: nil).status
                        #expect(!(200..<300).contains(status), "\(route.method) \(variant) as nobody: \(status)")
                    }
                }
            }
            #expect(walked == 4 * ShopRoutes.all.filter { $0.service != .gateway }.count && walked >= 4 * 20, "\(walked)")
        }
    }
}
