import Instrumentation
import Logging
import OTel
import ServiceContextModule
import ServiceLifecycle
import Tracing

/// Distributed tracing: W3C `traceparent` propagation and, when `OTEL_EXPORTER_OTLP_ENDPOINT` is
/// set, spans exported over OTLP/HTTP (swift-otel). Off by default: then no tracer is bootstrapped,
/// spans cost next to nothing and no trace context is stored or sent.
package enum ShopTracing {
    /// Bootstraps the tracer for `serviceName`; returns the exporter's background service, to run
    /// with the application (nil when tracing is off). Call once, from `main`, before any HTTP
    /// client is made (AsyncHTTPClient takes the tracer when its configuration is created).
    /// The other `OTEL_*` variables of the OpenTelemetry specification apply (e.g.
    /// `OTEL_BSP_SCHEDULE_DELAY`, `OTEL_TRACES_SAMPLER`).
    /// `OTEL_EXPORTER_OTLP_ENDPOINT` (empty: no tracing).
    package static func endpoint(_ settings: Settings) -> String {
        settings.string("OTEL_EXPORTER_OTLP_ENDPOINT", default: "")
    }

    package static func bootstrap(serviceName: String, settings: Settings) throws -> (any Service)? {
        let endpoint = endpoint(settings)
        guard !endpoint.isEmpty else { return nil }
        var configuration = OTel.Configuration.default
        configuration.serviceName = serviceName
        configuration.propagators = [.traceContext]
        configuration.logs.enabled = false
        configuration.metrics.enabled = false
        configuration.traces.exporter = .otlp
        configuration.traces.otlpExporter.protocol = .httpProtobuf
        configuration.traces.otlpExporter.endpoint = endpoint
        // Its own messages as JSON lines like every other, and only when something is wrong.
        configuration.diagnosticLogger = .custom(Logger(label: "otel"))
        configuration.diagnosticLogLevel = .warning
        let backend = try OTel.makeTracingBackend(configuration: configuration)
        InstrumentationSystem.bootstrap(backend.factory)
        return backend.service
    }

    /// Puts `trace_id` and `span_id` of the current span on every log line.
    package static let logMetadata: Logger.MetadataProvider = OTel.makeLoggingMetadataProvider()

    /// The current trace context as a W3C `traceparent` (nil outside any span, or with tracing off).
    package static func currentTraceparent() -> String? {
        traceparent(of: ServiceContext.current ?? .topLevel)
    }

    /// Whether a tracer is bootstrapped.
    package static var isEnabled: Bool { !(InstrumentationSystem.tracer is NoOpTracer) }

    /// A context continuing the trace of `traceparent` (a stored or received one).
    package static func context(continuing traceparent: String?) -> ServiceContext {
        var context = ServiceContext.topLevel
        guard let traceparent, !traceparent.isEmpty else { return context }
        InstrumentationSystem.instrument.extract(["traceparent": traceparent], into: &context, using: DictionaryExtractor())
        return context
    }

    /// The `traceparent` of a span, to send with what it produces.
    package static func traceparent(of span: any Span) -> String? {
        traceparent(of: span.context)
    }

    static func traceparent(of context: ServiceContext) -> String? {
        var carrier: [String: String] = [:]
        InstrumentationSystem.instrument.inject(context, into: &carrier, using: DictionaryInjector())
        return carrier["traceparent"]
    }

    /// The value of the first `"traceparent"` member in a JSON text, without parsing all of it
    /// (a message body whose detail carries the trace context).
    package static func traceparent(inJSON json: String) -> String? {
        let key = #""traceparent":""#
        guard let start = json.range(of: key)?.upperBound else { return nil }
        let value = json[start...].prefix { $0 != "\"" }
        // version-traceid-spanid-flags: 2 + 1 + 32 + 1 + 16 + 1 + 2 characters.
        guard value.count == 55, value.allSatisfy({ $0.isHexDigit || $0 == "-" }) else { return nil }
        return String(value)
    }
}

package struct DictionaryInjector: Injector {
    package init() {}
    package func inject(_ value: String, forKey key: String, into carrier: inout [String: String]) {
        carrier[key] = value
    }
}

package struct DictionaryExtractor: Extractor {
    package init() {}
    package func extract(key: String, from carrier: [String: String]) -> String? {
        carrier[key]
    }
}
