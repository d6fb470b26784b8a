internal import CDeflate
internal import CZlib
import Dispatch
import ImgArchiveCore
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A file of concatenated gzip members, written one member at a time (a `.warc.gz`: one member per record, so a
/// reader can seek to any record's offset and inflate it alone). Not thread-safe: one writer owns it.
///
/// Every byte goes through one buffer, written with `O_DIRECT` where the file system allows it: a WARC file is a
/// second copy of every archived image, written once and not read back by this run, and copying it into the page
/// cache was most of what `--warc` cost (docs/web-archives.md, "Cost"); written direct, the disk takes it from the
/// buffer. There are two buffers: one is filled while the other is written, on a queue of its own (a direct write
/// waits for the disk). A buffer is written when full, and on `writeOut`; `written` says how far the file holds
/// what was written to it (the WARC log names only records that end there). Direct writes cover whole 4 KiB blocks, so
/// `writeOut` writes the last, partial block padded with zeros, and again, fuller, later; `sync` cuts the padding
/// off. Where `O_DIRECT` is refused (tmpfs), the same buffer is written through the page cache.
///
/// A member at level 0 (an image's record: its bytes do not shrink) is framed here rather than by zlib: a gzip
/// header, the bytes in deflate's stored blocks (5 bytes of framing per 64 KiB), the trailer. zlib's level 0 copies
/// every byte through its window and checksums it with a CRC-32 several times slower than libdeflate's; framed here,
/// bytes are copied once, into the buffer they are written from.
final class GzipFile {
    let path: String
    /// Bytes written so far, counting those still in the buffer: the offset the next member starts at.
    var size: Int64 { bufferOffset + Int64(filled) }
    /// Bytes the file holds (a killed process leaves them): those of finished writes, all after `writeOut`.
    var written: Int64 { writes.state.withLock { $0.written } }
    private let fd: Int32
    private let writes: Writes
    /// Writes are `O_DIRECT`: whole aligned blocks from the aligned buffer.
    private var direct: Bool
    private var stream = z_stream()
    private var streamReady = false
    /// The two buffers, `alignment`-aligned, and the one being filled: file bytes from `bufferOffset` on, `filled`
    /// of them.
    private let buffers: [UnsafeMutablePointer<UInt8>]
    private var current = 0
    private var buffer: UnsafeMutablePointer<UInt8> { buffers[current] }
    private var bufferOffset: Int64 = 0
    private var filled = 0
    /// Where `read` reads files, `alignment`-aligned.
    private let readBuffer: UnsafeMutableRawPointer
    /// Where the member being written started.
    private var memberStart: Int64 = 0
    /// The member being written is framed here (level 0), not by zlib.
    private var stored = false
    /// A stored member's CRC-32 and length (mod 2^32) so far, for its trailer.
    private var storedCRC: UInt32 = 0
    private var storedLength: UInt32 = 0

    /// The longest stored block deflate allows, and one with its 5 bytes of framing.
    private static let storedBlock = 65535
    private static let framedBlock = 5 + storedBlock
    /// `O_DIRECT`'s unit: offsets, lengths and the buffer's address are multiples of it.
    private static let alignment = DirectIO.alignment
    /// 16 framed stored blocks, room for the partial block carried over, and a margin for framing.
    private static let capacity = 16 * framedBlock + 2 * alignment
    /// Bytes per read of a file copied in (`read`).
    private static let readCapacity = 1 << 20
    /// Page-cache writes start writeback every this many bytes, so the `sync` that finishes the file finds little
    /// left to write.
    static let writebackStep: Int64 = 8 << 20

    /// Creates the file (it must not exist).
    init(creating path: String) throws(WARCError) {
        self.path = path
        var fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | DirectIO.flag, 0o644)
        direct = fd >= 0
        if fd < 0, errno == EINVAL {
            // The file system refuses O_DIRECT, after creating the file.
            _ = unlink(path)
            fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        }
        guard fd >= 0 else { throw .system(path, "the WARC file could not be created") }
        self.fd = fd
        writes = Writes(fd: fd, path: path, direct: direct)
        buffers = (0..<2).map { _ in
            UnsafeMutableRawPointer.allocate(byteCount: Self.capacity, alignment: Self.alignment)
                .bindMemory(to: UInt8.self, capacity: Self.capacity)
        }
        readBuffer = UnsafeMutableRawPointer.allocate(byteCount: Self.readCapacity, alignment: Self.alignment)
        // windowBits 15 + 16: a gzip header and trailer around the deflate stream.
        guard CZlib_deflateInit2(&stream, 6, 15 + 16) == Z_OK else {
            close(fd)
            for buffer in buffers { buffer.deallocate() }
            readBuffer.deallocate()
            throw WARCError(path: path, message: "zlib could not be set up")
        }
        streamReady = true
    }

    deinit {
        writes.queue.sync {}  // a write still running reads a buffer and the descriptor
        if streamReady { deflateEnd(&stream) }
        for buffer in buffers { buffer.deallocate() }
        readBuffer.deallocate()
        close(fd)
    }

    /// Starts a member compressed at `level` (0 stores the bytes: images are compressed already).
    func beginMember(level: Int32) throws(WARCError) {
        memberStart = size
        stored = level == 0
        if stored {
            // ID1 ID2, CM deflate, no flags, no mtime, no extra flags, OS unknown (RFC 1952), as zlib writes it.
            try append([0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 0xFF])
            storedCRC = 0
            storedLength = 0
            return
        }
        guard deflateReset(&stream) == Z_OK, deflateParams(&stream, level, Z_DEFAULT_STRATEGY) == Z_OK else {
            throw WARCError(path: path, message: "zlib could not start a record")
        }
    }

    /// Compresses `bytes` into the member.
    func write(_ bytes: UnsafeRawBufferPointer) throws(WARCError) {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        if stored {
            var offset = 0
            while offset < bytes.count {
                let count = min(Self.storedBlock, bytes.count - offset)
                try makeRoom(5 + count)
                (buffer + filled + 5).update(from: base.assumingMemoryBound(to: UInt8.self) + offset, count: count)
                frameStoredBlock(at: filled, count: count)
                offset += count
            }
            return
        }
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

    /// Streams a file in chunks of `readCapacity` to `body`; returns its length. It reads into one buffer kept for
    /// every read (a fresh one per file was a page fault per 4 KiB read). A download's body whose blocks were not kept
    /// for its record (`WARCRecord.heldBody`) is in the page cache: the body writer writes it through it.
    func read(_ path: String, _ body: (UnsafeRawBufferPointer) throws(WARCError) -> Void) throws(WARCError) -> Int64 {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .system(path, "an archived file could not be opened for its WARC record") }
        defer { close(fd) }
        var total: Int64 = 0
        while true {
            let n = Glibc.read(fd, readBuffer, Self.readCapacity)
            if n < 0 {
                if errno == EINTR { continue }
                throw .system(path, "an archived file could not be read for its WARC record")
            }
            if n == 0 { return total }
            try body(UnsafeRawBufferPointer(start: readBuffer, count: n))
            total += Int64(n)
        }
    }

    /// Ends the member; returns its offset and compressed length.
    func endMember() throws(WARCError) -> (offset: Int64, length: Int64) {
        if stored {
            // The final block (empty), then CRC-32 and length, little-endian.
            try append([1, 0, 0, 0xFF, 0xFF])
            try append(withUnsafeBytes(of: storedCRC.littleEndian, Array.init))
            try append(withUnsafeBytes(of: storedLength.littleEndian, Array.init))
            stored = false
        } else {
            stream.avail_in = 0
            while try deflateStep(Z_FINISH) != Z_STREAM_END {}
        }
        return (memberStart, size - memberStart)
    }

    /// Writes everything in the buffer to the file (the last partial block padded with zeros: see the type's comment).
    func writeOut() throws(WARCError) {
        try flush(partial: true)
    }

    /// Cuts the padding after the last member off and flushes the file's data to stable storage.
    func sync() throws(WARCError) {
        try flush(partial: true)
        guard ftruncate(fd, off_t(size)) == 0 else { throw .system(path, "the WARC file could not be cut to size") }
        guard fsync(fd) == 0 else { throw .system(path, "the WARC file could not be synced") }
    }

    // MARK: The buffer

    /// Frames the `count` bytes after the 5 bytes at `buffer + start` (`start` is `filled`) as a stored block (not
    /// final), adds them to the member's CRC-32 and length, and counts them in.
    private func frameStoredBlock(at start: Int, count: Int) {
        let header = buffer + start
        header[0] = 0  // BFINAL 0, BTYPE 00 (stored); every block here starts on a byte boundary
        header[1] = UInt8(truncatingIfNeeded: count)
        header[2] = UInt8(truncatingIfNeeded: count >> 8)
        header[3] = ~header[1]
        header[4] = ~header[2]
        storedCRC = libdeflate_crc32(storedCRC, header + 5, count)
        storedLength &+= UInt32(truncatingIfNeeded: count)
        filled = start + 5 + count
    }

    /// Appends a few bytes of framing.
    private func append(_ bytes: [UInt8]) throws(WARCError) {
        try makeRoom(bytes.count)
        for byte in bytes {
            buffer[filled] = byte
            filled += 1
        }
    }

    private func makeRoom(_ count: Int) throws(WARCError) {
        if Self.capacity - filled < count { try flush() }
    }

    @discardableResult
    private func deflateStep(_ flush: Int32) throws(WARCError) -> Int32 {
        try makeRoom(Self.capacity / 4)
        stream.next_out = buffer + filled
        stream.avail_out = UInt32(Self.capacity - filled)
        let result = deflate(&stream, flush)
        guard result == Z_OK || result == Z_STREAM_END || result == Z_BUF_ERROR else {
            throw WARCError(path: path, message: "zlib failed (\(result))")
        }
        filled = Self.capacity - Int(stream.avail_out)
        return result
    }

    /// Hands the buffer's whole blocks to the write queue and goes on in the other buffer (once its write is done),
    /// the partial block carried over; with `partial`, waits for the writes, then writes that block too, padded with
    /// zeros (direct writes), without letting it go: the next write covers it again.
    private func flush(partial: Bool = false) throws(WARCError) {
        let whole = direct ? filled / Self.alignment * Self.alignment : filled
        if whole > 0 {
            try writes.wait()
            direct = writes.state.withLock { $0.direct }
            let next = buffers[1 - current]
            let rest = filled - whole
            if rest > 0 { next.update(from: buffer + whole, count: rest) }
            writes.start(buffer, count: whole, at: bufferOffset)
            current = 1 - current
            bufferOffset += Int64(whole)
            filled = rest
        }
        guard partial else { return }
        try writes.wait()
        if filled > 0 {
            let count = direct ? Self.alignment : filled
            if direct { (buffer + filled).initialize(repeating: 0, count: Self.alignment - filled) }
            if let failure = writes.write(buffer, count: count, at: bufferOffset) { throw failure }
        }
        let end = size
        writes.state.withLock { $0.written = end }
    }

    /// The file's writes, on a serial queue of their own, and what they left: the first failure, how far the file
    /// holds the bytes written, whether writes are still direct.
    private final class Writes: Sendable {
        let fd: Int32
        let path: String
        let queue = DispatchQueue(label: "imgarchive.warc.write")
        let state: Mutex<(failure: WARCError?, written: Int64, direct: Bool, writebackStart: Int64)>

        init(fd: Int32, path: String, direct: Bool) {
            self.fd = fd
            self.path = path
            state = Mutex((nil, 0, direct, 0))
        }

        /// A buffer handed to the queue (the caller does not touch it until `wait`).
        private struct Bytes: @unchecked Sendable {
            let base: UnsafeMutablePointer<UInt8>
        }

        /// Writes `count` bytes at `offset` on the queue; a failure is kept for `wait`.
        func start(_ bytes: UnsafeMutablePointer<UInt8>, count: Int, at offset: Int64) {
            let bytes = Bytes(base: bytes)
            queue.async { [self] in
                guard state.withLock({ $0.failure == nil }) else { return }
                let failure = write(bytes.base, count: count, at: offset)
                let end = offset + Int64(count)
                let writeback: Int64? = state.withLock { s in
                    s.failure = failure
                    guard failure == nil else { return nil }
                    s.written = max(s.written, end)
                    guard !s.direct, end - s.writebackStart >= GzipFile.writebackStep else { return nil }
                    defer { s.writebackStart = end }
                    return s.writebackStart
                }
                if let writeback { startWriteback(from: writeback, to: end) }
            }
        }

        /// Waits for the queued writes; throws the first that failed.
        func wait() throws(WARCError) {
            queue.sync {}
            if let failure = state.withLock({ $0.failure }) { throw failure }
        }

        /// Writes every byte now; nil, or why it failed.
        func write(_ bytes: UnsafeMutablePointer<UInt8>, count: Int, at offset: Int64) -> WARCError? {
            var done = 0
            while done < count {
                let n = pwrite(fd, bytes + done, count - done, off_t(offset) + off_t(done))
                if n < 0 {
                    if errno == EINTR { continue }
                    // A file system that opened the file direct but will not write it so: through the page cache.
                    if errno == EINVAL, state.withLock({ $0.direct }), DirectIO.leave(fd) {
                        state.withLock { $0.direct = false }
                        continue
                    }
                    return .system(path, "the WARC file could not be written")
                }
                // A direct write stops only at a whole block; a short one (a full disk) fails the next call.
                done += n
            }
            return nil
        }

        /// Page-cache writes only: starts writing a range to disk without waiting for it, so that the final `fsync`
        /// (which alone makes it durable) finds little left to write. On Linux, `DONTNEED` queues a range's dirty
        /// pages for writing (as the body writer does for downloads; the file is never read back here).
        private func startWriteback(from start: Int64, to end: Int64) {
            _ = posix_fadvise(fd, off_t(start), off_t(end - start), Int32(POSIX_FADV_DONTNEED))
        }
    }
}
