import FlyingFox
import Foundation
import ImgArchiveCore
import ImgArchiveFetch
import ImgArchiveStore
import Logging
import Synchronization
import Testing

@testable import ImgArchiveImage
@testable import ImgArchivePipeline

/// A second `ObjectStore`: today's local folders underneath, with faults on command and a count of the calls the
/// pipeline made. The pipeline runs on it unchanged, which is what shows the seam is real.
final class FaultyStore: ObjectStore {
    /// What to break.
    struct Faults: Sendable {
        /// `commitObject` fails as a full disk (ENOSPC).
        var diskFullOnCommit = false
        /// `makeDurable(object:)` fails (as an `fsync` EIO) for originals with these digests.
        var fsyncFails: Set<String> = []
    }

    private let base: ArchiveStore
    private let faults: Mutex<Faults>
    private let counts = Mutex<[String: Int]>([:])

    init(root: URL, durability: ArchiveStore.Durability, faults: Faults) throws {
        base = try ArchiveStore(root: root, durability: durability)
        self.faults = Mutex(faults)
    }

    /// How many times the pipeline called `name`.
    func calls(_ name: String) -> Int { counts.withLock { $0[name, default: 0] } }

    private func count(_ name: String) { counts.withLock { $0[name, default: 0] += 1 } }

    var temporaryDirectory: URL { base.temporaryDirectory }

    func makeTemporaryFileURL(suffix: String) -> URL { base.makeTemporaryFileURL(suffix: suffix) }

    func removeStaleTemporaryFiles(holding lock: ArchiveLock) throws(StoreError) -> Int {
        try base.removeStaleTemporaryFiles(holding: lock)
    }

    func commitObject(temporaryFile: URL, sha256: String, format: ImageFormat) throws(StoreError) -> String {
        count("commitObject")
        if faults.withLock({ $0.diskFullOnCommit }) {
            throw StoreError(
                code: .diskFull, path: temporaryFile.path, message: "no space left on device", cCode: ENOSPC)
        }
        return try base.commitObject(temporaryFile: temporaryFile, sha256: sha256, format: format)
    }

    func commitDerivative(temporaryFile: URL, to relativePath: String) throws(StoreError) {
        count("commitDerivative")
        try base.commitDerivative(temporaryFile: temporaryFile, to: relativePath)
    }

    func fileExists(_ relativePath: String) throws(StoreError) -> Bool { try base.fileExists(relativePath) }

    func fileForReading(_ relativePath: String) throws(StoreError) -> URL {
        count("fileForReading")
        return try base.fileForReading(relativePath)
    }

    func makeDurable(object relativePath: String) throws(StoreError) {
        count("makeDurable(object:)")
        let digest = String(relativePath.split(separator: "/").last?.prefix { $0 != "." } ?? "")
        if faults.withLock({ $0.fsyncFails.contains(digest) }) {
            throw StoreError(code: .io, path: relativePath, message: "fsync failed: input/output error", cCode: EIO)
        }
        try base.makeDurable(object: relativePath)
    }

    func makeDurable(objects relativePaths: [String], movedFrom folders: [String]) throws(StoreError) {
        count("makeDurable(objects:)")
        try base.makeDurable(objects: relativePaths, movedFrom: folders)
    }

    func verify(_ relativePath: String, sha256: String) throws(StoreError) -> ArchiveStore.HashCheck {
        try base.verify(relativePath, sha256: sha256)
    }

    func forEachArchivedFile(_ body: (String) throws(StoreError) -> Void) throws(StoreError) {
        try base.forEachArchivedFile(body)
    }

    func quarantine(_ relativePath: String, into folder: String) throws(StoreError) -> String? {
        try base.quarantine(relativePath, into: folder)
    }

    func removeUnrecorded(_ relativePath: String) throws(StoreError) {
        count("removeUnrecorded")
        try base.removeUnrecorded(relativePath)
    }
}

/// Collects every event a run publishes.
final class EventLog: FetchObserver {
    private let events = Mutex<[FetchEvent]>([])
    func observe(_ event: FetchEvent) { events.withLock { $0.append(event) } }
    var all: [FetchEvent] { events.withLock { $0 } }
}

/// A FlyingFox server on 127.0.0.1 (ephemeral port) serving fixed bodies; stopped and awaited by `stop`.
final class TestServer: Sendable {
    let server: HTTPServer
    let task: Task<Void, any Error>
    let port: UInt16

    private init(server: HTTPServer, task: Task<Void, any Error>, port: UInt16) {
        self.server = server
        self.task = task
        self.port = port
    }

    static func start(_ routes: [String: (type: String, body: [UInt8])]) async throws -> TestServer {
        let server = HTTPServer(address: try .inet(ip4: "127.0.0.1", port: 0), timeout: 30, logger: .disabled)
        let task = Task { try await server.run() }
        try await server.waitUntilListening()
        guard case .ip4(_, let port) = await server.listeningAddress else { throw POSIXError(.EADDRNOTAVAIL) }
        for (path, reply) in routes {
            await server.appendRoute(HTTPRoute(method: .GET, path: path)) { _ in
                var headers = HTTPHeaders()
                headers.addValue(reply.type, for: HTTPHeader("Content-Type"))
                return HTTPResponse(statusCode: .ok, headers: headers, body: Data(reply.body))
            }
        }
        return TestServer(server: server, task: task, port: port)
    }

    func url(_ path: String) -> String { "http://127.0.0.1:\(port)\(path)" }

    func stop() async {
        await server.stop()
        task.cancel()
        _ = await task.result
    }
}

/// A fresh archive folder, removed by `remove()`.
struct TemporaryArchive {
    let url: URL
    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("imgarchive-pipeline-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    func remove() { try? FileManager.default.removeItem(at: url) }
}

/// A real JPEG made with the project's encoder.
func fixtureJPEG(width: Int, height: Int, seed: Int) throws -> [UInt8] {
    var pixels = [UInt8](repeating: 0, count: width * height * 3)
    for i in pixels.indices { pixels[i] = UInt8((i * 7 + seed * 31 + i / (width * 3)) % 256) }
    let path = NSTemporaryDirectory() + "pipeline-fixture-\(UUID().uuidString).jpg"
    defer { try? FileManager.default.removeItem(atPath: path) }
    try JPEGEncoder.write(
        PixelBuffer(width: width, height: height, channels: 3, pixels: pixels), to: path, options: JPEGEncodeOptions())
    return [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
}

/// Fetch settings for a loopback server, on a store made by `store`.
func settings(_ archive: TemporaryArchive, store: ObjectStoreFactory, observers: [any FetchObserver] = [])
    -> FetchSettings
{
    let loopback = ["127.0.0.0/8"].compactMap { AddressAllowance($0) }
    var settings = FetchSettings(
        archiveRoot: archive.url,
        download: DownloadOptions(
            jobs: 4, retries: 0, connectTimeout: .seconds(5), totalTimeout: .seconds(20), allowAddresses: loopback))
    settings.objectStore = store
    settings.observers = observers
    return settings
}

let testLogger = Logger(label: "imgarchive.pipeline.tests")
