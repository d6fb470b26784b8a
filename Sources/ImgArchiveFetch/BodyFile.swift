import Crypto

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Where a body goes while it streams: a temporary file written through one large buffer, hashed as it
/// arrives, with its first bytes kept for sniffing. Used only on the curl thread; reused across transfers,
/// so a transfer allocates nothing per chunk.
final class BodyFile {
    /// Bytes buffered before a `write(2)`.
    static let bufferCapacity = 256 * 1024

    private let buffer: UnsafeMutableRawPointer
    private var buffered = 0
    private var descriptor: Int32 = -1
    private(set) var path: String?
    private var hasher = SHA256()
    private(set) var byteCount: Int64 = 0
    /// The first `ImageFormat.sniffLength` bytes.
    private(set) var prefix: [UInt8]
    /// The `errno` of the first failed open or write.
    private(set) var systemError: Int32?

    init() {
        buffer = UnsafeMutableRawPointer.allocate(byteCount: Self.bufferCapacity, alignment: 16)
        prefix = []
        prefix.reserveCapacity(512)
    }

    deinit {
        discard()
        buffer.deallocate()
    }

    /// Starts a new, empty body whose file (created on the first byte) goes into `directory`.
    func reset() {
        discard()
        hasher = SHA256()
        byteCount = 0
        buffered = 0
        prefix.removeAll(keepingCapacity: true)
        systemError = nil
    }

    /// Appends a chunk; false when the file cannot be created or written (`systemError` says why).
    func append(_ chunk: UnsafeRawBufferPointer, directory: String, sniffLength: Int) -> Bool {
        if descriptor < 0 && !open(in: directory) { return false }
        hasher.update(bufferPointer: chunk)
        if prefix.count < sniffLength {
            prefix.append(contentsOf: chunk.prefix(sniffLength - prefix.count))
        }
        byteCount += Int64(chunk.count)
        if buffered + chunk.count > Self.bufferCapacity {
            guard flush() else { return false }
        }
        if chunk.count >= Self.bufferCapacity {
            return writeAll(UnsafeRawBufferPointer(chunk))
        }
        if let base = chunk.baseAddress {
            (buffer + buffered).copyMemory(from: base, byteCount: chunk.count)
            buffered += chunk.count
        }
        return true
    }

    /// Writes what is buffered and closes the file; returns the path (nil when no byte arrived) or nil and
    /// `systemError` on failure (the file is then removed).
    func finish() -> (ok: Bool, path: String?) {
        guard descriptor >= 0 else { return (systemError == nil, nil) }
        let flushed = flush()
        let closed = systemClose(descriptor) == 0
        if !closed && systemError == nil { systemError = errno }
        descriptor = -1
        guard flushed && closed, let path else {
            discard()
            return (false, nil)
        }
        let finished = path
        self.path = nil  // the caller owns it now
        return (true, finished)
    }

    /// The SHA-256 of everything appended, lowercase hex.
    func digestHex() -> String {
        let digest = hasher.finalize()
        var hex = ""
        hex.reserveCapacity(64)
        let digits = Array("0123456789abcdef".utf8)
        for byte in digest {
            hex.unicodeScalars.append(UnicodeScalar(digits[Int(byte >> 4)]))
            hex.unicodeScalars.append(UnicodeScalar(digits[Int(byte & 0x0F)]))
        }
        return hex
    }

    /// Closes and deletes the file, if any.
    func discard() {
        if descriptor >= 0 {
            _ = systemClose(descriptor)
            descriptor = -1
        }
        if let path {
            _ = unlink(path)
            self.path = nil
        }
        buffered = 0
    }

    private func open(in directory: String) -> Bool {
        // The name never comes from the URL or a header: a random, unique name created exclusively.
        for _ in 0..<4 {
            let name = "\(directory)/fetch-\(getpid())-\(String(UInt64.random(in: .min ... .max), radix: 36)).part"
            let fd = systemOpen(name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
            if fd >= 0 {
                descriptor = fd
                path = name
                return true
            }
            if errno != EEXIST {
                systemError = errno
                return false
            }
        }
        systemError = EEXIST
        return false
    }

    private func flush() -> Bool {
        guard buffered > 0 else { return true }
        let ok = writeAll(UnsafeRawBufferPointer(start: buffer, count: buffered))
        buffered = 0
        return ok
    }

    private func writeAll(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard var base = bytes.baseAddress else { return true }
        var left = bytes.count
        while left > 0 {
            let written = write(descriptor, base, left)
            if written < 0 {
                if errno == EINTR { continue }
                systemError = errno
                return false
            }
            left -= written
            base += written
        }
        return true
    }
}

private func systemClose(_ fd: Int32) -> Int32 { close(fd) }
private func systemOpen(_ path: String, _ flags: Int32, _ mode: mode_t) -> Int32 { open(path, flags, mode) }
