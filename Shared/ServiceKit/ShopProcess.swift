import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

/// What every executable's `main` does: logging (JSON lines with the trace id), metrics
/// (Prometheus), tracing (OTLP when configured), then the application until SIGTERM or SIGINT.
package enum ShopProcess {
    /// On the main actor: NIO's take-over of the global executor must be asked for from the main thread
    /// (on Darwin it stops the process otherwise), and an `async` function that is not isolated starts
    /// on Swift's pool.
    @MainActor
    package static func run<App: ApplicationProtocol>(
        _ name: String, settings: Settings = Settings(), build: @Sendable (Settings, Logger) async throws -> App
    ) async throws {
        // First, before any task is made: Swift concurrency's jobs then run on NIO's event loops (the
        // threads that own the sockets), so an awaited database round trip or request resumes where its
        // answer arrived instead of hopping to Swift's own pool and back. Measured in the README
        // ("Issue 26, seventh step"). Nothing in the shop blocks a thread for long: identity hashes
        // passwords on NIO's thread pool.
        let nioExecutor = Result { try nioGlobalExecutor(settings, of: name) }
        var tookOver = false
        if case .success(true) = nioExecutor {
            tookOver = NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
        }
        if CommandLine.arguments.dropFirst().contains(where: { ["--help", "-h", "help"].contains($0) }) {
            print(ShopSettings.help(for: name))
            return
        }
        LoggingSetup.bootstrap(settings: settings)
        ShopMetrics.bootstrap()
        let logger = Logger(label: name)
        do {
            if try nioExecutor.get(), !tookOver {  // a bad value stops the start like any other setting's
                logger.warning("NIO_GLOBAL_EXECUTOR: NIO could not take over Swift concurrency's global executor; tasks run on Swift's own pool")
            }
            // Before the application: its HTTP clients take the tracer when they are made.
            let tracing = try ShopTracing.bootstrap(serviceName: name, settings: settings)
            let app = try await build(settings, logger)
            _ = try ServerTimeouts(settings: settings)  // read by the HTTP servers (`ServerTimeouts.current`); here for the log line
            logConfiguration(settings, of: name, logger: logger)
            // The exporter (when tracing) starts first and stops last, so the application's last spans are sent.
            var configuration = ServiceGroupConfiguration(
                services: (tracing.map { [ServiceGroupConfiguration.ServiceConfiguration(service: $0)] } ?? []) + [.init(service: app)],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
            // A stop is bounded: what is still running after the grace period is cancelled, and a process
            // that still has not ended then stops with a crash report naming what hangs, rather than never
            // ending (a supervisor's SIGKILL would come without one).
            configuration.maximumGracefulShutdownDuration = shutdownGrace
            configuration.maximumCancellationDuration = .seconds(5)
            try await ServiceGroup(configuration: configuration).run()
        } catch {
            // A start that cannot complete (no database, a bad setting) ends the process with status 1,
            // so a supervisor (compose's restart policy, ECS) starts it again.
            logger.critical("stopped", metadata: ["error": "\(String(reflecting: error))"])
            exit(1)
        }
    }

    /// How long a graceful stop may take before what still runs is cancelled: within compose's and
    /// Kubernetes' default 10 s and 30 s before their SIGKILL, and far above the ~0.05 s a stop takes.
    static let shutdownGrace: Duration = .seconds(8)

    /// `NIO_GLOBAL_EXECUTOR`: whether the process runs its tasks on NIO's event loops. Not by default
    /// in the gateway: a bare route through it served 5–15 % fewer requests per second with a worse
    /// p99 that way (README, "Issue 26, seventh step"), where the services' order pipeline used less CPU.
    package static func nioGlobalExecutor(_ settings: Settings, of process: String) throws -> Bool {
        try settings.bool("NIO_GLOBAL_EXECUTOR", default: process != ShopSettings.gateway)
    }

    /// One line with the settings the process runs with (secrets redacted), and a warning for each
    /// variable that looks like one of the shop's but is not (a typo would otherwise pass silently).
    static func logConfiguration(_ settings: Settings, of name: String, logger: Logger) {
        let effective = ShopSettings.effective(settings.reads.all)
        logger.info("configuration", metadata: Logger.Metadata(uniqueKeysWithValues: effective.map { ($0.key, .string($0.value)) }))
        for unknown in ShopSettings.unknown(in: settings.values) {
            logger.warning("unknown setting: not one this shop declares (a typo?); it is ignored", metadata: ["variable": "\(unknown)"])
        }
    }
}
