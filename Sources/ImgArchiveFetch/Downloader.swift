public import Logging

/// Downloads images with libcurl's multi interface: one multi handle driven by one dedicated thread,
/// many concurrent `download` calls queued to it. Create one with `withDownloader`.
public final class Downloader: Sendable {
    private let engine: Engine

    private init(engine: Engine) {
        self.engine = engine
    }

    /// Runs `body` with a downloader, then stops its thread and frees every libcurl handle (downloads
    /// still running then fail as `cancelled`). Throws a `FetchError` when libcurl cannot be set up.
    public static func withDownloader<R: Sendable>(
        options: DownloadOptions = DownloadOptions(),
        logger: Logger,
        isolation: isolated (any Actor)? = #isolation,
        _ body: (Downloader) async throws -> R
    ) async throws -> R {
        try await withDownloader(options: options, logger: logger, lanes: nil, laneGate: nil, body)
    }

    /// `withDownloader` with the body writer's lanes set and held up as a test asks (`Engine.init`).
    static func withDownloader<R: Sendable>(
        options: DownloadOptions, logger: Logger, lanes: Int?, laneGate: (@Sendable (String) -> Void)?,
        isolation: isolated (any Actor)? = #isolation,
        _ body: (Downloader) async throws -> R
    ) async throws -> R {
        let engine = try Engine(options: options, logger: logger, lanes: lanes, laneGate: laneGate)
        engine.start()
        let downloader = Downloader(engine: engine)
        do {
            let result = try await body(downloader)
            await engine.shutdown()
            return result
        } catch {
            await engine.shutdown()
            throw error
        }
    }

    /// `scheme://host:port` of a URL: the unit the per-host limit counts (`--per-host`).
    public static func hostKey(_ url: String) -> String { Job.hostKey(url) }

    /// Fetches one URL: the image in a temporary file, a 304, or a classified failure. Retries, backoff and
    /// the Referer ladder happen inside; cancelling the calling task cancels the download.
    public func download(_ request: DownloadRequest) async -> Result<Download, FetchError> {
        let id = engine.makeID()
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                engine.submit(Submission(id: id, request: request, continuation: continuation))
            }
        } onCancel: {
            engine.cancel(id)
        }
    }
}
