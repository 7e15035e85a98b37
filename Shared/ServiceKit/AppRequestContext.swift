import Hummingbird

/// The request context every service uses: Hummingbird's basic context with a tighter body limit,
/// so an oversized upload is a 413 rather than memory spent.
package struct AppRequestContext: RequestContext {
    package var coreContext: CoreRequestContextStorage

    package init(source: Source) {
        self.coreContext = .init(source: source)
    }

    package var maxUploadSize: Int { 1024 * 1024 }
}
