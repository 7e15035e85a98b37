import Hummingbird

/// What every process refuses or normalises before routing: query parameters that are not validly
/// percent-encoded or hold control characters (400 naming them; Postgres refuses NUL in text),
/// `HEAD` answered as `GET` without the body, and 405 with `Allow` on the GET-only `getOnlyPaths`.
package struct RequestHygiene<Context: RequestContext>: RouterMiddleware {
    let getOnlyPaths: Set<String>

    package init(getOnlyPaths: Set<String> = ["/health", "/ready"]) {
        self.getOnlyPaths = getOnlyPaths
    }

    package func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if let query = request.uri.query, !query.isEmpty { try Self.checkQuery(query) }
        if getOnlyPaths.contains(request.uri.path), request.method != .get, request.method != .head {
            var problem = Problem(.methodNotAllowed, detail: "\(request.method.rawValue) is not allowed on \(request.uri.path)")
            problem.headers[.allow] = "GET, HEAD"
            throw problem
        }
        guard request.method == .head else { return try await next(request, context) }
        var head = request.head
        head.method = .get
        var response = try await next(Request(head: head, body: request.body), context)
        response.body = ResponseBody()
        return response
    }

    /// GET, HEAD and DELETE take no body here: 400 naming `body`, never buffered or forwarded. Called once
    /// the route is known (a method the path does not take is a 405 first).
    package static func refuseBodyOnReads(_ request: Request) throws {
        if [.get, .head, .delete].contains(request.method), hasBody(request.headers) {
            throw Problem.badRequest("\(request.method.rawValue) requests take no body", field: "body")
        }
    }

    /// A body announced by `Content-Length` (other than 0) or `Transfer-Encoding`.
    static func hasBody(_ headers: HTTPFields) -> Bool {
        if headers[.transferEncoding] != nil { return true }
        guard let length = headers[.contentLength] else { return false }
        return length.trimmingCharacters(in: .whitespaces) != "0"
    }

    static func checkQuery(_ query: String) throws {
        for pair in query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = String(parts[0])
            for part in parts {
                let plain = String(part).replacingOccurrences(of: "+", with: " ")
                guard let decoded = plain.contains("%") ? plain.removingPercentEncoding : plain else {
                    throw Problem.badRequest("query parameter \(name.prefix(50)) is not validly percent-encoded", field: name.removingPercentEncoding ?? name)
                }
                if decoded.unicodeScalars.contains(where: TextRules.isForbidden) {
                    throw Problem.badRequest("query parameter \(name.prefix(50)) must not contain control characters", field: name.removingPercentEncoding ?? name)
                }
            }
        }
    }
}

/// `RequestHygiene.refuseBodyOnReads` for the routes of a group: group middleware runs once a route
/// matched, so a method the path does not take stays a 405.
package struct NoBodyOnReads<Context: RequestContext>: RouterMiddleware {
    package init() {}

    package func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        try RequestHygiene<Context>.refuseBodyOnReads(request)
        return try await next(request, context)
    }
}

extension Router {
    /// The group of a service's routes under `path`, refusing bodies on GET, HEAD and DELETE.
    package func serviceGroup(_ path: RouterPath) -> RouterGroup<Context> {
        group(path).add(middleware: NoBodyOnReads())
    }
}
