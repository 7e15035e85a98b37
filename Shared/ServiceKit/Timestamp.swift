import Foundation

/// ISO 8601 times with milliseconds and `Z`, as EventBridge writes them; fractional seconds optional on input.
package enum Timestamp {
    /// Rounds to the nearest millisecond (the formatter alone truncates, so a parsed time could
    /// print one millisecond early).
    /// Computed with integers (days to civil date, H. Hinnant's algorithm): every log line and
    /// event carries one, and a format style costs microseconds each.
    package static func format(_ date: Date) -> String {
        let milliseconds = Int64((date.timeIntervalSince1970 * 1000).rounded())
        let seconds = floorDivide(milliseconds, 1000)
        let fraction = milliseconds - seconds * 1000
        let days = floorDivide(seconds, 86_400)
        let secondOfDay = seconds - days * 86_400
        let z = days + 719_468
        let era = floorDivide(z, 146_097)
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
        let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        guard (0...9999).contains(year) else {
            let whole = Date.ISO8601FormatStyle().format(Date(timeIntervalSince1970: TimeInterval(seconds)))
            return whole.dropLast() + "." + String(format: "%03d", fraction) + "Z"
        }
        var text = [UInt8](repeating: 0, count: 24)
        func put(_ value: Int64, _ width: Int, at offset: Int) {
            var value = value
            for index in stride(from: offset + width - 1, through: offset, by: -1) {
                text[index] = UInt8(truncatingIfNeeded: 48 + value % 10)
                value /= 10
            }
        }
        put(year, 4, at: 0); text[4] = 45
        put(month, 2, at: 5); text[7] = 45
        put(day, 2, at: 8); text[10] = 84
        put(secondOfDay / 3600, 2, at: 11); text[13] = 58
        put(secondOfDay / 60 % 60, 2, at: 14); text[16] = 58
        put(secondOfDay % 60, 2, at: 17); text[19] = 46
        put(fraction, 3, at: 20); text[23] = 90
        return String(decoding: text, as: UTF8.self)
    }

    static func floorDivide(_ a: Int64, _ b: Int64) -> Int64 {
        a >= 0 ? a / b : -((-a + b - 1) / b)
    }

    package static func parse(_ string: String) -> Date? {
        if let date = try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(string) { return date }
        if let date = try? Date.ISO8601FormatStyle().parse(string) { return date }
        // Other writers (Python's `isoformat`, as in moto's Step Functions): microseconds and `+00:00`.
        var normalised = string
        if normalised.hasSuffix("+00:00") { normalised = String(normalised.dropLast(6)) + "Z" }
        if let dot = normalised.firstIndex(of: "."), let zone = normalised[dot...].firstIndex(where: { !$0.isNumber && $0 != "." }) {
            let digits = normalised[normalised.index(after: dot)..<zone]
            if digits.count > 3 { normalised = String(normalised[..<dot]) + "." + digits.prefix(3) + normalised[zone...] }
        }
        guard normalised != string else { return nil }
        return try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(normalised)
    }

    /// Now, rounded to whole milliseconds, so a time survives a trip through JSON unchanged.
    package static func now() -> Date {
        Date(timeIntervalSince1970: (Date().timeIntervalSince1970 * 1000).rounded() / 1000)
    }

    package static let encodingStrategy: JSONEncoder.DateEncodingStrategy = .custom { date, encoder in
        var container = encoder.singleValueContainer()
        try container.encode(format(date))
    }

    package static let decodingStrategy: JSONDecoder.DateDecodingStrategy = .custom { decoder in
        let container = try decoder.singleValueContainer()
        let string = try container.decode(String.self)
        guard let date = parse(string) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "not an ISO 8601 time: \(string)")
        }
        return date
    }
}
