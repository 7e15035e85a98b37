/// One environment variable the shop's processes read: its name, kind, default, which processes
/// read it, whether it is a secret, and one line of documentation. `ShopSettings.all` declares every
/// one; the README's configuration table and each executable's `--help` are rendered from it, the
/// tests check every read against it, and the deployments' environments (compose, Kubernetes, the
/// template) name nothing else.
package struct SettingDeclaration: Sendable {
    package enum Default: Sendable, Equatable {
        /// Unset: the feature is off or the setting optional.
        case none
        /// This value, the same in every process that reads it.
        case value(String)
        /// Computed, or different per process: described in words.
        case described(String)
    }

    package let name: String
    package let kind: SettingKind
    package let defaultValue: Default
    /// Executable names (`gateway`, `product-service`, …, `bus`).
    package let readers: [String]
    package let secret: Bool
    package let documentation: String

    package init(_ name: String, _ kind: SettingKind, _ defaultValue: Default, _ readers: [String], secret: Bool = false, _ documentation: String) {
        self.name = name
        self.kind = kind
        self.defaultValue = defaultValue
        self.readers = readers
        self.secret = secret
        self.documentation = documentation
    }

    package var defaultText: String {
        switch defaultValue {
        case .none: "unset"
        case .value(let value): value.isEmpty ? "empty" : "`\(value)`"
        case .described(let text): text
        }
    }
}

/// Every setting of every process, declared once.
package enum ShopSettings {
    package static let gateway = "gateway", identity = "identity", product = "product-service", basket = "basket-service"
    package static let ordering = "ordering-service", payment = "payment-service", shipping = "shipping-service"
    package static let notification = "notification-service", bus = "bus"

    /// The processes that serve HTTP (all but the `bus` command line).
    package static let servers = [gateway, identity, product, basket, ordering, payment, shipping, notification]
    /// The processes with a database of their own (the gateway's is optional: shared rate limits).
    package static let withDatabase = [gateway, identity, product, basket, ordering, payment, shipping, notification]
    /// The processes on the event bus (and the `bus` command line, which administers it).
    package static let onBus = [product, basket, ordering, payment, shipping, notification, bus]
    /// The processes that verify the pool's tokens.
    package static let verifiers = [gateway, product, basket, ordering, payment, shipping, notification]

    package static let all: [SettingDeclaration] = [
        // Every process
        .init("HOST", .text, .value("127.0.0.1"), servers, "the address to listen on"),
        .init("PORT", .integer, .described("the service's port: 8080 gateway, 8081 product, 8082 basket, 8083 ordering, 8084 payment, 8085 shipping, 8086 notification, 9229 identity"), servers, "the port to listen on"),
        .init("LOG_LEVEL", .text, .value("info"), servers + [bus], "JSON lines on stdout at this level and above (`trace` … `critical`); the gateway writes one access line per request, the services one per request at `debug`"),
        .init("NIO_GLOBAL_EXECUTOR", .boolean, .described("`true`; the gateway: `false`"), servers, "runs Swift concurrency's tasks on NIO's event loops, so an awaited round trip resumes on the thread its answer came in on; `false`: on Swift's own thread pool"),
        .init("OTEL_EXPORTER_OTLP_ENDPOINT", .text, .value(""), servers, "set: spans over OTLP/HTTP to `<endpoint>/v1/traces` (see \"Tracing\"); empty: no tracing"),
        .init("HEADER_TIMEOUT_MS", .milliseconds, .value("10000"), servers, "a request head's deadline"),
        .init("BODY_TIMEOUT_MS", .milliseconds, .value("10000"), servers, "a request body's deadline (408 when late)"),
        .init("IDLE_TIMEOUT_MS", .milliseconds, .value("60000"), servers, "how long a silent kept-alive connection stays open"),
        // Databases
        .init("DATABASE_URL", .text, .described("`postgres://swn:swn@localhost:5432/<the service's database>`; the gateway: unset (limits in each process)"), withDatabase, "the service's own database (libpq's `?sslmode=…&sslrootcert=…` work too)"),
        .init("DATABASE_PASSWORD", .text, .none, withDatabase, secret: true, "overrides the password in `DATABASE_URL` (secrets injected by ECS or Kubernetes)"),
        .init("DATABASE_MAX_CONNECTIONS", .integer, .value("10"), withDatabase, "the pool's size (opened on demand and kept; see \"When the database goes away\")"),
        .init("DATABASE_MIN_CONNECTIONS", .integer, .described("all of them"), withDatabase, "how many the pool opens at start (the tests set `0`)"),
        .init("DATABASE_TLS", .text, .none, withDatabase + [bus], "`disable`, `require` (encrypted, certificate unchecked) or `verify-full` (chained to the CA bundle, naming the host)"),
        .init("DATABASE_TLS_CA_FILE", .text, .none, withDatabase + [bus], "the CA bundle for `verify-full` (the system's roots without one); unreadable: the start stops"),
        // The bus
        .init("BUS_MODE", .text, .value("local"), onBus + verifiers, "`local` (the Postgres bus) or `aws` (EventBridge + SQS; tokens then from the configured pool only)"),
        .init("BUS_DATABASE_URL", .text, .value("postgres://swn:swn@localhost:5432/bus"), onBus, "the local bus's database"),
        .init("BUS_DATABASE_MAX_CONNECTIONS", .integer, .value("6"), onBus, "the local bus's pool (one connection listens for notifications)"),
        .init("BUS_DATABASE_MIN_CONNECTIONS", .integer, .described("all of them"), onBus, "how many of them open at start"),
        .init("BUS_DATABASE_TLS", .text, .none, onBus, "as `DATABASE_TLS`, for the local bus"),
        .init("BUS_DATABASE_TLS_CA_FILE", .text, .none, onBus, "as `DATABASE_TLS_CA_FILE`, for the local bus"),
        .init("EVENT_BUS_NAME", .text, .value("SwnEventBus"), onBus, "the bus events are put on (the publisher adds it)"),
        .init("QUEUE_VISIBILITY_TIMEOUT_MS", .milliseconds, .value("30000"), onBus, "how long a received message stays hidden from other consumers"),
        .init("QUEUE_MAX_RECEIVE_COUNT", .integer, .value("5"), onBus, "receives before a message goes to its dead-letter queue"),
        .init("METRICS_INTERVAL_MS", .milliseconds, .value("5000"), onBus, "how often the bus, database and order gauges of `/metrics` refresh"),
        // AWS (the SDKs' own conventions)
        .init("AWS_REGION", .text, .value("us-east-1"), onBus + [gateway, identity], "the region (`AWS_DEFAULT_REGION` when unset)"),
        .init("AWS_DEFAULT_REGION", .text, .none, onBus, "the region when `AWS_REGION` is unset"),
        .init("AWS_ENDPOINT_URL", .text, .none, onBus, "every AWS endpoint (moto, LocalStack); unset: the public ones"),
        .init("AWS_ENDPOINT_URL_EVENTBRIDGE", .text, .none, onBus, "EventBridge's endpoint"),
        .init("AWS_ENDPOINT_URL_SQS", .text, .none, onBus, "SQS's endpoint"),
        .init("AWS_ENDPOINT_URL_SESV2", .text, .none, onBus, "SES's endpoint (notification-service's e-mails in aws mode)"),
        .init("AWS_ENDPOINT_URL_SFN", .text, .none, onBus, "Step Functions' endpoint (the saga's executions and task tokens in aws mode)"),
        .init("AWS_ACCESS_KEY_ID", .text, .none, onBus, "credentials from the environment (first)"),
        .init("AWS_SECRET_ACCESS_KEY", .text, .none, onBus, secret: true, "credentials from the environment (first)"),
        .init("AWS_SESSION_TOKEN", .text, .none, onBus, secret: true, "credentials from the environment (first)"),
        .init("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", .text, .none, onBus, "ECS task-role credentials (then)"),
        .init("AWS_CONTAINER_CREDENTIALS_FULL_URI", .text, .none, onBus, "container credentials at a full URL"),
        .init("AWS_CONTAINER_AUTHORIZATION_TOKEN", .text, .none, onBus, secret: true, "the token for `AWS_CONTAINER_CREDENTIALS_FULL_URI`"),
        // Tokens
        .init("COGNITO_ISSUER", .text, .value("http://localhost:9229/local_swn"), verifiers, "the pool whose tokens are trusted (`https://cognito-idp.<region>.amazonaws.com/<poolId>`; required with `BUS_MODE=aws`)"),
        .init("COGNITO_JWKS_URL", .text, .described("`<COGNITO_ISSUER>/.well-known/jwks.json`"), verifiers, "where its keys are"),
        .init("COGNITO_CLIENT_ID", .text, .value("swnshoplocalclient"), verifiers, "the app client tokens must name (required with `BUS_MODE=aws`)"),
        .init("COGNITO_JWKS", .text, .none, verifiers, "a JWKS document to trust instead of fetching one (offline machines, tests)"),
        .init("JWKS_REFRESH_INTERVAL_MS", .milliseconds, .value("30000"), verifiers, "least time between two JWKS fetches"),
        // Gateway
        .init("PRODUCT_SERVICE_URL", .text, .value("http://localhost:8081"), [gateway, basket], "product-service: a comma-separated list of replicas, or an `http` name with several addresses (re-resolved every `READY_REFRESH_MS`)"),
        .init("BASKET_SERVICE_URL", .text, .value("http://localhost:8082"), [gateway], "basket-service (as `PRODUCT_SERVICE_URL`)"),
        .init("ORDERING_SERVICE_URL", .text, .value("http://localhost:8083"), [gateway], "ordering-service (as `PRODUCT_SERVICE_URL`)"),
        .init("PAYMENT_SERVICE_URL", .text, .value("http://localhost:8084"), [gateway], "payment-service (as `PRODUCT_SERVICE_URL`)"),
        .init("SHIPPING_SERVICE_URL", .text, .value("http://localhost:8085"), [gateway], "shipping-service (as `PRODUCT_SERVICE_URL`)"),
        .init("NOTIFICATION_SERVICE_URL", .text, .value("http://localhost:8086"), [gateway], "notification-service (as `PRODUCT_SERVICE_URL`)"),
        .init("UPSTREAM_TIMEOUT_MS", .milliseconds, .value("10000"), [gateway], "an upstream's answer deadline"),
        .init("UPSTREAM_CONNECT_TIMEOUT_MS", .milliseconds, .value("1000"), [gateway], "a replica that does not take the connection within it is ejected and the request goes to another"),
        .init("UPSTREAM_CONNECTIONS", .integer, .value("64"), [gateway], "connections kept per upstream service"),
        .init("READY_REFRESH_MS", .milliseconds, .value("2000"), [gateway], "how often the public `/ready` refreshes its view of the upstreams"),
        .init("RATE_LIMIT_USER_PER_SECOND", .integer, .value("20"), [gateway], "per signed-in user (`0` turns it off)"),
        .init("RATE_LIMIT_USER_BURST", .integer, .value("100"), [gateway], "the user bucket's size"),
        .init("RATE_LIMIT_ADDRESS_PER_SECOND", .integer, .value("50"), [gateway], "per client address: anonymous calls and refused tokens (`0` turns it off)"),
        .init("RATE_LIMIT_ADDRESS_BURST", .integer, .value("200"), [gateway], "the address bucket's size"),
        .init("TRUSTED_PROXIES", .text, .value(""), [gateway], "CIDRs of the load balancers whose `X-Forwarded-For` names the visitor (the right-most address that is not one of them)"),
        .init("CORS_ALLOWED_ORIGINS", .list, .value("http://localhost:8080,http://127.0.0.1:8080"), [gateway, identity], "comma-separated; `*` for any (identity must allow the storefront's origin)"),
        .init("METRICS_PORT", .integer, .value("0"), [gateway], "where the gateway's own `/metrics` are served, never on its public port (`0`: a free port, logged)"),
        .init("OPENAPI_FILE", .text, .value("deploy/openapi.yaml"), [gateway], "served at `GET /openapi.yaml`"),
        .init("STOREFRONT_DIR", .text, .value("Services/Gateway/Storefront"), [gateway], "the storefront's files, read at start"),
        .init("STOREFRONT_URL", .text, .described("`http://localhost:<PORT>/`"), [gateway], "the address printed at start"),
        .init("STOREFRONT_IDENTITY_ENDPOINT", .text, .described("the origin of `COGNITO_ISSUER` + `/`"), [gateway], "where the pages sign in"),
        // Product
        .init("SEED_DEMO_CATALOG", .boolean, .value("false"), [product], "loads the demo catalog into an empty catalog (`make run`: `true`)"),
        .init("PRODUCT_CACHE_TTL_MS", .milliseconds, .value("1000"), [product], "reads answered from memory; another replica's changes show within it (`0`: off)"),
        .init("MAX_RESERVED_PER_CUSTOMER", .integer, .value("20"), [product], "units of one product one customer may hold in unpaid orders (`0`: no cap)"),
        // Basket
        .init("CATALOG_TIMEOUT_MS", .milliseconds, .value("2000"), [basket], "product-service's answer deadline"),
        .init("CHECKOUT_FINGERPRINT_KEY", .text, .described("a local default"), [basket], secret: true, "the HMAC key of a checkout's card fingerprint; set it, the same on every replica, anywhere but a laptop"),
        // Ordering
        .init("CHECKOUT_QUEUE", .text, .value("ordering-checkout"), [ordering], "the checkout queue (on SQS a name or URL)"),
        .init("RETRY_BASE_DELAY_MS", .milliseconds, .value("1000"), [ordering], "first backoff of a failing message"),
        .init("RETRY_MAX_DELAY_MS", .milliseconds, .value("60000"), [ordering], "longest backoff of a failing message"),
        .init("ORDER_STEP_TIMEOUT_MS", .milliseconds, .value("10000"), [ordering], "the stock step's deadline (then `Cancelled`, `StepTimeout`)"),
        .init("ORDER_PAYMENT_TIMEOUT_MS", .milliseconds, .described("`ORDER_STEP_TIMEOUT_MS`"), [ordering], "the payment step's deadline"),
        .init("ORDER_TIMEOUT_SCAN_MS", .milliseconds, .value("250"), [ordering], "how often overdue steps are looked for"),
        .init("RETURN_WINDOW_MS", .milliseconds, .value("2592000000"), [ordering], "how long after delivery a return is accepted (30 days)"),
        .init("SAGA_ENGINE", .text, .value("local"), [ordering], "who runs the checkout's saga steps: `local` (ordering) or `stepfunctions` (the AWS Step Functions state machine; `BUS_MODE=aws` only)"),
        .init("SAGA_STATE_MACHINE_ARN", .text, .none, [ordering], "the saga's state machine (`OrderSagaStateMachine`) with `SAGA_ENGINE=stepfunctions`"),
        // Payment
        .init("PAYMENT_SLOW_DELAY_MS", .milliseconds, .value("30000"), [payment], "the `0077` test card's delay"),
        .init("PAYMENT_SCAN_MS", .milliseconds, .value("250"), [payment], "how often due slow payments are answered"),
        // Shipping
        .init("SHIPPING_DISPATCH_DELAY_MS", .milliseconds, .value("2000"), [shipping], "completed → shipped"),
        .init("SHIPPING_DELIVERY_DELAY_MS", .milliseconds, .value("5000"), [shipping], "shipped → delivered"),
        .init("SHIPPING_RETURN_DELAY_MS", .milliseconds, .value("2000"), [shipping], "return asked → parcel back"),
        .init("SHIPPING_SCAN_MS", .milliseconds, .value("250"), [shipping], "how often due shipments are moved"),
        // Notification
        .init("SMTP_URL", .text, .value(""), [notification], "`smtp://` or `smtps://` (user and password, `?starttls=true`); empty: SES in aws mode, else recorded only"),
        .init("SMTP_CA_FILE", .text, .value(""), [notification], "CA bundle for the SMTP server (empty: the system's roots)"),
        .init("MAIL_FROM", .text, .value("shop@swn.local"), [notification], "the sender of every e-mail"),
        .init("NOTIFICATION_CLAIM_LEASE_MS", .integer, .value("60000"), [notification], "how long a sender holds an e-mail's claim; an expired one without an outcome is sent once more"),
        .init("WEBHOOK_TIMEOUT_MS", .integer, .value("10000"), [notification], "per delivery attempt"),
        .init("WEBHOOK_MAX_IN_FLIGHT", .integer, .value("4"), [notification], "attempts at once per endpoint"),
        .init("WEBHOOK_SCAN_MS", .integer, .value("500"), [notification], "how often due deliveries are looked for"),
        .init("WEBHOOK_RETRY_FIRST_DELAY_MS", .integer, .value("5000"), [notification], "first retry's delay (doubling)"),
        .init("WEBHOOK_RETRY_MAX_DELAY_MS", .integer, .value("3600000"), [notification], "longest delay between retries"),
        .init("WEBHOOK_RETRY_FOR_MS", .integer, .value("86400000"), [notification], "how long a delivery is retried before it is dead"),
        .init("WEBHOOK_ALLOW_PRIVATE", .boolean, .value("false"), [notification], "allows loopback and private webhook addresses"),
        // Identity
        .init("USER_POOL_ID", .text, .value("local_swn"), [identity], "the pool's id"),
        .init("USER_POOL_CLIENT_ID", .text, .value("swnshoplocalclient"), [identity], "the pool's app client"),
        .init("TOKEN_ISSUER", .text, .described("`http://localhost:<PORT>/<USER_POOL_ID>`"), [identity], "the `iss` of its tokens"),
        .init("TOKEN_LIFETIME_SECONDS", .integer, .value("3600"), [identity], "how long an id or access token lasts"),
        .init("CREATE_DEMO_USERS", .boolean, .value("true"), [identity], "creates `swn` and `admin` when missing"),
        .init("IDENTITY_ADMIN_ACCESS_KEY_ID", .text, .none, [identity], "unset: `Admin*` actions are refused; set, they need a SigV4 signature with this key pair"),
        .init("IDENTITY_ADMIN_SECRET_ACCESS_KEY", .text, .none, [identity], secret: true, "the secret of that key pair"),
        .init("PASSWORD_HASH_COST", .integer, .value("16384"), [identity], "scrypt's N (passwords are kept only as salted scrypt hashes)"),
        .init("PASSWORD_HASH_THREADS", .integer, .value("1"), [identity], "hashing threads"),
        .init("PASSWORD_HASH_QUEUE", .integer, .value("32"), [identity], "sign-ins waiting beyond it are `TooManyRequestsException`"),
        .init("SIGN_IN_RATE_PER_MINUTE", .integer, .value("120"), [identity], "`InitiateAuth` and `SignUp` per client address"),
        .init("SIGN_IN_BURST", .integer, .value("20"), [identity], "that bucket's size"),
        // The bus command line
        .init("DATABASE_ADMIN_URL", .text, .value("postgres://swn:swn@localhost:5432/postgres"), [bus], "`bus databases`: the administrator (`CREATEDB`, `CREATEROLE`)"),
        .init("DATABASE_ADMIN_PASSWORD", .text, .none, [bus], secret: true, "overrides the password in `DATABASE_ADMIN_URL`"),
    ] + ["GATEWAY", "IDENTITY", "PRODUCT", "BASKET", "ORDERING", "PAYMENT", "SHIPPING", "NOTIFICATION", "BUS"].map {
        .init("\($0)_DATABASE_PASSWORD", .text, .none, [bus], secret: true, "`bus databases`: the password of the \($0.lowercased()) role")
    }

    /// The declaration of `name`, if there is one.
    package static func declaration(_ name: String) -> SettingDeclaration? { byName[name] }

    private static let byName = Dictionary(all.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })

    /// What `process` reads, in declaration order.
    package static func of(_ process: String) -> [SettingDeclaration] { all.filter { $0.readers.contains(process) } }

    /// The first words of the shop's own settings (`ORDER`, `PRODUCT`, …; not the SDKs' `AWS`, `OTEL`
    /// and `NIO`, whose own variables such as `NIO_SINGLETON_GROUP_LOOP_COUNT` are read too): a variable
    /// that starts with one but is declared nowhere is most likely a typo.
    package static let prefixes: Set<String> = Set(all.compactMap { declaration in
        let head = String(declaration.name.prefix { $0 != "_" })
        return ["AWS", "OTEL", "NIO"].contains(head) || head == declaration.name ? nil : head
    })

    /// The variables in `environment` that look like the shop's (one of `prefixes`, then `_`) but are
    /// not declared. Kubernetes' service links (`<NAME>_SERVICE_HOST`, `<NAME>_PORT_8081_TCP…`) are not.
    package static func unknown(in environment: [String: String]) -> [String] {
        environment.keys.filter { name in
            guard byName[name] == nil, name.contains("_"), prefixes.contains(String(name.prefix { $0 != "_" })) else { return false }
            return !(name.hasSuffix("_SERVICE_HOST") || name.contains("_SERVICE_PORT") || name.hasSuffix("_PORT") || name.contains("_PORT_"))
        }.sorted()
    }

    /// `--help`: what `process` reads, one setting per paragraph.
    package static func help(for process: String) -> String {
        var lines = ["\(process): every setting is an environment variable.", ""]
        for declaration in of(process) {
            lines.append("  \(declaration.name)  (\(declaration.kind.rawValue)\(declaration.secret ? ", secret" : ""); default: \(declaration.defaultText))")
            lines.append("      \(declaration.documentation)")
        }
        return lines.joined(separator: "\n")
    }

    /// The effective configuration after `reads`: each setting read, with its value (or its default),
    /// secrets redacted; for the start-up log line.
    package static func effective(_ reads: [String: SettingsReads.Read]) -> [String: String] {
        var shown: [String: String] = [:]
        for (name, read) in reads {
            guard let value = read.value ?? read.defaultValue else { continue }
            let secret = declaration(name).map(\.secret) ?? (name.contains("PASSWORD") || name.contains("SECRET"))
            shown[name] = secret ? (read.value == nil ? "(default)" : "(set, redacted)") : Self.redactingURLPassword(value)
        }
        return shown
    }

    /// A URL's password replaced by `***` (`postgres://swn:***@host/db`).
    static func redactingURLPassword(_ value: String) -> String {
        guard let scheme = value.range(of: "://"), let at = value[scheme.upperBound...].firstIndex(of: "@") else { return value }
        let credentials = value[scheme.upperBound..<at]
        guard let colon = credentials.firstIndex(of: ":") else { return value }
        return String(value[..<value.index(after: colon)]) + "***" + String(value[at...])
    }
}

/// The README's configuration table, rendered from `ShopSettings.all` by `swift run bus settings --write`
/// (`SettingsTests` fails when the README's copy differs).
package enum SettingsTable {
    package static let begin = "<!-- settings: rendered from Shared/ServiceKit/ShopSettings.swift by `swift run bus settings --write`; a test compares -->\n"
    package static let end = "\n<!-- /settings -->"

    package static var markdown: String {
        var lines = ["| variable | read by | default | |", "|---|---|---|---|"]
        for declaration in ShopSettings.all {
            lines.append("| `\(declaration.name)` | \(readers(declaration)) | \(declaration.defaultText) | \(declaration.secret ? "**secret**; " : "")\(declaration.documentation) |")
        }
        return lines.joined(separator: "\n")
    }

    static func readers(_ declaration: SettingDeclaration) -> String {
        let set = Set(declaration.readers)
        if set == Set(ShopSettings.servers + [ShopSettings.bus]) { return "all" }
        if set == Set(ShopSettings.servers) { return "every service and the gateway" }
        if set == Set(ShopSettings.onBus) { return "the services on the bus, `bus`" }
        if set == Set(ShopSettings.verifiers) { return "the gateway and every service with routes" }
        return (ShopSettings.servers + [ShopSettings.bus]).filter(set.contains).map { $0.replacingOccurrences(of: "-service", with: "") }.joined(separator: ", ")
    }
}
