import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A request line and headers read off a raw socket (no body: the downloader only sends GETs).
struct RawRequest {
    var method: String
    var path: String
    /// Header names lowercased.
    var headers: [String: String]
}

/// One accepted connection of `RawServer`, for handlers that misbehave on the wire.
final class RawConnection {
    let fd: Int32
    private var pending: [UInt8] = []

    init(fd: Int32) { self.fd = fd }

    /// Reads the next request head; nil when the client closed the connection.
    func readRequest() -> RawRequest? {
        let terminator: [UInt8] = [13, 10, 13, 10]
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            if let end = findTerminator(terminator) {
                let head = String(decoding: pending[..<end], as: UTF8.self)
                pending.removeFirst(end + 4)
                let lines = head.components(separatedBy: "\r\n")
                let parts = lines.first?.split(separator: " ") ?? []
                var headers: [String: String] = [:]
                for line in lines.dropFirst() {
                    guard let colon = line.firstIndex(of: ":") else { continue }
                    headers[line[..<colon].lowercased()] = line[line.index(after: colon)...]
                        .trimmingCharacters(in: .whitespaces)
                }
                return RawRequest(
                    method: parts.count > 0 ? String(parts[0]) : "",
                    path: parts.count > 1 ? String(parts[1]) : "",
                    headers: headers)
            }
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count <= 0 { return nil }
            pending.append(contentsOf: chunk[..<count])
        }
    }

    private func findTerminator(_ terminator: [UInt8]) -> Int? {
        guard pending.count >= 4 else { return nil }
        for index in 0...(pending.count - 4) where pending[index..<index + 4].elementsEqual(terminator) {
            return index
        }
        return nil
    }

    /// Writes all bytes; false once the peer has gone (no SIGPIPE).
    @discardableResult
    func send(_ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes {
                Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            if sent <= 0 { return false }
            offset += sent
        }
        return true
    }

    @discardableResult
    func send(_ text: String) -> Bool { send(Array(text.utf8)) }

    /// Blocks until the client closes its side.
    func waitForClose() {
        var byte = [UInt8](repeating: 0, count: 256)
        while byte.withUnsafeMutableBytes({ recv(fd, $0.baseAddress, $0.count, 0) }) > 0 {}
    }
}

/// A tiny thread-per-connection TCP server on 127.0.0.1 (port 0) for wire-level faults, with a count of
/// concurrent connections per `Host` header.
final class RawServer: @unchecked Sendable {
    let port: UInt16
    private let listener: Int32
    private let handler: @Sendable (RawConnection, RawServer) -> Void
    /// Open connections per Host right now, and the most ever open at once (key \"*\": all hosts).
    let connections = Mutex<(open: [String: Int], peak: [String: Int])>(([:], [:]))

    init(handler: @escaping @Sendable (RawConnection, RawServer) -> Void) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EIO) }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, listen(fd, 256) == 0 else {
            close(fd)
            throw POSIXError(.EADDRINUSE)
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        port = UInt16(bigEndian: address.sin_port)
        listener = fd
        self.handler = handler
        let thread = Thread { [self] in acceptLoop() }
        thread.start()
    }

    private func acceptLoop() {
        while true {
            let client = accept(listener, nil, nil)
            if client < 0 {
                if errno == EINTR { continue }
                return
            }
            let thread = Thread { [self] in
                handler(RawConnection(fd: client), self)
                close(client)
            }
            thread.start()
        }
    }

    /// Records a connection to `host` as open (call once per connection) until `closed(host:)`.
    func opened(host: String) {
        connections.withLock { state in
            for key in [host, "*"] {
                state.open[key, default: 0] += 1
                state.peak[key] = max(state.peak[key] ?? 0, state.open[key] ?? 0)
            }
        }
    }

    func closed(host: String) {
        connections.withLock { state in
            for key in [host, "*"] { state.open[key, default: 0] -= 1 }
        }
    }

    /// Stops accepting (connections already open finish on their own).
    func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }
}
