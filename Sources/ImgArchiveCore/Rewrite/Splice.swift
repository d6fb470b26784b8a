/// One replacement of a byte range of a post.
public struct Splice: Sendable, Hashable {
    /// The bytes replaced, in the input.
    public var range: Range<Int>
    /// The bytes written instead.
    public var replacement: [UInt8]

    /// Creates a splice.
    public init(range: Range<Int>, replacement: [UInt8]) {
        self.range = range
        self.replacement = replacement
    }

    /// Applies splices to `bytes`. Returns the new bytes and, for each splice in the order given, the range its
    /// replacement occupies in them; nil when a range lies outside `bytes` or two ranges overlap.
    public static func apply(_ splices: [Splice], to bytes: [UInt8]) -> (bytes: [UInt8], ranges: [Range<Int>])? {
        let order = splices.indices.sorted { splices[$0].range.lowerBound < splices[$1].range.lowerBound }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + splices.reduce(0) { $0 + $1.replacement.count })
        var ranges = [Range<Int>](repeating: 0..<0, count: splices.count)
        var cursor = 0
        for i in order {
            let s = splices[i]
            guard s.range.lowerBound >= cursor, s.range.upperBound <= bytes.count else { return nil }
            out += bytes[cursor..<s.range.lowerBound]
            ranges[i] = out.count..<(out.count + s.replacement.count)
            out += s.replacement
            cursor = s.range.upperBound
        }
        out += bytes[cursor...]
        return (out, ranges)
    }
}

/// Finds `needle` in `haystack` at or after `from`; nil when absent. Linear in practice (the needles are
/// archive paths, which share no long prefix with the text around them).
func firstIndex(of needle: [UInt8], in haystack: [UInt8], from: Int) -> Int? {
    guard let first = needle.first, needle.count <= haystack.count else { return nil }
    var i = max(0, from)
    let last = haystack.count - needle.count
    while i <= last {
        if haystack[i] == first && haystack[i..<(i + needle.count)].elementsEqual(needle) { return i }
        i += 1
    }
    return nil
}
