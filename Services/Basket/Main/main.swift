import BasketService
import Hummingbird
import Logging
import ServiceKit

let settings = Settings()
LoggingSetup.bootstrap(settings: settings)
let logger = Logger(label: "basket-service")
let app = try await buildApplication(try BasketServiceConfig(settings: settings), logger: logger)
try await app.runService()
