import Hummingbird

/// CORS for a configured list of browser origins (`*` for any): answers preflight `OPTIONS`
/// requests itself and marks responses to allowed origins. Hummingbird's `CORSMiddleware` takes its
/// origin list only as variadic arguments, not from configuration.
package struct CORS<Context: RequestContext>: RouterMiddleware {
    let origins: Set<String>
    let allowHeaders: String
    let allowMethods: String
    let exposeHeaders: String

    package init(origins: [String], allowHeaders: [String], allowMethods: [HTTPRequest.Method], exposeHeaders: [String]) {
        self.origins = Set(origins)
        self.allowHeaders = allowHeaders.joined(separator: ", ")
        self.allowMethods = allowMethods.map(\.rawValue).joined(separator: ", ")
        self.exposeHeaders = exposeHeaders.joined(separator: ", ")
    }

    package func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let origin = request.headers[.origin], origin != "null", origins.contains("*") || origins.contains(origin) else {
            return try await next(request, context)
        }
        let allowed = origins.contains("*") ? "*" : origin
        if request.method == .options, request.headers[.accessControlRequestMethod] != nil {
            var response = Response(status: .noContent)
            response.headers[.accessControlAllowOrigin] = allowed
            response.headers[.accessControlAllowHeaders] = allowHeaders
            response.headers[.accessControlAllowMethods] = allowMethods
            response.headers[.accessControlMaxAge] = "600"
            response.headers[.vary] = "Origin"
            return response
        }
        var response: Response
        do {
            response = try await next(request, context)
        } catch let error as any HTTPResponseError {
            // Error answers too: a browser shows the page nothing of a response it may not read.
            response = try error.response(from: request, context: context)
        }
        response.headers[.accessControlAllowOrigin] = allowed
        response.headers[.accessControlExposeHeaders] = exposeHeaders
        response.headers[.vary] = "Origin"
        return response
    }
}
