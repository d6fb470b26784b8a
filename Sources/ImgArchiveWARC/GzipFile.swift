internal import CZlib

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A file of concatenated gzip members, written one member at a time (a `.warc.gz`: one member per record, so a
/// reader can seek to any record's offset and inflate it alone). Not thread-safe: one writer owns it.
final class GzipFile {
    let path: String
    /// Bytes written to the file so far: the offset the next member starts at.
    private(set) var size: Int64 = 0
    private let fd: Int32
    private var stream = z_stream()
    private var streamReady = false
    private let output: UnsafeMutablePointer<UInt8>
    private static let outputSize = 256 * 1024
    /// Where the member being written started.
    private var memberStart: Int64 = 0
    /// The end of the bytes already handed to writeback (`startWriteback`).
    private var writebackStart: Int64 = 0
    /// Writeback is started every this many bytes, so the `sync` that finishes the file finds little left to write.
    static let writebackStep: Int64 = 8 << 20

    /// Creates the file (it must not exist).
    init(creating path: String) throws(WARCError) {
        self.path = path
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .system(path, "the WARC file could not be created") }
        output = .allocate(capacity: Self.outputSize)
        // windowBits 15 + 16: a gzip header and trailer around the deflate stream.
        guard CZlib_deflateInit2(&stream, 6, 15 + 16) == Z_OK else {
            close(fd)
            output.deallocate()
            throw WARCError(path: path, message: "zlib could not be set up")
        }
        streamReady = true
    }

    deinit {
        if streamReady { deflateEnd(&stream) }
        output.deallocate()
        close(fd)
    }

    /// Starts a member compressed at `level` (0 stores the bytes: images are compressed already).
    func beginMember(level: Int32) throws(WARCError) {
        guard deflateReset(&stream) == Z_OK, deflateParams(&stream, level, Z_DEFAULT_STRATEGY) == Z_OK else {
            throw WARCError(path: path, message: "zlib could not start a record")
        }
        memberStart = size
    }

    /// Compresses `bytes` into the member.
    func write(_ bytes: UnsafeRawBufferPointer) throws(WARCError) {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        stream.next_in = UnsafeMutablePointer(mutating: base.assumingMemoryBound(to: UInt8.self))
        stream.avail_in = UInt32(bytes.count)
        while stream.avail_in > 0 { try deflateStep(Z_NO_FLUSH) }
        stream.next_in = nil
    }

    func write(_ bytes: [UInt8]) throws(WARCError) {
        var failure: WARCError?
        bytes.withUnsafeBytes { buffer in
            do throws(WARCError) { try write(buffer) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    /// Ends the member; returns its offset and compressed length.
    func endMember() throws(WARCError) -> (offset: Int64, length: Int64) {
        stream.avail_in = 0
        while try deflateStep(Z_FINISH) != Z_STREAM_END {}
        return (memberStart, size - memberStart)
    }

    /// Flushes the file's data to stable storage.
    func sync() throws(WARCError) {
        guard fsync(fd) == 0 else { throw .system(path, "the WARC file could not be synced") }
    }

    @discardableResult
    private func deflateStep(_ flush: Int32) throws(WARCError) -> Int32 {
        stream.next_out = output
        stream.avail_out = UInt32(Self.outputSize)
        let result = deflate(&stream, flush)
        guard result == Z_OK || result == Z_STREAM_END || result == Z_BUF_ERROR else {
            throw WARCError(path: path, message: "zlib failed (\(result))")
        }
        try writeAll(output, count: Self.outputSize - Int(stream.avail_out))
        return result
    }

    private func writeAll(_ bytes: UnsafeMutablePointer<UInt8>, count: Int) throws(WARCError) {
        var done = 0
        while done < count {
            let n = systemWrite(fd, bytes + done, count - done)
            if n < 0 {
                if errno == EINTR { continue }
                throw .system(path, "the WARC file could not be written")
            }
            done += n
        }
        size += Int64(count)
        if size - writebackStart >= Self.writebackStep { startWriteback() }
    }

    /// Starts writing the bytes written since the last call to disk, without waiting for them: spread over the run,
    /// the final `fsync` (which alone makes them durable) finds little left to write. On Linux, `DONTNEED` queues a
    /// range's dirty pages for writing (as the body writer does for downloads; the file is never read back here).
    private func startWriteback() {
        _ = posix_fadvise(fd, off_t(writebackStart), off_t(size - writebackStart), Int32(POSIX_FADV_DONTNEED))
        writebackStart = size
    }
}

/// `write(2)`, named apart from `GzipFile.write`.
private func systemWrite(_ fd: Int32, _ bytes: UnsafeMutablePointer<UInt8>, _ count: Int) -> Int {
    write(fd, bytes, count)
}
