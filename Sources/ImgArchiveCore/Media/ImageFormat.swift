/// The image formats imgarchive recognises by their first bytes (never by a URL's extension or a
/// `Content-Type` header).
public enum ImageFormat: String, Sendable, Hashable, Codable, CaseIterable {
    case jpeg, png, gif, webp, avif, svg, bmp, ico

    /// The file extension used for archived objects of this format.
    public var fileExtension: String {
        switch self {
        case .jpeg: "jpg"
        case .png: "png"
        case .gif: "gif"
        case .webp: "webp"
        case .avif: "avif"
        case .svg: "svg"
        case .bmp: "bmp"
        case .ico: "ico"
        }
    }

    /// The media type of this format.
    public var mediaType: String {
        switch self {
        case .jpeg: "image/jpeg"
        case .png: "image/png"
        case .gif: "image/gif"
        case .webp: "image/webp"
        case .avif: "image/avif"
        case .svg: "image/svg+xml"
        case .bmp: "image/bmp"
        case .ico: "image/vnd.microsoft.icon"
        }
    }

    /// The number of leading bytes `sniff` needs to decide (fewer is fine for short files).
    public static let sniffLength = 512

    /// Identifies the format from the leading bytes of a file, or nil when they are not a known image
    /// (HTML, JSON, text, empty, ...).
    public static func sniff<C: Collection<UInt8>>(_ prefix: C) -> ImageFormat? where C.Index == Int {
        let b = Array(prefix.prefix(sniffLength))
        func starts(_ magic: [UInt8], at offset: Int = 0) -> Bool {
            b.count >= offset + magic.count && Array(b[offset..<offset + magic.count]) == magic
        }
        if starts([0xFF, 0xD8, 0xFF]) { return .jpeg }
        if starts([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return .png }
        if starts(Array("GIF87a".utf8)) || starts(Array("GIF89a".utf8)) { return .gif }
        if starts(Array("RIFF".utf8)) && starts(Array("WEBP".utf8), at: 8) { return .webp }
        if starts(Array("ftyp".utf8), at: 4) && b.count >= 12 {
            // ISO-BMFF: the major brand, then compatible brands up to the box size.
            let boxSize = min(b.count, Int(b[0]) << 24 | Int(b[1]) << 16 | Int(b[2]) << 8 | Int(b[3]))
            var offset = 8
            while offset + 4 <= max(boxSize, 12) && offset + 4 <= b.count {
                let brand = String(decoding: b[offset..<offset + 4], as: UTF8.self)
                if brand == "avif" || brand == "avis" { return .avif }
                offset += offset == 8 ? 8 : 4  // skip minor_version after the major brand
            }
            return nil
        }
        if starts(Array("BM".utf8)) && b.count >= 14 { return .bmp }
        if starts([0x00, 0x00, 0x01, 0x00]) && b.count >= 6 && (b[4] != 0 || b[5] != 0) { return .ico }
        if looksLikeSVG(b) { return .svg }
        return nil
    }

    /// The number of trailing bytes `looksComplete` needs.
    public static let tailLength = 32

    /// Whether a file of `count` bytes that starts with `prefix` and whose bytes went through `end` has the end its
    /// format requires: JPEG's EOI marker, reached by following its segments (`JPEGSegmentWalk`: data appended
    /// after EOI, such as a camera trailer or a motion photo's video, is allowed), PNG's IEND chunk, GIF's trailer,
    /// SVG's closing `</svg>` (these three at the end, before any trailing NULs and whitespace: some writers pad),
    /// or the size WebP's RIFF header and BMP's file header declare. A file cut short, when nothing else said how
    /// long it should be, fails this. AVIF and ICO are not checked (true).
    public func looksComplete(prefix: [UInt8], end: BodyEnd, count: Int) -> Bool {
        let last = end.tail.bytes[...]
        func little32(at offset: Int) -> Int? {
            guard prefix.count >= offset + 4 else { return nil }
            return (0..<4).reduce(0) { $0 | Int(prefix[offset + $1]) << (8 * $1) }
        }
        switch self {
        case .jpeg: return end.jpeg.reachedEnd
        case .png: return last.suffix(8).elementsEqual(Array("IEND".utf8) + [0xAE, 0x42, 0x60, 0x82])
        case .gif: return last.last == 0x3B
        case .svg: return String(decoding: last.suffix(6), as: UTF8.self).lowercased() == "</svg>"
        case .webp: return little32(at: 4).map { count >= $0 + 8 } ?? false
        case .bmp: return little32(at: 2).map { count >= $0 } ?? false
        case .avif, .ico: return true
        }
    }

    /// What `looksComplete` needs from a body, gathered chunk by chunk as it arrives (nothing is read twice, the
    /// body is never held): its last bytes before any padding, and how far a JPEG's segment walk got.
    public struct BodyEnd: Sendable {
        /// The last `tailLength` bytes before the trailing padding.
        public private(set) var tail = Tail()
        /// The JPEG structure followed so far (it stops at once on a body that does not start with SOI).
        public private(set) var jpeg = JPEGSegmentWalk()

        /// Before the first byte.
        public init() {}

        /// The end of a whole body.
        public init(_ body: some Collection<UInt8>) {
            append(body)
        }

        /// Adds the next bytes of the body.
        public mutating func append(_ chunk: UnsafeRawBufferPointer) {
            jpeg.append(chunk)
            tail.append(chunk)
        }

        /// Adds the next bytes of the body.
        public mutating func append(_ chunk: some Collection<UInt8>) {
            if chunk.withContiguousStorageIfAvailable({ append(UnsafeRawBufferPointer($0)) }) == nil {
                Array(chunk).withUnsafeBytes { append($0) }
            }
        }
    }

    /// A body's last `tailLength` bytes before any trailing padding (NUL and whitespace), however long the padding
    /// is. Keeping only the body's last bytes would lose a PNG's IEND behind 32 bytes of padding, and call the
    /// whole image truncated.
    public struct Tail: Sendable {
        /// The last `tailLength` bytes before the trailing padding.
        public private(set) var bytes: [UInt8] = []
        /// The padding after them so far (its last `tailLength` bytes): content again if more content follows.
        private var padding: [UInt8] = []

        /// An empty tail.
        public init() {}

        /// Adds the next bytes of the body. Runs on the curl thread for every chunk: it keeps its two arrays and
        /// their capacity, and copies at most `tailLength` bytes of the chunk.
        public mutating func append<C: BidirectionalCollection<UInt8>>(_ chunk: C) {
            guard let last = chunk.lastIndex(where: { !ImageFormat.isPadding($0) }) else {
                Self.keepLast(of: &padding, after: chunk.suffix(tailLength))
                return
            }
            let end = chunk.index(after: last)
            let content = chunk[..<end].suffix(tailLength)
            if content.count < tailLength {
                Self.keepLast(of: &bytes, after: padding)
                Self.keepLast(of: &bytes, after: content)
            } else {
                bytes.removeAll(keepingCapacity: true)
                bytes.append(contentsOf: content)
            }
            padding.removeAll(keepingCapacity: true)
            padding.append(contentsOf: chunk[end...].suffix(tailLength))
        }

        /// Appends `more` to `array`, then keeps its last `tailLength` bytes.
        private static func keepLast(of array: inout [UInt8], after more: some Collection<UInt8>) {
            array.append(contentsOf: more)
            if array.count > tailLength { array.removeFirst(array.count - tailLength) }
        }
    }

    static func isPadding(_ b: UInt8) -> Bool { b == 0 || b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 }

    /// SVG is text: after an optional BOM, whitespace, XML declaration, comments and doctype, the first
    /// element must be `<svg`.
    private static func looksLikeSVG(_ b: [UInt8]) -> Bool {
        var text = String(decoding: b, as: UTF8.self)
        if text.hasPrefix("\u{FEFF}") { text.removeFirst() }
        var rest = Substring(text)
        while true {
            rest = rest.drop(while: { $0.isWhitespace })
            if rest.hasPrefix("<?") || rest.hasPrefix("<!--") || rest.hasPrefix("<!") {
                let close = rest.hasPrefix("<!--") ? "-->" : ">"
                guard let end = rest.firstRange(of: close) else { return false }
                rest = rest[end.upperBound...]
                continue
            }
            return rest.hasPrefix("<svg")
        }
    }
}

extension ImageFormat {
    /// Decodes a format from its name or its file extension (the manifest's `object.ext` holds the extension,
    /// `thumbnail.format` the name).
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let format = ImageFormat(nameOrExtension: text) else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "unknown image format \(text.debugDescription)")
        }
        self = format
    }

    /// The format with this name (`jpeg`) or file extension (`jpg`), nil when unknown.
    public init?(nameOrExtension text: String) {
        guard
            let format = ImageFormat(rawValue: text) ?? ImageFormat.allCases.first(where: { $0.fileExtension == text })
        else { return nil }
        self = format
    }
}
