import AsyncHTTPClient
import Foundation
import JWTKit
import NIOCore
import NIOFoundationCompat
import Logging
import ServiceKit

/// Why a token was refused; the reason is logged, clients only see 401.
package struct TokenRejected: Error, CustomStringConvertible, Equatable {
    package var reason: String
    package var description: String { "token rejected: \(reason)" }
}

/// Verifies Cognito-style RS256 tokens against a user pool's JWKS.
///
/// The JWKS is fetched on first use and again when a token names an unknown `kid` (key rotation), at
/// most once per `minimumRefreshInterval`, so garbage `kid`s cannot make the gateway hammer the issuer.
package actor TokenVerifier {
    package struct Configuration: Sendable {
        package var issuer: String
        package var jwksURL: String
        package var clientID: String
        package var leeway: Duration = .seconds(60)
        package var minimumRefreshInterval: Duration = .seconds(30)
        /// A JWKS document to trust instead of fetching `jwksURL` (`COGNITO_JWKS`): for machines
        /// without the pool in reach, and tests.
        package var staticJWKS: String?

        package init(issuer: String, jwksURL: String, clientID: String) {
            self.issuer = issuer
            self.jwksURL = jwksURL
            self.clientID = clientID
        }

        /// The pool every process trusts, from `COGNITO_ISSUER`, `COGNITO_JWKS_URL`,
        /// `COGNITO_CLIENT_ID`, `COGNITO_JWKS` and `JWKS_REFRESH_INTERVAL_MS`; the defaults are the
        /// local pool that `identity` serves.
        package init(settings: Settings) throws {
            // In aws mode the local pool's defaults are never trusted: a task definition without them stops at start.
            if settings.string("BUS_MODE", default: "local") == "aws" {
                for key in ["COGNITO_ISSUER", "COGNITO_CLIENT_ID"] where settings.optionalString(key)?.isEmpty ?? true {
                    throw SettingsError(key: key, value: "", expected: "the user pool's value (BUS_MODE=aws never falls back to the local pool)")
                }
            }
            let issuer = settings.string("COGNITO_ISSUER", default: "http://localhost:9229/local_swn")
            self.init(
                issuer: issuer,
                jwksURL: settings.string("COGNITO_JWKS_URL", default: "\(issuer)/.well-known/jwks.json"),
                clientID: settings.string("COGNITO_CLIENT_ID", default: "swnshoplocalclient")
            )
            minimumRefreshInterval = try settings.milliseconds("JWKS_REFRESH_INTERVAL_MS", default: 30_000)
            staticJWKS = settings.optionalString("COGNITO_JWKS")
        }
    }

    let configuration: Configuration
    let httpClient: HTTPClient
    let logger: Logger
    private var keys = JWTKeyCollection()
    private var knownKeyIDs: Set<String> = []
    private var lastRefresh: ContinuousClock.Instant?
    /// Tokens verified before, with their identity and expiry: a repeated token costs a lookup,
    /// not an RSA verification. Bounded; emptied when full (tokens are re-verified, never trusted longer).
    private var verified: [String: (identity: Identity, expires: Double)] = [:]
    static let cacheLimit = 10_000

    package init(configuration: Configuration, httpClient: HTTPClient, logger: Logger) {
        self.configuration = configuration
        self.httpClient = httpClient
        self.logger = logger
    }

    package func verify(_ token: String, now: Date = Date()) async throws -> Identity {
        let time = now.timeIntervalSince1970
        if let hit = verified[token] {
            if hit.expires > time { return hit.identity }
            verified[token] = nil
        }
        if knownKeyIDs.isEmpty, let staticJWKS = configuration.staticJWKS {
            do { try await load(Data(staticJWKS.utf8)) } catch { throw KeysUnavailable(reason: "COGNITO_JWKS: \(error)") }
        }
        let header = try Self.header(of: token)
        guard header.alg == "RS256" else { throw TokenRejected(reason: "algorithm \(header.alg ?? "missing") is not RS256") }
        guard let kid = header.kid else { throw TokenRejected(reason: "no kid") }
        if !knownKeyIDs.contains(kid) { try await refreshIfAllowed() }
        guard knownKeyIDs.contains(kid) else { throw TokenRejected(reason: "unknown kid \(kid)") }

        let claims: CognitoClaims
        do {
            claims = try await keys.verify(token, as: CognitoClaims.self)
        } catch {
            throw TokenRejected(reason: "signature or payload invalid: \(error)")
        }
        let leeway = Double(configuration.leeway.components.seconds)
        guard claims.iss == configuration.issuer else { throw TokenRejected(reason: "issuer \(claims.iss)") }
        guard claims.exp + leeway > time else { throw TokenRejected(reason: "expired") }
        if let nbf = claims.nbf, nbf - leeway > time { throw TokenRejected(reason: "not yet valid") }
        if let iat = claims.iat, iat - leeway > time { throw TokenRejected(reason: "issued in the future") }
        switch claims.tokenUse {
        case "id":
            guard claims.aud?.contains(configuration.clientID) == true else { throw TokenRejected(reason: "audience is not this app client") }
        case "access":
            guard claims.clientId == configuration.clientID else { throw TokenRejected(reason: "client_id is not this app client") }
        default:
            throw TokenRejected(reason: "token_use \(claims.tokenUse)")
        }
        guard let userName = claims.cognitoUsername ?? claims.username, !userName.isEmpty else {
            throw TokenRejected(reason: "no user name")
        }
        let identity = Identity(userName: userName, groups: claims.groups ?? [])
        if verified.count >= Self.cacheLimit { verified.removeAll(keepingCapacity: true) }
        verified[token] = (identity, claims.exp + leeway)
        return identity
    }

    /// Fetches the JWKS at most once per `minimumRefreshInterval`; requests that arrive while a
    /// fetch is under way wait for it (instead of failing on a key it is about to bring).
    private func refreshIfAllowed() async throws {
        if configuration.staticJWKS != nil { return }
        if let refreshing {
            try await refreshing.value
            return
        }
        if let lastRefresh, ContinuousClock.now - lastRefresh < configuration.minimumRefreshInterval { return }
        lastRefresh = .now
        let task = Task { try await self.fetchKeys() }
        refreshing = task
        defer { refreshing = nil }
        try await task.value
    }

    private var refreshing: Task<Void, any Error>?

    private func fetchKeys() async throws {
        do {
            var request = HTTPClientRequest(url: configuration.jwksURL)
            request.method = .GET
            let response = try await httpClient.execute(request, timeout: .seconds(5))
            let body = try await response.body.collect(upTo: 1 << 20)
            guard response.status == .ok else { throw TokenRejected(reason: "JWKS answered \(response.status.code)") }
            try await load(Data(buffer: body))
            logger.info("loaded JWKS", metadata: ["url": "\(configuration.jwksURL)", "keys": "\(knownKeyIDs.count)"])
        } catch {
            logger.error("fetching JWKS failed", metadata: ["url": "\(configuration.jwksURL)", "error": "\(error)"])
            throw KeysUnavailable(reason: "\(error)")
        }
    }

    private func load(_ document: Data) async throws {
        let jwks = try JSONDecoder().decode(JWKS.self, from: document)
        let collection = JWTKeyCollection()
        var ids: Set<String> = []
        for key in jwks.keys where key.keyType == .rsa {
            guard let kid = key.keyIdentifier?.string else { continue }
            try await collection.add(jwk: key)
            ids.insert(kid)
        }
        keys = collection
        knownKeyIDs = ids
        verified.removeAll()
    }

    struct Header: Decodable {
        var alg: String?
        var kid: String?
    }

    static func header(of token: String) throws -> Header {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let data = Data(base64URL: String(parts[0])),
              let header = try? JSONDecoder().decode(Header.self, from: data)
        else { throw TokenRejected(reason: "not a JWT") }
        return header
    }
}

/// The issuer's keys could not be fetched: not the client's fault (503).
package struct KeysUnavailable: Error, CustomStringConvertible {
    package var reason: String
    package var description: String { "signing keys unavailable: \(reason)" }
}
