/// Opens once, when start-up work (migrations) is done; background services wait on it so they
/// never touch a schema that is not there yet.
package actor StartupGate {
    private var isOpen = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    package init() {}

    package func open() {
        isOpen = true
        for waiter in waiters { waiter.resume() }
        waiters = []
    }

    package func wait() async {
        if isOpen { return }
        await withCheckedContinuation { waiters.append($0) }
    }
}
