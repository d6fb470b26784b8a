/// Bytes held in memory in the blocks they arrived in, for one more reader: a downloaded body kept for its WARC
/// record, so the WARC writer copies it from memory instead of reading its file back (which would keep every body in
/// the page cache). The blocks belong to their owner's pool: `release` gives them back once the last reference
/// goes, whoever holds it then.
public final class HeldBytes: @unchecked Sendable {
    /// How many bytes, in all blocks.
    public let count: Int64
    // Immutable once made; the blocks are read only, and given back once.
    private let blocks: [(base: UnsafeMutableRawPointer, count: Int)]
    private let release: @Sendable ([UnsafeMutableRawPointer]) -> Void

    /// Holds `blocks` (each block's first `count` bytes, in order); `release` gets the blocks back.
    public init(
        blocks: [(base: UnsafeMutableRawPointer, count: Int)],
        release: @escaping @Sendable ([UnsafeMutableRawPointer]) -> Void
    ) {
        self.blocks = blocks
        self.release = release
        count = blocks.reduce(0) { $0 + Int64($1.count) }
    }

    deinit {
        release(blocks.map(\.base))
    }

    /// Calls `body` with each block's bytes, in order.
    public func forEachChunk<E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> Void) throws(E) {
        for block in blocks where block.count > 0 {
            try body(UnsafeRawBufferPointer(start: block.base, count: block.count))
        }
    }
}
