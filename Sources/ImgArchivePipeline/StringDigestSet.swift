/// A set of strings that keeps 16 bytes per string, not the string: what a run that works a chunk of posts at a
/// time holds across chunks of a big site (the URLs it has fetched, the posts it has written). Each string is
/// kept as two 64-bit SipHash values under the process's random seed (`Hasher`, the string fed after a different
/// prefix for each half), so two strings take one entry only if both 64-bit halves collide: for n strings the
/// chance of any such pair is about n² / 2¹²⁹ (below 10⁻²⁶ for a million URLs), and the seed, new for each
/// process, is not known to whoever writes the posts.
public struct StringDigestSet: Sendable {
    private struct Digest: Hashable {
        var high: Int
        var low: Int
    }

    private var digests = Set<Digest>()

    public init() {}

    /// How many strings were added (strings whose digests are the same counted once: see above).
    public var count: Int { digests.count }

    private static func digest(_ string: String) -> Digest {
        var high = Hasher()
        high.combine(UInt8(1))
        high.combine(string)
        var low = Hasher()
        low.combine(UInt8(2))
        low.combine(string)
        return Digest(high: high.finalize(), low: low.finalize())
    }

    /// Adds `string`; true when it was not in the set.
    @discardableResult
    public mutating func insert(_ string: String) -> Bool {
        digests.insert(Self.digest(string)).inserted
    }

    /// Whether `string` was added (or one whose digest is the same: see above).
    public func contains(_ string: String) -> Bool {
        digests.contains(Self.digest(string))
    }
}
