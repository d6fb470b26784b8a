import CFileShim
import Foundation

/// glibc's malloc gives each thread that finds the allocator busy an arena of its own (up to 8 a core) and keeps
/// in each what it once held. A run's threads (Swift's cooperative pool, Dispatch's workers, GRDB's queues, the
/// fsync threads of each batch of posts) each fill and keep one: the peak RSS then grew with the site, by 10-15 MB
/// from 5,000 to 50,000 posts for a rewrite, against 6 MB of the program's own data. Two arenas keep it within a few
/// MB at no measured cost in CPU (a fetch of 16,100 URLs on 2 cores: the same user CPU within the noise; see
/// docs/performance.md, session 11).
enum MallocArenas {
    /// The most arenas a run makes.
    static let cap: Int32 = 2

    /// Caps glibc's arenas at `cap` unless the environment chooses their number (`MALLOC_ARENA_MAX`, or
    /// `glibc.malloc.arena_max` in `GLIBC_TUNABLES`, which glibc reads itself). Call before threads start.
    static func capUnlessChosen(_ environment: [String: String] = ProcessInfo.processInfo.environment) {
        guard (environment["MALLOC_ARENA_MAX"] ?? "").isEmpty,
            !(environment["GLIBC_TUNABLES"] ?? "").contains("glibc.malloc.arena_max")
        else { return }
        _ = CFileShim_limitMallocArenas(cap)
    }
}
