import Dispatch
import FlyingFox
import Foundation
import Synchronization
import Testing

@testable import ImgArchiveFetch

/// Holds up the body writer's lane for one directory's bodies until opened, and tells when it first did.
final class LaneGate: Sendable {
    let heldDirectory: String
    private let released = DispatchSemaphore(value: 0)
    private let state = Mutex<(entered: Bool, open: Bool, waiter: CheckedContinuation<Void, Never>?)>(
        (false, false, nil))

    init(holding directory: String) { heldDirectory = directory }

    /// Called on a lane before each block is stored: waits there while the gate is shut, for the held directory.
    func pass(_ directory: String) {
        guard directory == heldDirectory else { return }
        let shut = state.withLock { state in
            if !state.entered {
                state.entered = true
                state.waiter?.resume()
                state.waiter = nil
            }
            return !state.open
        }
        if shut {
            released.wait()
            released.signal()  // one lane waits at a time; once open, every later block passes
        }
    }

    /// Returns once a block of the held directory has reached its lane.
    func entered() async {
        await withCheckedContinuation { continuation in
            state.withLock { state in
                if state.entered { continuation.resume() } else { state.waiter = continuation }
            }
        }
    }

    var isOpen: Bool { state.withLock { $0.open } }

    func open() {
        state.withLock { $0.open = true }
        released.signal()
    }
}

/// The curl thread never waits for the body writer: a body whose lane is held up pauses its own transfer
/// (`CURL_WRITEFUNC_PAUSE`) and is resumed when the lane frees a block, while the other transfers go on.
@Suite struct LanePauseTests {
    @Test(.timeLimit(.minutes(1)))
    func aHeldLanePausesItsTransferWhileAnotherCompletes() async throws {
        // 3 MB is 12 blocks: more than the pool's 6 (2 jobs), so a curl thread that waited for a block would
        // freeze every transfer; paused, the slow body holds 3 blocks and the fast one finds a free one.
        let slow = jpegLikeBytes(count: 3_000_000, seed: 21)
        let fast = jpegLikeBytes(count: 100_000, seed: 22)
        let server = try await RouteServer.start { server in
            await server.appendRoute("GET /slow") { _ in response(200, ["Content-Type": "image/jpeg"], body: slow) }
            await server.appendRoute("GET /fast") { _ in response(200, ["Content-Type": "image/jpeg"], body: fast) }
        }
        try await serving(server) {
            let tmp = try makeTemporaryDirectory()
            defer { try? FileManager.default.removeItem(atPath: tmp) }
            let slowDirectory = tmp + "/slow"
            let fastDirectory = tmp + "/fast"
            for directory in [slowDirectory, fastDirectory] {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            }
            let gate = LaneGate(holding: slowDirectory)
            // Two lanes, so the fast body (second to start) is not behind the held one; no stall limit in play.
            let options = testOptions(jobs: 2, perHost: 2, retries: 0, stallSeconds: 30)
            try await Downloader.withDownloader(
                options: options, logger: testLogger, lanes: 2, laneGate: { gate.pass($0) }
            ) { downloader in
                async let slowResult = downloader.download(
                    DownloadRequest(url: server.url("/slow"), temporaryDirectory: slowDirectory))
                await gate.entered()
                // A bounded wait: were the curl thread stuck behind the held lane, the fast download could never
                // finish; after 30 s the gate opens, everything ends, and the check below fails instead of hanging.
                let watchdog = Task {
                    try await Task.sleep(for: .seconds(30))
                    gate.open()
                }
                defer { watchdog.cancel() }
                let done = try await downloader.download(
                    DownloadRequest(url: server.url("/fast"), temporaryDirectory: fastDirectory)
                ).get()
                #expect(!gate.isOpen, "the fast body completed while the slow one's lane was held")
                #expect(done.sha256 == sha256Hex(fast))
                #expect(fileBytes(done.temporaryFile ?? "") == fast)

                gate.open()
                let paused = try await slowResult.get()
                #expect(paused.byteCount == slow.count)
                #expect(paused.sha256 == sha256Hex(slow), "every chunk libcurl delivered again was taken once")
                #expect(fileBytes(paused.temporaryFile ?? "") == slow)
            }
        }
    }
}
