import Foundation
import Testing

@testable import ImgArchiveStore

/// Throughput figures for the report, not assertions: run with `IMGARCHIVE_STORE_BENCH=1`.
@Suite(.enabled(if: ProcessInfo.processInfo.environment["IMGARCHIVE_STORE_BENCH"] != nil))
struct StoreBenchmark {
    @Test(arguments: [ArchiveStore.Durability.immediate, .deferred])
    func commitAndRecordOneThousandObjects(durability: ArchiveStore.Durability) async throws {
        let folder = try TemporaryFolder()
        let store = try ArchiveStore(root: folder.url, durability: durability)
        let manifest = try SQLiteManifest(layout: store.layout)
        let count = 1000
        var files: [(URL, String)] = []
        for n in 0..<count {
            let url = store.makeTemporaryFileURL()
            try jpegLikeBytes(seed: UInt64(n + 1), count: 4096).write(to: url)
            files.append((url, String(format: "%064x", n + 1)))
        }
        let clock = ContinuousClock()
        var paths: [String] = []
        let commit = try clock.measure {
            for (url, digest) in files {
                paths.append(try store.commitObject(temporaryFile: url, sha256: digest, format: .jpeg))
            }
            try store.synchronize()
        }
        let record = try await clock.measure {
            for (n, path) in paths.enumerated() {
                let url = "https://bench.example/\(n)"
                try await manifest.record(
                    .archived(
                        .init(
                            url: url, archivedFrom: url,
                            object: ObjectRecord(
                                sha256: String(format: "%064x", n + 1), format: .jpeg, bytes: 4100, path: path,
                                createdAt: Date()),
                            httpStatus: 200, etag: nil, lastModified: nil, attempts: 1, at: Date())))
            }
        }
        let batch = try await clock.measure {
            try await manifest.record(
                paths.enumerated().map { n, path in
                    .archived(
                        .init(
                            url: "https://batch.example/\(n)", archivedFrom: "https://batch.example/\(n)",
                            object: ObjectRecord(
                                sha256: String(format: "%064x", n + 1), format: .jpeg, bytes: 4100, path: path,
                                createdAt: Date()),
                            httpStatus: 200, etag: nil, lastModified: nil, attempts: 1, at: Date()))
                })
        }
        let candidates = (0..<5000).map { "https://bench.example/\($0)" }
        var planned = 0
        let plan = try await clock.measure {
            planned = try await manifest.urlsNeedingFetch(candidates: candidates, revalidation: .never).count
        }
        print(
            "store-bench \(durability): commitObject+synchronize x\(count): \(commit); recordFetchSuccess x\(count): \(record); "
                + "record(one batch of \(count)): \(batch); "
                + "urlsNeedingFetch(5000 candidates, \(planned) new): \(plan)")
        #expect(planned == 4000)
    }
}
