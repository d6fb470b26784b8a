import FlyingFox
import Foundation
import Synchronization
import Testing

@testable import ImgArchiveImage

/// The built `imgarchive` binary, beside the test bundle (`swift build --build-tests` builds both).
let imgarchiveBinary: String = {
    let dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    return dir.appendingPathComponent("imgarchive").path
}()

/// What a run of the binary did.
struct RunResult: Sendable {
    var status: Int32
    var stdout: String
    var stderr: String
    /// stdout's JSON lines.
    var jsonLines: [[String: Any]] {
        stdout.split(separator: "\n").compactMap {
            (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any]
        }
    }
}

/// Runs the binary in `directory` and waits for it (at most `timeout` seconds, then it is killed). The wait
/// happens on a Dispatch thread, never on the cooperative pool, so servers in this process keep answering.
/// A `fetch` or `archive` run asks no web archive (rescue is on by default, and the tests stay on loopback) unless
/// it says `--rescue` or names a `--timegate`.
func runImgarchive(_ arguments: [String], in directory: String, timeout: TimeInterval = 120) async throws -> RunResult {
    let arguments = onLoopback(arguments)
    return try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async {
            continuation.resume(with: Result { try runImgarchiveBlocking(arguments, in: directory, timeout: timeout) })
        }
    }
}

/// `arguments` with `--no-rescue` added to a `fetch` or `archive` that does not choose: rescue is on by default,
/// and the tests stay on loopback.
private func onLoopback(_ arguments: [String]) -> [String] {
    var arguments = arguments
    if ["fetch", "archive"].contains(arguments.first),
        !arguments.contains(where: { $0 == "--rescue" || $0 == "--no-rescue" || $0.hasPrefix("--timegate") })
    {
        arguments.insert("--no-rescue", at: 1)
    }
    return arguments
}

/// Starts the binary in `directory` with its output thrown away and returns at once: for a test that kills it
/// or waits for it itself. `environment` is added to this process's.
func launchImgarchive(_ arguments: [String], in directory: String, environment: [String: String] = [:]) throws
    -> Process
{
    let process = Process()
    process.executableURL = URL(fileURLWithPath: imgarchiveBinary)
    process.arguments = onLoopback(arguments)
    process.currentDirectoryURL = URL(fileURLWithPath: directory)
    if !environment.isEmpty {
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    }
    process.standardInput = FileHandle.nullDevice
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    return process
}

private func runImgarchiveBlocking(_ arguments: [String], in directory: String, timeout: TimeInterval) throws
    -> RunResult
{
    let process = Process()
    process.executableURL = URL(fileURLWithPath: imgarchiveBinary)
    process.arguments = arguments
    process.currentDirectoryURL = URL(fileURLWithPath: directory)
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = FileHandle.nullDevice
    try process.run()
    final class Sink: @unchecked Sendable {
        var data = Data()
    }
    let outSink = Sink()
    let errSink = Sink()
    let group = DispatchGroup()
    for (pipe, sink) in [(out, outSink), (err, errSink)] {
        group.enter()
        DispatchQueue.global().async {
            sink.data = pipe.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
    }
    let deadline = Date().addingTimeInterval(timeout)
    while process.isRunning && Date() < deadline { usleep(20_000) }
    if process.isRunning { process.terminate() }
    process.waitUntilExit()
    group.wait()
    return RunResult(
        status: process.terminationStatus, stdout: String(decoding: outSink.data, as: UTF8.self),
        stderr: String(decoding: errSink.data, as: UTF8.self))
}

/// A fresh temporary folder, removed by `remove()`.
struct TemporaryFolder {
    let path: String
    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("imgarchive-e2e-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    func write(_ relative: String, _ text: String) throws {
        let url = URL(fileURLWithPath: path).appendingPathComponent(relative)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: url)
    }
    func files(under relative: String) -> [String] {
        let base = path + "/" + relative
        guard let e = FileManager.default.enumerator(atPath: base) else { return [] }
        return e.compactMap { $0 as? String }.filter { !isDirectory(base + "/" + $0) }.sorted()
    }
    private func isDirectory(_ p: String) -> Bool {
        var d: ObjCBool = false
        return FileManager.default.fileExists(atPath: p, isDirectory: &d) && d.boolValue
    }
    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// Real JPEG and PNG bytes made with the project's own encoders (libjpeg-turbo, libpng): a smooth photo-like
/// gradient with some texture.
enum FixtureImages {
    static func pixels(width: Int, height: Int, channels: Int, seed: Int) -> PixelBuffer {
        var px = [UInt8](repeating: 0, count: width * height * channels)
        for y in 0..<height {
            for x in 0..<width {
                for c in 0..<channels {
                    let v = (x * (c + 1) * 255 / width + y * 255 / height + seed * 37 + ((x * 7 + y * 13) % 11)) % 256
                    px[(y * width + x) * channels + c] = UInt8(v)
                }
            }
        }
        return PixelBuffer(width: width, height: height, channels: channels, pixels: px)
    }

    static func jpeg(width: Int, height: Int, seed: Int = 0, progressive: Bool = false) throws -> [UInt8] {
        let path = NSTemporaryDirectory() + "fixture-\(UUID().uuidString).jpg"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try JPEGEncoder.write(
            pixels(width: width, height: height, channels: 3, seed: seed), to: path,
            options: JPEGEncodeOptions(progressive: progressive))
        return [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    static func png(width: Int, height: Int, seed: Int = 0) throws -> [UInt8] {
        let path = NSTemporaryDirectory() + "fixture-\(UUID().uuidString).png"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try PNGEncoder.write(pixels(width: width, height: height, channels: 4, seed: seed), to: path)
        return [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    }
}

/// A FlyingFox server on 127.0.0.1 (ephemeral port) that counts requests per path.
final class ImageServer: Sendable {
    let server: HTTPServer
    let task: Task<Void, any Error>
    let port: UInt16
    private let hits = Mutex<[String: Int]>([:])

    private init(server: HTTPServer, task: Task<Void, any Error>, port: UInt16) {
        self.server = server
        self.task = task
        self.port = port
    }

    static func start(_ routes: [String: @Sendable (HTTPRequest) async -> HTTPResponse]) async throws -> ImageServer {
        let server = HTTPServer(address: try .inet(ip4: "127.0.0.1", port: 0), timeout: 30, logger: .disabled)
        let task = Task { try await server.run() }
        try await server.waitUntilListening()
        guard case .ip4(_, let port) = await server.listeningAddress else { throw POSIXError(.EADDRNOTAVAIL) }
        let s = ImageServer(server: server, task: task, port: port)
        for (path, handler) in routes {
            await server.appendRoute(HTTPRoute(method: .GET, path: path)) { [s] request in
                s.hits.withLock { $0[request.path, default: 0] += 1 }
                return await handler(request)
            }
        }
        return s
    }

    func hitCount(_ path: String) -> Int { hits.withLock { $0[path, default: 0] } }
    var totalHits: Int { hits.withLock { $0.values.reduce(0, +) } }

    /// `--connect-to` for a host on port 80 to this server.
    func connectTo(_ host: String) -> String { "\(host):80:127.0.0.1:\(port)" }

    func stop() async {
        await server.stop()
        task.cancel()
        _ = await task.result
    }
}

extension ImageServer: Stoppable {}

func reply(_ code: Int, _ headers: [String: String] = [:], _ body: [UInt8] = []) -> HTTPResponse {
    var fields = HTTPHeaders()
    for (name, value) in headers { fields.addValue(value, for: HTTPHeader(name)) }
    return HTTPResponse(statusCode: HTTPStatusCode(code, phrase: "Status \(code)"), headers: fields, body: Data(body))
}

/// A test server that can be stopped.
protocol Stoppable {
    /// Stops the server and returns once it has stopped.
    func stop() async
}

/// Runs `body` while `server` serves, then stops the server and waits until it has stopped, whether `body`
/// returned or threw (a `defer { Task { await server.stop() } }` would neither wait nor keep the next test clear).
func serving<T>(_ server: some Stoppable, _ body: () async throws -> T) async throws -> T {
    let result: T
    do {
        result = try await body()
    } catch {
        await server.stop()
        throw error
    }
    await server.stop()
    return result
}
