/// The `requires` literals of a rule table, searched for all at once: one pass over the URL's bytes sets one bit
/// per literal present, so a rule's prefilter is a mask test.
struct Triggers: Sendable {
    /// Distinct literals, at most 64 (one bit each).
    private let literals: [[UInt8]]
    /// For each byte value, the bits of the literals that start with it.
    private let byFirstByte: [UInt64]

    /// Indexes the distinct literals of `lists` (the first 64; `mask(of:)` is nil for a list with others).
    init(_ lists: [[[UInt8]]]) {
        var literals: [[UInt8]] = []
        for literal in lists.joined() where !literal.isEmpty && !literals.contains(literal) && literals.count < 64 {
            literals.append(literal)
        }
        var byFirstByte = [UInt64](repeating: 0, count: 256)
        for (bit, literal) in literals.enumerated() { byFirstByte[Int(literal[0])] |= 1 << UInt64(bit) }
        self.literals = literals
        self.byFirstByte = byFirstByte
    }

    /// The bits of `list`'s literals; nil when one of them is not indexed.
    func mask(of list: [[UInt8]]) -> UInt64? {
        var mask: UInt64 = 0
        for literal in list {
            guard let bit = literals.firstIndex(of: literal) else { return nil }
            mask |= 1 << UInt64(bit)
        }
        return mask
    }

    /// The bits of the literals `url` contains.
    func present(in url: String) -> UInt64 {
        guard !literals.isEmpty else { return 0 }
        var url = url
        return url.withUTF8 { bytes in
            var found: UInt64 = 0
            for start in bytes.indices {
                var candidates = byFirstByte[Int(bytes[start])] & ~found
                while candidates != 0 {
                    let bit = candidates.trailingZeroBitCount
                    candidates &= candidates - 1
                    let literal = literals[bit]
                    guard literal.count <= bytes.count - start else { continue }
                    var offset = 1
                    while offset < literal.count && bytes[start + offset] == literal[offset] { offset += 1 }
                    if offset == literal.count { found |= 1 << UInt64(bit) }
                }
            }
            return found
        }
    }
}
