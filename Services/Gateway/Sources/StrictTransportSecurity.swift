import HTTPTypes
import Hummingbird

/// `Strict-Transport-Security` on answers to requests that came over HTTPS: behind the load balancer
/// (which ends TLS and says so in `X-Forwarded-Proto`), browsers are told to use HTTPS only, for a year.
/// Over plain HTTP the header is not sent (RFC 6797 §7.2: a browser ignores it there anyway).
/// A client that forges the header only gets the header; nothing else depends on it.
struct StrictTransportSecurity<Context: RequestContext>: RouterMiddleware {
    static var value: String { "max-age=31536000; includeSubDomains" }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        if request.headers[.xForwardedProto]?.lowercased() == "https" {
            response.headers[.strictTransportSecurity] = Self.value
        }
        return response
    }
}

extension HTTPField.Name {
    static let xForwardedProto = Self("X-Forwarded-Proto")!
}
