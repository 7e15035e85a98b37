import Logging

/// The failures in a row of a loop that retries (a consumer's receive, a relay, a timer scan, a
/// listener): logged when the streak starts and once when it ends, not once per attempt, so an
/// outage of the database is two lines per task however long it lasts. It also gives the capped
/// backoff before the next attempt.
package struct FailureStreak: Sendable {
    package let task: String
    package private(set) var count = 0
    private var since: ContinuousClock.Instant?

    package init(_ task: String) {
        self.task = task
    }

    /// Records a failure and returns how long to wait before the next attempt: 100 ms × 2^(n-1),
    /// at most `maximum`.
    package mutating func failed(_ error: any Error, logger: Logger, maximum: Duration = .seconds(2), metadata: Logger.Metadata = [:]) -> Duration {
        count += 1
        if count == 1 {
            since = .now
            var metadata = metadata
            metadata["task"] = "\(task)"
            metadata["error"] = "\(error)"
            if DatabaseUnavailable.isUnavailability(error) {
                logger.warning("\(task) paused: database unavailable; retrying", metadata: metadata)
            } else {
                logger.error("\(task) failed; retrying", metadata: metadata)
            }
        }
        return min(.milliseconds(100) * (1 << min(count - 1, 10)), maximum)
    }

    /// Ends the streak, if there was one, with a line saying how long it lasted.
    package mutating func succeeded(logger: Logger) {
        guard count > 0 else { return }
        logger.notice("\(task) running again", metadata: [
            "task": "\(task)", "failedAttempts": "\(count)", "after": "\(since.map { ContinuousClock.now - $0 } ?? .zero)",
        ])
        count = 0
        since = nil
    }
}
