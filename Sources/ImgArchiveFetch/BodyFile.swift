import Crypto
import Dispatch
import ImgArchiveCore
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The threads that hash and write bodies, so the curl thread only receives.
///
/// The curl thread copies each chunk into a 256 KB block (`BodyFile`); a full block, and at the end the last
/// partial one, goes to the body's lane: one of a few serial queues (one per core), chosen round robin when
/// the body starts, so every block of a file is handled in order by one queue while different files are
/// hashed and written in parallel. The lane creates the temporary file, feeds SHA-256 and `write(2)`s the
/// block (a body of more than one block `O_DIRECT` where the file system allows it, `DirectIO`: the whole 4 KiB
/// units straight from the block to the disk, the last partial unit through the page cache) (and, for a WARC
/// record's block digest, a second SHA-256 of a head then the body: `DownloadOptions.digestHead`), then returns it to
/// a bounded pool. A body a WARC record will copy (`digestHead`) keeps its blocks instead, while at most
/// `holdCapacity` blocks are kept in all (`DownloadOptions.heldBodyBytes`): they reach the WARC writer with the
/// download (`HeldBytes`), which copies them and so gives them back; a body that finds no room gives back what it
/// kept and is read from its file (written through the page cache when that is known at its first block). The curl
/// thread never waits for a block: when the pool is empty, or the body already has `maxQueued` blocks waiting on its
/// lane (back pressure: disk slower than network), the transfer is paused (`BodyFile.append` says `.paused`, the
/// write callback returns `CURL_WRITEFUNC_PAUSE`) and the lane calls `wake` when it frees a block, so the curl thread
/// resumes it; memory stays at `capacity` blocks (and `holdCapacity` kept), and one slow body does not hold up the
/// others. A body's completion is delivered from its lane after
/// the file is closed; other results wait for every lane (`afterQueued`), so a failure arrives after its file
/// is deleted.
final class BodyWriter: Sendable {
    /// Bytes per block.
    static let blockCapacity = 256 * 1024
    /// Full blocks one body may have waiting on its lane before its transfer is paused.
    static let maxQueued = 2

    /// One temporary file's writer-side state: touched only on `queue`, except `error` (atomic, read by the
    /// curl thread to stop a transfer whose file cannot be written).
    final class Sink: @unchecked Sendable {
        let directory: String
        /// The lane that handles every operation on this file.
        let lane: Int
        var descriptor: Int32 = -1
        /// Whether `descriptor` writes `O_DIRECT` (whole aligned blocks only; the tail goes through the page cache).
        var direct = false
        var path: String?
        var hasher = SHA256()
        /// The raw response head and the function that makes the head to hash in front of the body (set when the
        /// sink is made); the lane makes that head and starts `headed` with the first block.
        let digestHead: DigestHead?
        var headed: (head: [UInt8], hasher: SHA256)?
        /// The body keeps its blocks for its WARC record (decided at its first block, dropped when the pool has no
        /// more room for kept blocks), and those kept so far with their byte counts.
        var keeps = false
        var held: [(block: Block, count: Int)] = []
        /// The image's size, read from the first block (`DownloadOptions.imageSize`).
        var imageSize: PixelSize?
        /// The `errno` of the first failed open or write, 0 while all is well.
        let error = Atomic<Int32>(0)
        /// Blocks handed to the lane and not yet written (incremented on the curl thread, decremented on the lane).
        let queued = Atomic<Int>(0)

        init(directory: String, lane: Int, digestHead: DigestHead?) {
            self.directory = directory
            self.lane = lane
            self.digestHead = digestHead
        }
    }

    /// A response's raw head and the function that makes, from it, the head hashed in front of its body.
    struct DigestHead: Sendable {
        let responseHead: [UInt8]
        let make: @Sendable ([UInt8]) -> [UInt8]
    }

    /// A block of `blockCapacity` bytes, owned by one side at a time.
    struct Block: @unchecked Sendable {
        let base: UnsafeMutableRawPointer
    }

    /// How a file ended: its path (nil when no byte arrived) and digest, or the `errno` that stopped it.
    enum Completion: Sendable {
        case written(path: String?, sha256: String, headed: HeadedDigest?, held: HeldBytes?, imageSize: PixelSize?)
        case failed(errno: Int32)
    }

    /// The blocks not handed out, how many are, and how many bodies keep for their WARC records (not in `inUse`).
    private struct Pool {
        var free: [Block] = []
        var inUse = 0
        var held = 0
    }

    private let lanes: [DispatchQueue]
    private let nextLane = Atomic<Int>(0)
    private let pool = Mutex(Pool())
    private let capacity: Int
    /// How many blocks bodies may keep for their WARC records (0: none is kept).
    private let holdCapacity: Int
    /// Set by the curl thread when a transfer paused for room; the lane that next frees a block clears it and
    /// calls `wake`.
    private let wanted = Atomic<Bool>(false)
    /// Wakes the curl thread (`curl_multi_wakeup`); called on a lane.
    private let wake: @Sendable () -> Void
    /// Reads an image's size from a body's first block (`DownloadOptions.imageSize`).
    private let imageSize: (@Sendable (UnsafeRawBufferPointer, Bool) -> PixelSize?)?
    /// Tests only: called on the lane before each block is stored, with the body's directory (to hold a lane up).
    private let gate: (@Sendable (String) -> Void)?

    /// A writer with `lanes` serial queues whose pool holds at most `capacity` blocks (more than the transfers
    /// that can hold one), and at most `holdCapacity` more kept for WARC records; `wake` is called from a lane when a
    /// paused transfer may go on.
    init(
        capacity: Int, lanes: Int, holdCapacity: Int = 0,
        imageSize: (@Sendable (UnsafeRawBufferPointer, Bool) -> PixelSize?)? = nil,
        wake: @escaping @Sendable () -> Void = {}, gate: (@Sendable (String) -> Void)? = nil
    ) {
        self.lanes = (0..<max(1, lanes)).map {
            DispatchQueue(label: "imgarchive.body-writer.\($0)", qos: .userInitiated)
        }
        self.capacity = max(2, capacity)
        self.holdCapacity = max(0, holdCapacity)
        self.imageSize = imageSize
        self.wake = wake
        self.gate = gate
    }

    // Every queued operation that touches the pool holds the writer, so by now none is left.
    deinit {
        pool.withLock { pool in
            for block in pool.free { block.base.deallocate() }
            pool.free.removeAll()
        }
    }

    /// The state of a new file, on the next lane.
    func makeSink(directory: String, digestHead: DigestHead? = nil) -> Sink {
        let lane = nextLane.wrappingAdd(1, ordering: .relaxed).oldValue % lanes.count
        return Sink(directory: directory, lane: lane, digestHead: digestHead)
    }

    /// A free block, or nil while the writer holds them all (never waits).
    func takeBlock() -> Block? {
        pool.withLock { pool in
            guard pool.inUse < capacity else { return nil }
            pool.inUse += 1
            return pool.free.popLast()
                ?? Block(base: .allocate(byteCount: Self.blockCapacity, alignment: DirectIO.alignment))
        }
    }

    /// Gives back a block (from the curl thread, for one never handed to the queue, or from a lane).
    func returnBlock(_ block: Block) {
        pool.withLock { pool in
            pool.free.append(block)
            pool.inUse -= 1
        }
        wakeIfWanted()
    }

    private func wakeIfWanted() {
        if wanted.exchange(false, ordering: .acquiringAndReleasing) { wake() }
    }

    /// Whether `sink`'s transfer may hand over `sends` more full blocks and take `takes` from the pool.
    func hasRoom(_ sink: Sink, sends: Int, takes: Int) -> Bool {
        let queued = sink.queued.load(ordering: .acquiring)
        guard queued == 0 || queued + sends <= Self.maxQueued else { return false }
        return takes == 0 || pool.withLock { capacity - $0.inUse >= takes }
    }

    /// Asks to be woken (`wake`) when the next block is freed: a transfer was paused for room.
    func wantRoom() {
        wanted.store(true, ordering: .releasing)
    }

    /// Queues `count` bytes of `block` for `sink`'s file (created on its first block).
    func write(_ sink: Sink, _ block: Block, count: Int) {
        sink.queued.wrappingAdd(1, ordering: .releasing)
        lanes[sink.lane].async {
            self.gate?(sink.directory)
            self.store(sink, UnsafeRawBufferPointer(start: block.base, count: count), last: false)
            sink.queued.wrappingSubtract(1, ordering: .releasing)
            self.keepOrReturn(sink, block, count: count)
        }
    }

    /// Queues the last bytes, closes the file and then calls `done` with its path and digest, or the error.
    func complete(_ sink: Sink, _ block: Block?, count: Int, done: @escaping @Sendable (Completion) -> Void) {
        lanes[sink.lane].async {
            if let block {
                self.store(sink, UnsafeRawBufferPointer(start: block.base, count: count), last: true)
                self.keepOrReturn(sink, block, count: count)
            }
            if sink.descriptor >= 0 {
                // Start writeback now (of the tail, when the rest was written direct): on Linux, DONTNEED queues
                // dirty pages for writing (pages under writeback stay cached), so a later `fsync` of the file finds
                // little left to write.
                if sink.error.load(ordering: .relaxed) == 0 {
                    _ = posix_fadvise(sink.descriptor, 0, 0, Int32(POSIX_FADV_DONTNEED))
                }
                if close(sink.descriptor) != 0 { Self.fail(sink, errno) }
                sink.descriptor = -1
            }
            let error = sink.error.load(ordering: .acquiring)
            if error != 0 {
                self.remove(sink)
                done(.failed(errno: error))
                return
            }
            let path = sink.path
            sink.path = nil  // the caller owns it now
            let headed = sink.headed.map { HeadedDigest(head: $0.head, sha256: Array($0.hasher.finalize())) }
            var held: HeldBytes?
            if sink.keeps && !sink.held.isEmpty {
                held = HeldBytes(blocks: sink.held.map { ($0.block.base, $0.count) }) { self.giveBack(held: $0) }
                sink.held = []
            }
            done(
                .written(
                    path: path, sha256: Hex.lowercase(sink.hasher.finalize()), headed: headed, held: held,
                    imageSize: sink.imageSize))
        }
    }

    /// Queues closing and deleting `sink`'s file, and gives back `block` (a failure, cancellation or shutdown).
    func discard(_ sink: Sink?, _ block: Block?) {
        if let block { returnBlock(block) }
        guard let sink else { return }
        lanes[sink.lane].async { self.remove(sink) }
    }

    /// Runs `body` once every lane has run what was queued on it so far (results that must follow a discard).
    func afterQueued(_ body: @escaping @Sendable () -> Void) {
        guard lanes.count > 1 else {
            lanes[0].async(execute: body)
            return
        }
        let group = DispatchGroup()
        for lane in lanes {
            group.enter()
            lane.async { group.leave() }
        }
        group.notify(queue: lanes[0], execute: body)
    }

    /// Waits until everything queued so far has run.
    func drain() {
        for lane in lanes { lane.sync {} }
    }

    // MARK: - On a lane

    /// Hashes and writes `bytes`, the body's next block (`last`: its final, partial one).
    private func store(_ sink: Sink, _ bytes: UnsafeRawBufferPointer, last: Bool) {
        guard sink.error.load(ordering: .relaxed) == 0 else { return }
        if sink.descriptor < 0 {
            // A body a WARC record will copy keeps its blocks for it while there is room.
            sink.keeps = sink.digestHead != nil && holdCapacity > 0 && pool.withLock { $0.held < holdCapacity }
            // The image's size, from memory: a body written direct is not in the page cache to be read back.
            sink.imageSize = imageSize?(bytes, last)
            // Through the page cache: a body of one block, and a body a WARC record will read from its file (one
            // that keeps no blocks). Written direct, a small file is read back from the disk by the next reader
            // (a thumbnail, `verify`); on the site bench that saved a sixth of the first fetch's system time but
            // made a `verify` right after it 2.7 times slower (docs/performance.md, session 8).
            guard Self.create(sink, direct: !last && (sink.digestHead == nil || sink.keeps)) else { return }
        }
        if sink.headed == nil, let digestHead = sink.digestHead {
            let head = digestHead.make(digestHead.responseHead)
            var hasher = SHA256()
            hasher.update(data: head)
            sink.headed = (head, hasher)
        }
        sink.hasher.update(bufferPointer: bytes)
        sink.headed?.hasher.update(bufferPointer: bytes)
        guard var base = bytes.baseAddress else { return }
        var left = bytes.count
        while left > 0 {
            // Direct: the whole blocks; a tail (the body's last bytes) leaves direct mode for the rest.
            let aligned = left & ~(DirectIO.alignment - 1)
            if sink.direct && aligned == 0 {
                guard Self.leaveDirect(sink) else { return }
            }
            let written = systemWrite(sink.descriptor, base, sink.direct ? aligned : left)
            if written < 0 {
                if errno == EINTR { continue }
                // A file system that opened the file direct but will not write it so: through the page cache.
                if errno == EINVAL && sink.direct && Self.leaveDirect(sink) { continue }
                Self.fail(sink, errno)
                return
            }
            left -= written
            base += written
        }
    }

    /// Writes from here on go through the page cache; false (and the file failed) if the flag cannot be cleared.
    private static func leaveDirect(_ sink: Sink) -> Bool {
        guard DirectIO.leave(sink.descriptor) else {
            fail(sink, errno)
            return false
        }
        sink.direct = false
        return true
    }

    private static func create(_ sink: Sink, direct: Bool) -> Bool {
        // The name never comes from the URL or a header: a random, unique name created exclusively.
        for _ in 0..<4 {
            let name =
                "\(sink.directory)/fetch-\(getpid())-\(String(UInt64.random(in: .min ... .max), radix: 36)).part"
            // O_DIRECT where asked and the file system takes it (`DirectIO`): the body goes from the block to the
            // disk, not into the page cache.
            var fd = systemOpen(name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | (direct ? DirectIO.flag : 0), 0o644)
            sink.direct = direct && fd >= 0
            if direct && fd < 0 && errno == EINVAL {
                // The file system refuses O_DIRECT, after creating the file.
                _ = unlink(name)
                fd = systemOpen(name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
            }
            if fd >= 0 {
                sink.descriptor = fd
                sink.path = name
                return true
            }
            if errno != EEXIST {
                fail(sink, errno)
                return false
            }
        }
        fail(sink, EEXIST)
        return false
    }

    private static func fail(_ sink: Sink, _ code: Int32) {
        _ = sink.error.compareExchange(expected: 0, desired: code == 0 ? EIO : code, ordering: .releasing)
    }

    /// Keeps a stored block for the body's WARC record (`Sink.keeps`) while the pool has room for it, else gives it
    /// back, with those the body kept (it is then read from its file).
    private func keepOrReturn(_ sink: Sink, _ block: Block, count: Int) {
        if sink.keeps && count > 0 && sink.error.load(ordering: .relaxed) == 0 {
            let kept = pool.withLock { pool in
                guard pool.held < holdCapacity else { return false }
                pool.held += 1
                pool.inUse -= 1
                return true
            }
            if kept {
                sink.held.append((block, count))
                wakeIfWanted()  // the block left the transfers' share of the pool
                return
            }
            sink.keeps = false
            releaseHeld(sink)
        }
        returnBlock(block)
    }

    /// Gives back the blocks `sink` kept.
    private func releaseHeld(_ sink: Sink) {
        guard !sink.held.isEmpty else { return }
        giveBack(held: sink.held.map(\.block.base))
        sink.held = []
    }

    /// Takes back blocks a body kept for its WARC record (`HeldBytes` gone, or the body dropped).
    private func giveBack(held blocks: [UnsafeMutableRawPointer]) {
        pool.withLock { pool in
            pool.free.append(contentsOf: blocks.map(Block.init))
            pool.held -= blocks.count
        }
    }

    private func remove(_ sink: Sink) {
        releaseHeld(sink)
        if sink.descriptor >= 0 {
            _ = close(sink.descriptor)
            sink.descriptor = -1
        }
        if let path = sink.path {
            _ = unlink(path)
            sink.path = nil
        }
    }
}

/// What became of a chunk offered to a body.
enum AppendResult {
    /// Taken whole.
    case taken
    /// Not taken at all, for lack of room: pause the transfer; libcurl delivers the same chunk again.
    case paused
    /// The file cannot be created or written (`BodyFile.systemError` says why).
    case failed
}

/// The curl thread's side of a body: copies chunks into blocks for the `BodyWriter`, keeps the first bytes for
/// sniffing, and follows the bytes for checking the image's end (`ImageFormat.BodyEnd`: the last bytes, a JPEG's
/// segment walk) as they pass. Used only on the curl thread; reused across transfers, so a transfer allocates
/// nothing per chunk.
final class BodyFile {
    private let writer: BodyWriter
    private var sink: BodyWriter.Sink?
    private var block: BodyWriter.Block?
    private var buffered = 0
    private(set) var byteCount: Int64 = 0
    /// The first `ImageFormat.sniffLength` bytes.
    private(set) var prefix: [UInt8]
    /// What `ImageFormat.looksComplete` needs of the bytes so far.
    private(set) var end = ImageFormat.BodyEnd()
    /// The head to hash in front of this body (`DownloadOptions.digestHead`), set before its first chunk; nil for none.
    var digestHead: BodyWriter.DigestHead?

    init(writer: BodyWriter) {
        self.writer = writer
        prefix = []
        prefix.reserveCapacity(ImageFormat.sniffLength)
    }

    deinit {
        discard()
    }

    /// The `errno` that stopped the file, if the writer has failed on it so far.
    var systemError: Int32? {
        guard let sink else { return nil }
        let code = sink.error.load(ordering: .acquiring)
        return code == 0 ? nil : code
    }

    /// Starts a new, empty body whose file (created with the first block) goes into `directory`.
    func reset() {
        discard()
        byteCount = 0
        prefix.removeAll(keepingCapacity: true)
        end = ImageFormat.BodyEnd()
        digestHead = nil
    }

    /// Appends a chunk whole, or nothing of it when there is no room for it now (`.paused`: the writer wakes the
    /// curl thread once there may be).
    func append(_ chunk: UnsafeRawBufferPointer, directory: String, sniffLength: Int) -> AppendResult {
        let sink = self.sink ?? writer.makeSink(directory: directory, digestHead: digestHead)
        self.sink = sink
        guard sink.error.load(ordering: .relaxed) == 0 else { return .failed }
        // The full blocks this chunk completes, and the new blocks it needs; all or nothing.
        let capacity = BodyWriter.blockCapacity
        let filled = block == nil ? 0 : buffered
        let room = block == nil ? 0 : capacity - buffered
        let sends = (filled + chunk.count) / capacity
        let takes = (max(0, chunk.count - room) + capacity - 1) / capacity
        if !writer.hasRoom(sink, sends: sends, takes: takes) {
            // Ask to be woken, then look once more: a block freed in between would not wake anyone.
            writer.wantRoom()
            guard writer.hasRoom(sink, sends: sends, takes: takes) else { return .paused }
        }
        if prefix.count < sniffLength {
            prefix.append(contentsOf: chunk.prefix(sniffLength - prefix.count))
        }
        end.append(chunk)
        byteCount += Int64(chunk.count)
        guard var source = chunk.baseAddress else { return .taken }
        var left = chunk.count
        while left > 0 {
            guard let target = block ?? writer.takeBlock() else { return .failed }  // room was checked above
            block = target
            let count = min(left, BodyWriter.blockCapacity - buffered)
            (target.base + buffered).copyMemory(from: source, byteCount: count)
            buffered += count
            left -= count
            source += count
            if buffered == BodyWriter.blockCapacity {
                writer.write(sink, target, count: buffered)
                block = nil
                buffered = 0
            }
        }
        return .taken
    }

    /// Whether a paused transfer of this body may be resumed: a block is free and its lane is not full.
    var hasRoom: Bool {
        guard let sink else { return true }
        if writer.hasRoom(sink, sends: 1, takes: 1) { return true }
        writer.wantRoom()
        return writer.hasRoom(sink, sends: 1, takes: 1)
    }

    /// Hands the body to the writer, which writes the rest, closes the file and calls `done`; this object is
    /// then empty and ready for the next transfer.
    func complete(_ done: @escaping @Sendable (BodyWriter.Completion) -> Void) {
        let sink = self.sink ?? writer.makeSink(directory: "")
        writer.complete(sink, block, count: buffered, done: done)
        self.sink = nil
        block = nil
        buffered = 0
    }

    /// Drops the body: its file is closed and deleted on the writer's queue.
    func discard() {
        writer.discard(sink, block)
        sink = nil
        block = nil
        buffered = 0
    }
}

private func systemOpen(_ path: String, _ flags: Int32, _ mode: mode_t) -> Int32 { open(path, flags, mode) }
private func systemWrite(_ fd: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int { write(fd, bytes, count) }
