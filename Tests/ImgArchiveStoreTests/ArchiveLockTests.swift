import Foundation
import Testing

@testable import ImgArchiveStore

#if canImport(Glibc)
    import Glibc
#endif

@Suite struct ArchiveLockTests {
    @Test func theLockIsExclusiveAcrossOpenFileDescriptionsAndReleased() throws {
        let folder = try TemporaryFolder()
        let first = try ArchiveLock.acquire(folder.url)
        #expect(first.isHeld)

        do {
            _ = try ArchiveLock.acquire(folder.url)
            Issue.record("a second lock was granted while the first was held")
        } catch {
            #expect(error.code == .locked)
            let lockPath = folder.url.appendingPathComponent("lock").standardizedFileURL.path
            #expect(error.message == "another imgarchive run holds \(lockPath); try again later")
        }

        first.release()
        #expect(!first.isHeld)
        first.release()  // idempotent
        let second = try ArchiveLock.acquire(folder.url)
        #expect(second.isHeld)
    }

    @Test func deinitReleasesTheLock() throws {
        let folder = try TemporaryFolder()
        do {
            let scoped = try ArchiveLock.acquire(folder.url)
            #expect(scoped.isHeld)
        }
        let again = try ArchiveLock.acquire(folder.url)
        #expect(again.isHeld)
    }

    @Test(.enabled(if: hasFlockTool)) func anotherProcessSeesTheLock() throws {
        let folder = try TemporaryFolder()
        let lockPath = folder.url.appendingPathComponent("lock").path
        let lock = try ArchiveLock.acquire(folder.url)
        #expect(try run("/usr/bin/flock", ["-n", lockPath, "true"]).status == 1)
        lock.release()
        #expect(try run("/usr/bin/flock", ["-n", lockPath, "true"]).status == 0)
    }

    @Test(.enabled(if: hasFlockTool)) func aLockHeldByAnotherProcessIsRefusedAndFreedWhenItIsKilled() throws {
        let folder = try TemporaryFolder()
        let lockPath = folder.url.appendingPathComponent("lock").path
        // -o: only flock itself holds the lock (not the shell it runs), so killing flock must free it.
        var child = try Child("/usr/bin/flock", ["-n", "-o", lockPath, "-c", "echo held; exec cat"])
        // The child says "held" only once it owns the lock; the read blocks until then.
        #expect(child.read(until: "\n") == "held\n")

        #expect(throws: StoreError.self) { try ArchiveLock.acquire(folder.url) }

        kill(child.pid, SIGKILL)
        let ended = child.wait()  // also closes `cat`'s input, so the orphaned `cat` finishes
        #expect(ended.signal == SIGKILL)
        let lock = try ArchiveLock.acquire(folder.url)
        #expect(lock.isHeld)
    }
}
