#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A list of strings kept as their UTF-8 bytes one after another, 8 bytes of offsets each: what a run holds of a
/// list of names it takes a chunk at a time (50,000 post names are 1.9 MB here, 4 MB as `String`s), and what the
/// site's walk makes without a `String` per name (`SiteWalker`).
public struct PackedStrings: RandomAccessCollection, Sendable {
    /// Where a string's bytes are: sorting the list moves these, not the bytes.
    private struct Span {
        var start: UInt32
        var end: UInt32
    }

    private var bytes: [UInt8] = []
    private var spans: [Span] = []

    /// An empty list.
    public init() {}

    /// Packs `strings`, in their order.
    public init(_ strings: some Sequence<String>) {
        for string in strings { append(string) }
    }

    /// Adds `string` at the end.
    public mutating func append(_ string: String) {
        append(string.utf8, EmptyCollection())
    }

    /// Adds the string made of `head`'s bytes then `tail`'s at the end (a folder's path and a name in it). The
    /// caller checks they are UTF-8: the subscript would give invalid bytes back repaired.
    mutating func append(_ head: some Collection<UInt8>, _ tail: some Collection<UInt8>) {
        let start = UInt32(bytes.count)
        bytes.append(contentsOf: head)
        bytes.append(contentsOf: tail)
        spans.append(Span(start: start, end: UInt32(bytes.count)))
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { spans.count }

    public subscript(index: Int) -> String {
        String(decoding: bytes[Int(spans[index].start)..<Int(spans[index].end)], as: UTF8.self)
    }

    /// Whether the strings are in the order of their bytes (`sortByBytes`).
    var isSortedByBytes: Bool {
        bytes.withUnsafeBufferPointer { b in
            (1..<Swift.max(spans.count, 1)).allSatisfy { Self.compare(b, spans[$0 - 1], spans[$0]) <= 0 }
        }
    }

    /// Puts the strings in the order of their UTF-8 bytes (`sort` in the C locale): the order of their Unicode
    /// scalars, which is `String`'s order for names in normalization form C (what Linux's file systems are given by
    /// nearly every program), without making a `String` of each. The bytes stay where they are.
    mutating func sortByBytes() {
        guard !isSortedByBytes else { return }
        let bytes = self.bytes
        bytes.withUnsafeBufferPointer { b in spans.sort { Self.compare(b, $0, $1) < 0 } }
    }

    /// `memcmp` order of the strings at `a` and `b`, the shorter first when one starts the other.
    private static func compare(_ bytes: UnsafeBufferPointer<UInt8>, _ a: Span, _ b: Span) -> Int {
        let (na, nb) = (Int(a.end - a.start), Int(b.end - b.start))
        guard let base = bytes.baseAddress else { return na - nb }
        let order = memcmp(base + Int(a.start), base + Int(b.start), Swift.min(na, nb))
        return order != 0 ? Int(order) : na - nb
    }
}
