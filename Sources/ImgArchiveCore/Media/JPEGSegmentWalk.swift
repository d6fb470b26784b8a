#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Follows a JPEG's marker structure as its bytes arrive, to tell a whole image from one cut short whatever
/// follows its end: Samsung trailers, motion photos (an MP4 after the JPEG), gain maps and other camera data
/// appended after the EOI marker are not part of the image and do not make it incomplete.
///
/// From SOI on, a marker segment (`FF xx` with a 2-byte length) is skipped by its length without looking at its
/// bytes, so an EXIF thumbnail's own EOI inside APP1 does not count. Between segments, and in the entropy-coded
/// data after SOS, bytes are skipped to the next `FF` (found with `memchr`), and `FF` followed by `00` (stuffing),
/// `D0`-`D7` (RST), `01` (TEM) or more `FF`s (fill) is not a segment. So the walk costs about one `memchr` per
/// chunk and never holds bytes: each chunk is seen once, as it arrives. Like libjpeg, it skips stray bytes where
/// a marker should be rather than giving up. The image has ended at the first EOI (`FF D9`) so found.
public struct JPEGSegmentWalk: Sendable, Hashable {
    private enum State: Sendable, Hashable {
        /// Before the first byte, then after `FF`: SOI must open the body.
        case start, startMarker
        /// Looking for the next `FF`.
        case seek
        /// After an `FF`: the marker code comes next.
        case marker
        /// Reading a segment's length (its high byte, then its low byte).
        case lengthHigh, lengthLow
        /// Skipping the rest of a segment.
        case skip
        /// EOI was seen.
        case ended
        /// The body does not start with SOI: not a JPEG, nothing to follow.
        case notJPEG
    }

    private var state = State.start
    private var lengthHigh: UInt8 = 0
    private var left = 0

    /// A walk before the first byte.
    public init() {}

    /// Whether the bytes so far reached the image's EOI marker (what follows it does not matter).
    public var reachedEnd: Bool { state == .ended }

    /// Follows the next bytes of the body.
    public mutating func append(_ chunk: UnsafeRawBufferPointer) {
        guard let base = chunk.baseAddress else { return }
        let count = chunk.count
        var i = 0
        while i < count {
            switch state {
            case .ended, .notJPEG:
                return
            case .start:
                state = chunk[i] == 0xFF ? .startMarker : .notJPEG
                i += 1
            case .startMarker:
                state = chunk[i] == 0xD8 ? .seek : .notJPEG
                i += 1
            case .seek:
                guard let hit = memchr(base + i, 0xFF, count - i) else { return }
                i = base.distance(to: UnsafeRawPointer(hit)) + 1
                state = .marker
            case .marker:
                let code = chunk[i]
                i += 1
                switch code {
                case 0xFF: break  // fill byte: the code is still to come
                case 0x00, 0x01, 0xD0...0xD8: state = .seek  // stuffing, TEM, RSTn, SOI: no length follows
                case 0xD9: state = .ended
                default: state = .lengthHigh
                }
            case .lengthHigh:
                lengthHigh = chunk[i]
                i += 1
                state = .lengthLow
            case .lengthLow:
                // The length counts its own two bytes; a bogus one below 2 skips nothing.
                left = max(0, (Int(lengthHigh) << 8 | Int(chunk[i])) - 2)
                i += 1
                state = left > 0 ? .skip : .seek
            case .skip:
                let step = min(left, count - i)
                i += step
                left -= step
                if left == 0 { state = .seek }
            }
        }
    }

    /// Follows the next bytes of the body.
    public mutating func append<C: Collection<UInt8>>(_ chunk: C) {
        if chunk.withContiguousStorageIfAvailable({ append(UnsafeRawBufferPointer($0)) }) == nil {
            Array(chunk).withUnsafeBytes { append($0) }
        }
    }
}
