#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A set of strings that keeps about 16 bytes per string, not the string: what a run that works a chunk of posts
/// at a time holds across chunks of a big site (the URLs it has fetched, the posts it has written). Each string is
/// kept as two 64-bit SipHash values under the process's random seed (`Hasher`, the string fed after a different
/// prefix for each half), so two strings take one entry only if both 64-bit halves collide: for n strings the
/// chance of any such pair is about n² / 2¹²⁹ (below 10⁻²⁶ for a million URLs), and the seed, new for each
/// process, is not known to whoever writes the posts.
///
/// The digests are kept sorted in one block grown in place (`realloc`, which moves a big block's pages rather than
/// copying them), the newest few in a `Set` until they are an eighth as many and are merged in. A `Set` of them
/// had been 26 bytes a string, and 39 while it grew (its old and new tables at once): 6.3 MB at 161,000 URLs, the
/// part of a fetch's and a scan's peak that grew with the site.
public struct StringDigestSet: Sendable {
    fileprivate struct Digest: Hashable, Comparable {
        var high: UInt64
        var low: UInt64

        static func < (a: Digest, b: Digest) -> Bool { (a.high, a.low) < (b.high, b.low) }
    }

    private var recent = Set<Digest>()
    private var merged = SortedDigests()

    public init() {}

    /// How many strings were added (strings whose digests are the same counted once: see above).
    public var count: Int { merged.count + recent.count }

    private static func digest(_ string: String) -> Digest {
        var high = Hasher()
        high.combine(UInt8(1))
        high.combine(string)
        var low = Hasher()
        low.combine(UInt8(2))
        low.combine(string)
        return Digest(high: UInt64(bitPattern: Int64(high.finalize())), low: UInt64(bitPattern: Int64(low.finalize())))
    }

    /// Adds `string`; true when it was not in the set.
    @discardableResult
    public mutating func insert(_ string: String) -> Bool {
        let digest = Self.digest(string)
        guard !merged.contains(digest), recent.insert(digest).inserted else { return false }
        if recent.count >= Swift.max(1024, merged.count / 8) {
            if !isKnownUniquelyReferenced(&merged) { merged = merged.copy() }
            merged.merge(recent.sorted())
            recent.removeAll(keepingCapacity: true)
        }
        return true
    }

    /// Whether `string` was added (or one whose digest is the same: see above).
    public func contains(_ string: String) -> Bool {
        let digest = Self.digest(string)
        return recent.contains(digest) || merged.contains(digest)
    }
}

/// Sorted digests in one `malloc` block. Changed only by a `StringDigestSet` that holds it alone (it copies it
/// first otherwise), so it may be sent as a value is.
private final class SortedDigests: @unchecked Sendable {
    private(set) var count = 0
    private var digests: UnsafeMutablePointer<StringDigestSet.Digest>?

    deinit { free(digests) }

    func contains(_ digest: StringDigestSet.Digest) -> Bool {
        guard let digests else { return false }
        var (low, high) = (0, count)
        while low < high {
            let middle = (low + high) / 2
            if digests[middle] < digest { low = middle + 1 } else { high = middle }
        }
        return low < count && digests[low] == digest
    }

    /// Merges `new` (sorted, none of them here) in: the block grows in place and is filled from its end.
    func merge(_ new: [StringDigestSet.Digest]) {
        guard !new.isEmpty else { return }  // `realloc` to 0 bytes may free the block
        let total = count + new.count
        let stride = MemoryLayout<StringDigestSet.Digest>.stride
        guard let grown = realloc(digests, total * stride) else {
            preconditionFailure("out of memory for \(total) digests")
        }
        let block = grown.bindMemory(to: StringDigestSet.Digest.self, capacity: total)
        var (i, j, k) = (count - 1, new.count - 1, total - 1)
        while j >= 0 {
            if i >= 0 && new[j] < block[i] {
                (block + k).initialize(to: block[i])
                i -= 1
            } else {
                (block + k).initialize(to: new[j])
                j -= 1
            }
            k -= 1
        }
        (digests, count) = (block, total)
    }

    func copy() -> SortedDigests {
        let copy = SortedDigests()
        copy.merge(Array(UnsafeBufferPointer(start: digests, count: count)))
        return copy
    }
}
