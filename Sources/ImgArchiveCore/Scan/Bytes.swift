#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Byte constants and classes shared by the scanner passes.
enum ASCII {
    static let tab: UInt8 = 0x09
    static let lf: UInt8 = 0x0A
    static let cr: UInt8 = 0x0D
    static let space: UInt8 = 0x20
    static let bang: UInt8 = 0x21
    static let quote: UInt8 = 0x22
    static let hash: UInt8 = 0x23
    static let ampersand: UInt8 = 0x26
    static let apostrophe: UInt8 = 0x27
    static let openParen: UInt8 = 0x28
    static let closeParen: UInt8 = 0x29
    static let star: UInt8 = 0x2A
    static let plus: UInt8 = 0x2B
    static let comma: UInt8 = 0x2C
    static let minus: UInt8 = 0x2D
    static let dot: UInt8 = 0x2E
    static let slash: UInt8 = 0x2F
    static let colon: UInt8 = 0x3A
    static let semicolon: UInt8 = 0x3B
    static let lessThan: UInt8 = 0x3C
    static let equals: UInt8 = 0x3D
    static let greaterThan: UInt8 = 0x3E
    static let openBracket: UInt8 = 0x5B
    static let backslash: UInt8 = 0x5C
    static let closeBracket: UInt8 = 0x5D
    static let backtick: UInt8 = 0x60
    static let openBrace: UInt8 = 0x7B
    static let pipe: UInt8 = 0x7C
    static let closeBrace: UInt8 = 0x7D
    static let tilde: UInt8 = 0x7E
    static let percent: UInt8 = 0x25

    @inline(__always) static func isSpaceOrTab(_ c: UInt8) -> Bool { c == space || c == tab }
    @inline(__always) static func isLineEnd(_ c: UInt8) -> Bool { c == lf || c == cr }
    /// Space, tab, line feed, form feed, carriage return (HTML and CommonMark whitespace).
    @inline(__always) static func isWhitespace(_ c: UInt8) -> Bool {
        c == space || c == tab || c == lf || c == cr || c == 0x0C
    }
    @inline(__always) static func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }
    @inline(__always) static func isLetter(_ c: UInt8) -> Bool { (c | 0x20) >= 0x61 && (c | 0x20) <= 0x7A }
    @inline(__always) static func lower(_ c: UInt8) -> UInt8 { isLetter(c) ? c | 0x20 : c }
    /// ASCII punctuation: the characters a backslash can escape in CommonMark.
    @inline(__always) static func isPunctuation(_ c: UInt8) -> Bool {
        (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) || (c >= 0x5B && c <= 0x60) || (c >= 0x7B && c <= 0x7E)
    }
}

/// A read-only view of a post's bytes for the scanner passes. Valid only inside `withUnsafeBufferPointer`.
struct ByteView {
    let base: UnsafeBufferPointer<UInt8>
    var count: Int { base.count }

    @inline(__always) subscript(_ i: Int) -> UInt8 { base[i] }

    /// The byte at `i`, or 0 past the end (0 never matches anything the scanner looks for).
    @inline(__always) func at(_ i: Int) -> UInt8 { i >= 0 && i < base.count ? base[i] : 0 }

    /// True when the bytes at `i` equal `literal`, compared ASCII-case-insensitively.
    func matchesCaseInsensitive(_ literal: StaticString, at i: Int, end: Int) -> Bool {
        let n = literal.utf8CodeUnitCount
        guard i >= 0, i + n <= end else { return false }
        let p = literal.utf8Start
        for k in 0..<n where ASCII.lower(base[i + k]) != p[k] { return false }
        return true
    }

    /// True when the bytes at `i` equal `literal` exactly.
    func matches(_ literal: StaticString, at i: Int, end: Int) -> Bool {
        let n = literal.utf8CodeUnitCount
        guard i >= 0, i + n <= end else { return false }
        let p = literal.utf8Start
        for k in 0..<n where base[i + k] != p[k] { return false }
        return true
    }

    /// The first position in `from..<end` where `literal` starts, or nil.
    func find(_ literal: StaticString, from: Int, end: Int) -> Int? {
        find(literal, from: from, end: end, caseInsensitive: false)
    }

    /// The first position in `from..<end` where `literal` starts, ignoring ASCII case (literal is lower case).
    func findCaseInsensitive(_ literal: StaticString, from: Int, end: Int) -> Int? {
        find(literal, from: from, end: end, caseInsensitive: true)
    }

    private func find(_ literal: StaticString, from: Int, end: Int, caseInsensitive: Bool) -> Int? {
        let n = literal.utf8CodeUnitCount
        guard n > 0, end - from >= n else { return nil }
        let first = literal.utf8Start[0]
        var i = from
        let last = end - n
        if !caseInsensitive, from >= 0, end <= base.count, let start = base.baseAddress {
            // memchr for the first byte (vectorised in libc), then compare the rest.
            while i <= last {
                guard let hit = memchr(start + i, Int32(first), last - i + 1) else { return nil }
                let j = start.distance(to: hit.assumingMemoryBound(to: UInt8.self))
                if matches(literal, at: j, end: end) { return j }
                i = j + 1
            }
            return nil
        }
        while i <= last {
            let c = caseInsensitive ? ASCII.lower(base[i]) : base[i]
            if c == first,
                caseInsensitive ? matchesCaseInsensitive(literal, at: i, end: end) : matches(literal, at: i, end: end)
            {
                return i
            }
            i += 1
        }
        return nil
    }

    /// The text of a byte range, with invalid UTF-8 shown as U+FFFD.
    func string(_ range: Range<Int>) -> String {
        String(decoding: UnsafeBufferPointer(rebasing: base[range]), as: UTF8.self)
    }

    /// `string(range).lowercased()`, without Unicode's case tables when the bytes are ASCII (names of tags and
    /// attributes almost always are).
    func lowercasedString(_ range: Range<Int>) -> String {
        let bytes = UnsafeBufferPointer(rebasing: base[range])
        guard bytes.count <= 32, bytes.allSatisfy({ $0 < 0x80 }) else { return string(range).lowercased() }
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: bytes.count) { lower in
            for (k, c) in bytes.enumerated() { lower[k] = ASCII.lower(c) }
            return String(decoding: lower, as: UTF8.self)
        }
    }
}
