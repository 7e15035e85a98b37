import Foundation
import Logging
import ServiceKit
import Testing

/// The hand-written encoders on the hot path agree with Foundation's.
@Suite struct LogAndTimeTests {
    @Test func timestampsMatchFoundationsISO8601() {
        var dates: [Date] = [Date(timeIntervalSince1970: 0), Date(timeIntervalSince1970: -0.0004), Date(timeIntervalSince1970: 951_782_400.9996),
                             Date(timeIntervalSince1970: -2_208_988_800), Date(timeIntervalSince1970: 253_402_300_799.999), Date()]
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2000 { dates.append(Date(timeIntervalSince1970: Double.random(in: -5_000_000_000...8_000_000_000, using: &generator))) }
        for date in dates {
            let milliseconds = Int64((date.timeIntervalSince1970 * 1000).rounded())
            let seconds = Int64((Double(milliseconds) / 1000).rounded(.down))
            let expected = Date.ISO8601FormatStyle().format(Date(timeIntervalSince1970: TimeInterval(seconds))).dropLast()
                + "." + String(format: "%03d", milliseconds - seconds * 1000) + "Z"
            #expect(Timestamp.format(date) == expected, "\(date.timeIntervalSince1970)")
            #expect(Timestamp.parse(Timestamp.format(date)).map { Int64(($0.timeIntervalSince1970 * 1000).rounded()) } == milliseconds)
        }
    }

    @Test func logLinesAreOneJSONObjectEach() throws {
        let line = JSONLogHandler.line(
            time: Date(timeIntervalSince1970: 1_795_000_000.123), level: .warning, label: "basket-service",
            message: "a \"quoted\"\nline\twith \u{1}\u{7F} and é",
            metadata: ["b": "2", "a": .array(["x", .dictionary(["k": "v"])]), "message": "not the message", "n": .stringConvertible(42)]
        )
        #expect(line.last == UInt8(ascii: "\n"))
        #expect(!line.dropLast().contains(UInt8(ascii: "\n")), "one line")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line)) as? [String: Any])
        #expect(object["time"] as? String == "2026-11-18T11:06:40.123Z")
        #expect(object["level"] as? String == "warning")
        #expect(object["logger"] as? String == "basket-service")
        #expect(object["message"] as? String == "a \"quoted\"\nline\twith \u{1}\u{7F} and é")
        #expect(object["b"] as? String == "2" && object["n"] as? String == "42")
        #expect(((object["a"] as? [Any])?[1] as? [String: String])?["k"] == "v")
        let text = String(decoding: line, as: UTF8.self)
        #expect(text.hasPrefix(#"{"time":"2026-11-18T11:06:40.123Z","level":"warning","logger":"basket-service","message":"#))
        #expect(text.range(of: #""a":"#)!.lowerBound < text.range(of: #""b":"#)!.lowerBound, "metadata in key order")
    }
}
