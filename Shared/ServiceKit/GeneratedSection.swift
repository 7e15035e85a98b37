extension String {
    /// This text with everything from the first `begin` through the next `end` (the markers included)
    /// replaced by `section`: how a generated part of a file (template, compose file, README) is
    /// rewritten. nil when a marker is missing.
    package func replacingSection(from begin: String, through end: String, with section: String) -> String? {
        guard let start = range(of: begin), let stop = range(of: end, range: start.upperBound..<endIndex) else { return nil }
        return replacingCharacters(in: start.lowerBound..<stop.upperBound, with: section)
    }
}
