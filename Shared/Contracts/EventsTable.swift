import EventBus

/// The README's events table, rendered from the declarations: the events (`ShopEvents.all`, each
/// with its detail's Swift type), who publishes them (`ShopEvents.publishers`) and where the rules
/// send them (`BusTopology.shop()`). `swift run bus events --write` rewrites the README's copy;
/// `EventsTableTests` fails when it differs.
package enum EventsTable {
    package static let begin = "<!-- events: rendered from Shared/Contracts (ShopEvents, BusTopology.shop) by `swift run bus events --write`; a test compares -->\n"
    package static let end = "\n<!-- /events -->"

    package static var markdown: String {
        let topology = BusTopology.shop()
        var lines = [
            "| event (`detail-type`) | `source` | published by | detail (Swift type) | rule → queue (read by; dead letters) |",
            "|---|---|---|---|---|",
        ]
        for event in ShopEvents.all {
            let publishers = ShopEvents.publishers.filter { $0.value.contains(event) }.map(\.key.executable).sorted()
            let routes = topology.rules.filter { $0.matches(event) }.map { rule in
                let queue = topology.queues.first { $0.name == rule.targetQueue }
                let reader = [queue?.consumer, queue?.deadLetterQueue.map { "`\($0)`" }].compactMap { $0 }.joined(separator: "; ")
                return "`\(rule.name)` → `\(rule.targetQueue)` (\(reader))"
            }
            lines.append(
                "| `\(event.detailType)` | `\(event.source)` | \(publishers.joined(separator: ", ")) | `\(event.detail ?? "")` | \(routes.joined(separator: "<br>")) |"
            )
        }
        return lines.joined(separator: "\n")
    }
}
