import EventBus
import Foundation
import Logging
import PostgresNIO
import ServiceKit

/// `bus`: inspect and repair the local event bus.
///   bus queues                 queue depths (visible / in flight)
///   bus messages QUEUE [N]     the first N (default 20) messages of a queue, as JSON lines
///   bus redrive DLQ            move a dead-letter queue's messages back to their source queue
let usage = "usage: bus queues | bus messages QUEUE [LIMIT] | bus redrive DEAD_LETTER_QUEUE  (reads BUS_DATABASE_URL)"
let settings = Settings()
LoggingSetup.bootstrap(settings: Settings(settings.values.merging(["LOG_LEVEL": "error"]) { old, _ in old }))
let logger = Logger(label: "bus")
let arguments = Array(CommandLine.arguments.dropFirst())
guard let command = arguments.first else {
    FileHandle.standardError.write(Data((usage + "\n").utf8))
    exit(2)
}

let busSettings = try BusSettings(settings: settings)
let client = PostgresClient(settings: busSettings.database, logger: logger)
let bus = LocalBus(client: client, logger: logger)
let admin = LocalBusAdmin(bus: bus)

func output(_ line: String) { print(line) }

let status: Int32 = await withTaskGroup(of: Int32?.self) { group in
    group.addTask { await client.run(); return nil }
    defer { group.cancelAll() }
    do {
        try await withTimeout(.seconds(30)) { try await bus.install(busSettings.topology) }
        switch (command, arguments.count) {
        case ("queues", 1):
            output("QUEUE                     VISIBLE  IN-FLIGHT  DEAD-LETTER-QUEUE")
            for queue in try await admin.stats() {
                output(queue.name.padding(toLength: 26, withPad: " ", startingAt: 0)
                    + String(queue.visible).padding(toLength: 9, withPad: " ", startingAt: 0)
                    + String(queue.inFlight).padding(toLength: 11, withPad: " ", startingAt: 0)
                    + (queue.deadLetterQueue ?? "-"))
            }
        case ("messages", 2), ("messages", 3):
            let limit = arguments.count == 3 ? Int(arguments[2]) ?? 20 : 20
            for message in try await admin.messages(in: arguments[1], limit: limit) {
                output(String(decoding: try JSONOutput.encoder.encode(message), as: UTF8.self))
            }
        case ("redrive", 2):
            let moved = try await admin.redrive(deadLetterQueue: arguments[1])
            output("moved \(moved) message(s) back from \(arguments[1])")
        default:
            FileHandle.standardError.write(Data((usage + "\n").utf8))
            return 2
        }
        return 0
    } catch {
        FileHandle.standardError.write(Data("bus: \(error)\n".utf8))
        return 1
    }
}
exit(status)
