public import Foundation
public import ImgArchiveCore

/// One WARC 1.1 record to write: its named fields and its block (a head in memory, then optionally a file's
/// bytes streamed after it). The writer adds `WARC-Record-ID`, `WARC-Date`, the digests and the length.
public struct WARCRecord: Sendable {
    /// The record types imgarchive writes.
    public enum Kind: String, Sendable {
        case warcinfo, request, response, revisit
    }

    /// The revisit profiles of WARC 1.1.
    public static let identicalPayloadProfile = "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"
    public static let serverNotModifiedProfile = "http://netpreserve.org/warc/1.1/revisit/server-not-modified"

    public var kind: Kind
    /// `WARC-Record-ID`, `<urn:uuid:...>`.
    public var id: String
    /// `WARC-Target-URI` (none on warcinfo).
    public var targetURI: String?
    /// `WARC-Date`.
    public var date: Date
    /// Further named fields, in order (`WARC-IP-Address`, `WARC-Concurrent-To`, `WARC-Profile`, ...).
    public var fields: [(String, String)]
    /// The block's `Content-Type`.
    public var contentType: String
    /// The start of the block: an HTTP head, or the warcinfo fields.
    public var head: [UInt8]
    /// A file whose bytes follow `head` in the block (an archived image: the HTTP payload).
    public var bodyFile: String?
    /// The same bytes as `bodyFile`'s, in memory (a download's kept body): copied from there, the file is not read.
    public var heldBody: HeldBytes?
    /// The payload's digest (`WARCDigest.sha256`), when the caller knows it (an archived image's SHA-256); a
    /// response without a body file gets the empty payload's.
    public var payloadDigest: String?
    /// The block's digest (`WARCDigest.sha256` of `head` then the body file's bytes), when the caller knows it (hashed
    /// as the body arrived): the writer then reads the body file once, to copy it. Nil: the writer computes it.
    public var blockDigest: String?
    /// Deflate the record (false stores it: JPEG, PNG, GIF and WebP bytes do not shrink, and deflating them costs
    /// far more than it saves).
    public var compress: Bool

    /// Creates a record with a new id.
    public init(
        kind: Kind, targetURI: String?, date: Date, fields: [(String, String)] = [], contentType: String,
        head: [UInt8], bodyFile: String? = nil, heldBody: HeldBytes? = nil, payloadDigest: String? = nil,
        blockDigest: String? = nil, compress: Bool = true
    ) {
        self.kind = kind
        self.id = Self.newID()
        self.targetURI = targetURI
        self.date = date
        self.fields = fields
        self.contentType = contentType
        self.head = head
        self.bodyFile = bodyFile
        self.heldBody = heldBody
        self.payloadDigest = payloadDigest
        self.blockDigest = blockDigest
        self.compress = compress
    }

    /// A new `<urn:uuid:...>`.
    public static func newID() -> String { "<urn:uuid:\(UUID().uuidString.lowercased())>" }

    /// The content type of an HTTP request or response block.
    public static let httpRequest = "application/http;msgtype=request"
    public static let httpResponse = "application/http;msgtype=response"

    /// `2026-12-03T01:02:03Z`: the WARC date, to the second (as the 14-digit timestamps of indexes and replay
    /// URLs, so a revisit's `WARC-Refers-To-Date` read from the index is the referred record's date exactly).
    public static func warcDate(_ date: Date) -> String {
        let (day, time) = parts(date)
        return day + "T" + time + "Z"
    }

    /// `20261203010203`: the 14-digit timestamp of indexes and replay URLs.
    public static func timestamp(_ date: Date) -> String {
        let (day, time) = parts(date)
        return (day + time).filter(\.isNumber)
    }

    private static func parts(_ date: Date) -> (String, String) {
        var time = time_t(date.timeIntervalSince1970.rounded(.down))
        var tm = tm()
        gmtime_r(&time, &tm)
        // Zero-padded by hand: `String(format:)` cost more than the rest of an index line.
        func digits(_ value: Int32, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        let day = digits(tm.tm_year + 1900, 4) + "-" + digits(tm.tm_mon + 1, 2) + "-" + digits(tm.tm_mday, 2)
        let clock = digits(tm.tm_hour, 2) + ":" + digits(tm.tm_min, 2) + ":" + digits(tm.tm_sec, 2)
        return (day, clock)
    }
}

/// Digests as current WARC tools write them: `sha256:` and the RFC 4648 base32 of the SHA-256 (with its padding,
/// as warcio writes it).
public enum WARCDigest {
    /// `sha256:<base32>` of a digest's bytes.
    public static func sha256(_ digest: some Sequence<UInt8>) -> String { "sha256:" + base32(Array(digest)) }

    /// `sha256:<base32>` of a lowercase hex SHA-256 (the archive's object names); nil when it is not hex.
    public static func sha256(hex: String) -> String? {
        guard hex.utf8.count == 64 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(32)
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            guard let byte = UInt8(hex[index..<next], radix: 16) else { return nil }
            bytes.append(byte)
            index = next
        }
        return sha256(bytes)
    }

    /// RFC 4648 base32, uppercase, padded.
    static func base32(_ bytes: [UInt8]) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".utf8)
        var out: [UInt8] = []
        var buffer = 0
        var bits = 0
        for byte in bytes {
            buffer = (buffer << 8) | Int(byte)
            bits += 8
            while bits >= 5 {
                out.append(alphabet[(buffer >> (bits - 5)) & 31])
                bits -= 5
            }
        }
        if bits > 0 { out.append(alphabet[(buffer << (5 - bits)) & 31]) }
        while out.count % 8 != 0 { out.append(UInt8(ascii: "=")) }
        return String(decoding: out, as: UTF8.self)
    }
}
