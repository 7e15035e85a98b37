/// Opens once, when start-up work (migrations) is done; background services wait on it so they
/// never touch a schema that is not there yet. A waiter that is cancelled (the start-up failed and
/// the service group shuts down) stops waiting at once, so a failed start ends the process.
package actor StartupGate {
    private var isOpen = false
    private var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
    private var nextID = 0

    package init() {}

    package func open() {
        isOpen = true
        for waiter in waiters.values { waiter.resume() }
        waiters = [:]
    }

    /// Returns once the gate is open, or as soon as the waiting task is cancelled.
    package func wait() async {
        if isOpen || Task.isCancelled { return }
        let id = nextID
        nextID += 1
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                if isOpen || Task.isCancelled { continuation.resume() } else { waiters[id] = continuation }
            }
        } onCancel: {
            Task { await self.cancel(id) }
        }
    }

    private func cancel(_ id: Int) {
        waiters.removeValue(forKey: id)?.resume()
    }
}
