import Foundation
import Hummingbird
import Logging
import NIOCore
import PostgresNIO

/// Turns every error a handler throws into a problem+json response.
///
/// Hummingbird renders errors it does not know as empty 500s; this middleware sits outermost so that
/// clients always get a body saying what went wrong, and the server log gets the cause of any 5xx.
package struct ProblemMiddleware<Context: RequestContext>: RouterMiddleware {
    package init() {}

    package func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response: Response
        do {
            response = try await next(request, context)
        } catch let error as any ProtocolError {
            response = try error.response(from: request, context: context)
        } catch {
            let problem = Self.problem(for: error)
            // The pool logs an outage once; each request it turns away is not a new fault.
            if problem.status.code >= 500, !DatabaseUnavailable.isUnavailability(error) {
                context.logger.error("request failed", metadata: ["error": "\(String(reflecting: error))", "status": "\(problem.status.code)"])
            }
            response = problem.makeResponse()
        }
        Self.secure(&response.headers)
        return response
    }

    /// On every answer: browsers never sniff a type other than the declared one; an API answer (JSON,
    /// problem+json) may load nothing and be framed by nobody, should one ever be opened as a page.
    package static func secure(_ headers: inout HTTPFields) {
        headers[.xContentTypeOptions] = "nosniff"
        if let type = headers[.contentType], type.hasPrefix("application/json") || type.hasPrefix("application/problem+json") {
            headers[.contentSecurityPolicy] = "default-src 'none'; frame-ancestors 'none'"
        }
    }

    package static func problem(for error: any Error) -> Problem {
        switch error {
        case let problem as Problem:
            return problem
        case let error as HTTPError:
            var problem = Problem(error.status, detail: error.body)
            problem.headers = error.headers
            return problem
        case let error as DecodingError:
            return JSONInput.problem(for: error)
        case is NIOTooManyBytesError:
            return Problem(.contentTooLarge, detail: "request body is too large")
        case let error as DatabaseUnavailable:
            return .databaseUnavailable(retryAfter: error.retryAfter)
        case let error as PSQLError where DatabaseUnavailable.isUnavailability(error):
            return .databaseUnavailable(retryAfter: DatabasePool.maximumBackoff)
        case let error as PSQLError where error.serverInfo?[.sqlState]?.hasPrefix("22") == true:
            // SQLSTATE class 22, data exception: a value from the request the database cannot take (a
            // timestamp out of range, a number too large). The input's fault, never a 500.
            return Problem.badRequest("a value of the request is out of range")
        case let error as any HTTPResponseError:
            return Problem(error.status, detail: nil)
        default:
            return Problem(.internalServerError, detail: "unexpected error")
        }
    }
}

/// An error of another wire protocol (e.g. Cognito's JSON errors) that must keep its own format
/// instead of becoming problem+json.
package protocol ProtocolError: HTTPResponseError {}

extension Problem {
    /// 503 with `Retry-After` (whole seconds, at least 1): the database is away for now.
    package static func databaseUnavailable(retryAfter: Duration) -> Problem {
        var problem = Problem(.serviceUnavailable, detail: "database unavailable; retry shortly")
        let seconds = max(1, Int((Double(retryAfter.components.seconds) + Double(retryAfter.components.attoseconds) / 1e18).rounded(.up)))
        problem.headers[.retryAfter] = String(seconds)
        return problem
    }
}
