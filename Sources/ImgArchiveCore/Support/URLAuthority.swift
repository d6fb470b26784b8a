/// The authority of an absolute URL, `scheme://[userinfo@]host[:port]`: the one reading of a URL's host and port
/// that fetch planning (origins, host profiles), the address policy (host and port of a connection), the
/// downloader's per-host queues and the CDN rules (`CDNURL`) share. Plain byte scanning, no decoding: the
/// authority ends at the first `/`, `?` or `#` after `://`, user info (up to the last `@`) is dropped, and the
/// host ends at the `]` of an IPv6 literal or else at the last `:` (where libcurl looks for the port). Only ASCII
/// letters are lower-cased (DNS compares names so; other bytes stay as written).
public struct URLAuthority: Sendable, Hashable {
    /// The scheme, lower-cased: the text before the first `://`.
    public let scheme: String
    /// `host[:port]` as written, lower-cased, without user info.
    public let hostAndPort: String
    /// The host, lower-cased, without user info or port; an IPv6 address keeps its brackets.
    public let host: String
    /// The port written after the host, nil when there is none or it is not a number.
    public let port: Int?

    /// Splits `url`; nil when it has no `://` or nothing between it and the path.
    public init?(_ url: String) {
        var url = url
        let found: (scheme: String, hostAndPort: String, host: String, port: Int?)? = url.withUTF8 { bytes in
            guard let schemeEnd = Self.schemeSeparator(in: bytes),
                let bounds = Self.locate(in: bytes, from: schemeEnd + 3)
            else { return nil }
            let hasPort = bounds.hostEnd < bounds.end && bytes[bounds.hostEnd] == UInt8(ascii: ":")
            return (
                Self.lowercased(bytes, 0..<schemeEnd), Self.lowercased(bytes, bounds.hostStart..<bounds.end),
                Self.lowercased(bytes, bounds.hostStart..<bounds.hostEnd),
                hasPort ? Int(Self.lowercased(bytes, bounds.hostEnd + 1..<bounds.end)) : nil
            )
        }
        guard let found else { return nil }
        (scheme, hostAndPort, host, port) = found
    }

    /// `scheme://host[:port]/`.
    public var origin: String { scheme + "://" + hostAndPort + "/" }

    /// The port a connection goes to: the one written, else the scheme's (443 for https, 80 for http).
    public var effectivePort: Int? { port ?? (scheme == "https" ? 443 : scheme == "http" ? 80 : nil) }

    /// Where an authority's parts lie in a URL's bytes (offsets into them).
    struct Bounds: Sendable, Hashable {
        /// The host's first byte (past any user info).
        var hostStart: Int
        /// Past the host's last byte: at the `:` before the port, or at `end`.
        var hostEnd: Int
        /// Past the authority's last byte: at the first `/`, `?` or `#`, or the end of the URL.
        var end: Int
    }

    /// The bounds of the authority that starts at `start` (just past `://`) in `bytes`; nil when it is empty
    /// (user info included). The one host and port split: `init` and `CDNURL` both read a URL through it.
    static func locate(in bytes: UnsafeBufferPointer<UInt8>, from start: Int) -> Bounds? {
        var end = start
        while end < bytes.count {
            let byte = bytes[end]
            if byte == UInt8(ascii: "/") || byte == UInt8(ascii: "?") || byte == UInt8(ascii: "#") { break }
            end += 1
        }
        guard end > start else { return nil }
        var hostStart = start
        var i = end
        while i > start {
            i -= 1
            if bytes[i] == UInt8(ascii: "@") {
                hostStart = i + 1
                break
            }
        }
        var hostEnd = end
        if hostStart < end && bytes[hostStart] == UInt8(ascii: "[") {
            var k = hostStart
            while k < end && bytes[k] != UInt8(ascii: "]") { k += 1 }
            if k < end { hostEnd = k + 1 }
        } else {
            var k = end
            while k > hostStart {
                k -= 1
                if bytes[k] == UInt8(ascii: ":") {
                    hostEnd = k
                    break
                }
            }
        }
        return Bounds(hostStart: hostStart, hostEnd: hostEnd, end: end)
    }

    /// The offset of the first `://` in `bytes`.
    private static func schemeSeparator(in bytes: UnsafeBufferPointer<UInt8>) -> Int? {
        guard bytes.count >= 3 else { return nil }
        for i in 0...(bytes.count - 3)
        where bytes[i] == UInt8(ascii: ":") && bytes[i + 1] == UInt8(ascii: "/") && bytes[i + 2] == UInt8(ascii: "/") {
            return i
        }
        return nil
    }

    /// The bytes at `range`, ASCII letters lower-cased.
    static func lowercased(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> String {
        String(unsafeUninitializedCapacity: range.count) { out in
            for k in range {
                let byte = bytes[k]
                out[k - range.lowerBound] = byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte
            }
            return range.count
        }
    }
}
