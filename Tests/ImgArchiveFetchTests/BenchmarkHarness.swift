import Foundation
import ImgArchiveFetch
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Not a test: a benchmark driver for `shared/bench/fetch.sh`, enabled only when
/// `IMGARCHIVE_FETCH_BENCH_LIST` names a URL list. It downloads every URL with `IMGARCHIVE_FETCH_BENCH_JOBS`
/// jobs (and as many per host) and renames each body to `IMGARCHIVE_FETCH_BENCH_OUT/<sha256>.<ext>`, as the
/// archive will; `IMGARCHIVE_FETCH_BENCH_WINDOW` caps the calls in flight. See docs/concurrency.md.
@Suite struct FetchBenchmark {
    static let environment = ProcessInfo.processInfo.environment

    @Test(.enabled(if: environment["IMGARCHIVE_FETCH_BENCH_LIST"] != nil))
    func downloadList() async throws {
        let list = try String(
            contentsOfFile: try #require(Self.environment["IMGARCHIVE_FETCH_BENCH_LIST"]), encoding: .utf8)
        let out = try #require(Self.environment["IMGARCHIVE_FETCH_BENCH_OUT"])
        let jobs = Int(Self.environment["IMGARCHIVE_FETCH_BENCH_JOBS"] ?? "") ?? 16
        // Calls in flight at once (default: every URL at once, queued inside the downloader).
        let window = Int(Self.environment["IMGARCHIVE_FETCH_BENCH_WINDOW"] ?? "") ?? Int.max
        let tmp = out + "/tmp"
        try FileManager.default.createDirectory(atPath: tmp, withIntermediateDirectories: true)
        let urls = list.split(whereSeparator: \.isNewline).map(String.init).filter { !$0.isEmpty }
        let options = DownloadOptions(jobs: jobs, perHost: jobs, allowAddresses: loopbackAllowance)
        let failures = try await Downloader.withDownloader(options: options, logger: testLogger) { downloader in
            await withTaskGroup(of: String?.self) { group in
                var failures: [String] = []
                var pending = 0
                for url in urls {
                    if pending == window, let failure = await group.next() {
                        pending -= 1
                        if let failure { failures.append(failure) }
                    }
                    pending += 1
                    group.addTask {
                        switch await downloader.download(DownloadRequest(url: url, temporaryDirectory: tmp)) {
                        case .success(let download):
                            guard let file = download.temporaryFile, let format = download.format else { return nil }
                            rename(file, "\(out)/\(download.sha256).\(format.fileExtension)")
                            return nil
                        case .failure(let error):
                            return error.description
                        }
                    }
                }
                for await failure in group { if let failure { failures.append(failure) } }
                return failures
            }
        }
        for failure in failures.prefix(5) { print("failed: \(failure)") }
        #expect(failures.isEmpty)
    }
}
