import CFileShim
import Foundation

/// glibc's malloc, set for a long run over a big site. Left as it is, its peak RSS grew with the site (from 5,000
/// to 50,000 posts: a first fetch 80 -> 119 MB, a rewrite 72 -> 84 MB) while the program's own data grew by a few
/// MB: what grew was what malloc kept.
/// - Arenas: each thread that finds the allocator busy gets an arena of its own (up to 8 a core), and each keeps
///   what it once held; a run's threads (Swift's pool, Dispatch's workers, GRDB's queues, the fsync threads) filled
///   several. Two are enough for 2 to 4 busy threads.
/// - The map threshold: a block from 128 KB up is mapped on its own and unmapped when freed, but glibc raises that
///   threshold to the size of any such block freed (up to 32 MB); from then on the big short-lived blocks (a chunk's
///   arrays, a growing set's old storage) are cut from the heaps, and the holes they leave are kept. Fixed at 128 KB,
///   they are given back.
/// Measured in docs/performance.md (session 11): the same CPU within the noise.
enum MallocTuning {
    /// The most arenas a run makes.
    static let arenas: Int32 = 2
    /// The size from which a block is mapped on its own (glibc's own starting value, kept from rising).
    static let mapThreshold: Int32 = 128 * 1024

    /// Applies both settings, each unless the environment chooses it (`MALLOC_ARENA_MAX`,
    /// `MALLOC_MMAP_THRESHOLD_`, or their names in `GLIBC_TUNABLES`, which glibc reads itself). Call before threads
    /// start.
    static func apply(_ environment: [String: String] = ProcessInfo.processInfo.environment) {
        let tunables = environment["GLIBC_TUNABLES"] ?? ""
        if (environment["MALLOC_ARENA_MAX"] ?? "").isEmpty, !tunables.contains("glibc.malloc.arena_max") {
            _ = CFileShim_limitMallocArenas(arenas)
        }
        if (environment["MALLOC_MMAP_THRESHOLD_"] ?? "").isEmpty, !tunables.contains("glibc.malloc.mmap_threshold") {
            _ = CFileShim_fixMallocMapThreshold(mapThreshold)
        }
    }
}
