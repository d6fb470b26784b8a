#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Writes that skip the page cache (`O_DIRECT`), for bytes not read back soon: a download's body bigger than the
/// body writer's first block (unless a WARC record will read it from its file: `HeldBytes`), and a WARC file. Each such write is DMA from the
/// caller's buffer, where a page-cache write copies every byte into freshly allocated pages; on a virtual machine
/// whose host takes back freed memory (free page reporting), each fresh page is also a fault in the host, which made
/// that copy most of a fetch's CPU (docs/performance.md). Where the file system refuses `O_DIRECT`, callers fall
/// back to the page cache.
public enum DirectIO {
    /// `O_DIRECT`, which Swift's Glibc module leaves out (glibc defines it only under `_GNU_SOURCE`): Linux's value
    /// for each architecture.
    #if os(Linux)
        #if arch(arm64) || arch(arm)
            public static let flag: Int32 = 0o200000
        #elseif arch(powerpc64) || arch(powerpc64le)
            public static let flag: Int32 = 0o400000
        #else
            public static let flag: Int32 = 0o40000
        #endif
    #else
        public static let flag: Int32 = 0
    #endif

    /// The unit of direct I/O: offsets, lengths and buffer addresses are multiples of it (a file system block; a
    /// disk's logical block is at most this).
    public static let alignment = 4096

    /// Turns direct I/O off for `fd` (the next reads or writes go through the page cache); false when it cannot.
    public static func leave(_ fd: Int32) -> Bool {
        let flags = fcntl(fd, F_GETFL)
        return flags >= 0 && fcntl(fd, F_SETFL, flags & ~flag) == 0
    }
}
