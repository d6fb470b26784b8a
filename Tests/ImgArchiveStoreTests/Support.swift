import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A fresh folder under the system temporary folder, removed when the value goes away.
final class TemporaryFolder {
    let url: URL
    var path: String { url.path }

    init() throws {
        url = FileManager.default.temporaryDirectory
            .appendingPathComponent("imgarchive-store-tests-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: url) }
}

/// Deterministic pseudo-random bytes (xorshift), so tests need no fixture files.
func pseudoRandomBytes(count: Int, seed: UInt64) -> Data {
    var state = (seed &+ 1) &* 0x9E37_79B9_7F4A_7C15  // distinct seeds, never zero
    var bytes = [UInt8](repeating: 0, count: count)
    for index in bytes.indices {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        bytes[index] = UInt8(truncatingIfNeeded: state)
    }
    return Data(bytes)
}

/// A tiny but real JPEG header prefix: what the archive is given does not need to decode, only to be bytes.
func jpegLikeBytes(seed: UInt64, count: Int = 2048) -> Data {
    Data([0xFF, 0xD8, 0xFF, 0xE0]) + pseudoRandomBytes(count: count, seed: seed)
}

private let spawnLock = NSLock()

/// A child process started with `posix_spawn`, its standard input and output on close-on-exec pipes (so
/// children started by tests running in parallel never inherit each other's pipe ends).
struct Child {
    let pid: pid_t
    private(set) var input: Int32
    let output: Int32

    /// Starts `executable` with `arguments`.
    init(_ executable: String, _ arguments: [String]) throws {
        // pipe2 is not imported; pipe + FD_CLOEXEC under one lock shared by every spawn in these tests.
        spawnLock.lock()
        defer { spawnLock.unlock() }
        var inPipe: [Int32] = [0, 0]
        var outPipe: [Int32] = [0, 0]
        guard pipe(&inPipe) == 0, pipe(&outPipe) == 0 else { throw POSIXError(.EMFILE) }
        for fd in inPipe + outPipe { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, inPipe[0], 0)
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, executable, &actions, nil, argv, environ)
        close(inPipe[0])
        close(outPipe[1])
        guard result == 0 else {
            close(inPipe[1])
            close(outPipe[0])
            throw POSIXError(POSIXErrorCode(rawValue: result) ?? .EINVAL)
        }
        self.pid = pid
        input = inPipe[1]
        output = outPipe[0]
    }

    /// Writes text to the child's standard input.
    func write(_ text: String) {
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let written = bytes.withUnsafeBytes { Glibc.write(input, $0.baseAddress, $0.count) }
            if written <= 0 { return }
            bytes = bytes.dropFirst(written)
        }
    }

    /// Reads standard output until `marker` appears or the output ends.
    func read(until marker: String? = nil) -> String {
        var collected: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            if let marker, String(decoding: collected, as: UTF8.self).contains(marker) { break }
            let count = buffer.withUnsafeMutableBytes { Glibc.read(output, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            collected += buffer[0..<count]
        }
        return String(decoding: collected, as: UTF8.self)
    }

    /// Closes the child's standard input.
    mutating func closeInput() {
        if input >= 0 { close(input) }
        input = -1
    }

    /// Waits for the child; returns its exit code, or nil when a signal ended it (`signal` says which).
    @discardableResult
    mutating func wait() -> (exitCode: Int32?, signal: Int32?) {
        closeInput()
        defer { close(output) }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let signal = status & 0x7F
        return signal == 0 ? ((status >> 8) & 0xFF, nil) : (nil, signal)
    }
}

/// Runs a program to completion and returns its exit status and standard output.
@discardableResult
func run(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
    var child = try Child(executable, arguments)
    child.closeInput()
    let output = child.read()
    return (child.wait().exitCode ?? -1, output)
}

/// The SHA-256 of a file according to coreutils' `sha256sum`, an implementation independent of the one
/// under test.
func coreutilsSHA256(_ url: URL) throws -> String {
    let result = try run("/usr/bin/sha256sum", [url.path])
    return String(result.output.prefix(64))
}

/// Files (not folders) under a folder, as paths relative to it, sorted.
func regularFiles(under root: URL) -> [String] {
    guard let enumerator = FileManager.default.enumerator(atPath: root.path) else { return [] }
    var files: [String] = []
    while let relative = enumerator.nextObject() as? String {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(
            atPath: root.appendingPathComponent(relative).path, isDirectory: &isDirectory),
            !isDirectory.boolValue
        {
            files.append(relative)
        }
    }
    return files.sorted()
}

let hasSQLiteShell = FileManager.default.isExecutableFile(atPath: "/usr/bin/sqlite3")
let hasFlockTool = FileManager.default.isExecutableFile(atPath: "/usr/bin/flock")
