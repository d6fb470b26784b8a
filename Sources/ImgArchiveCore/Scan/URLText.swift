/// Turning the bytes of a URL as written into the URL it means: escapes, entities, wrapping, and whether it is
/// remote.
enum URLText {
    /// Decodes CommonMark backslash escapes (when `backslashEscapes`) and HTML character references.
    static func decode(_ bytes: some Sequence<UInt8>, backslashEscapes: Bool) -> [UInt8] {
        let input = Array(bytes)
        var out: [UInt8] = []
        out.reserveCapacity(input.count)
        var i = 0
        while i < input.count {
            let c = input[i]
            if backslashEscapes, c == ASCII.backslash, i + 1 < input.count, ASCII.isPunctuation(input[i + 1]) {
                out.append(input[i + 1])
                i += 2
            } else if c == ASCII.ampersand, let (decoded, length) = characterReference(input, at: i) {
                out.append(contentsOf: decoded)
                i += length
            } else {
                out.append(c)
                i += 1
            }
        }
        return out
    }

    /// The named references that occur in URLs; anything else is kept as written.
    private static let named: [String: String] = [
        "amp": "&", "lt": "<", "gt": ">", "quot": "\"", "apos": "'", "nbsp": "\u{A0}", "sol": "/", "colon": ":",
        "equals": "=", "quest": "?", "num": "#", "percnt": "%", "lpar": "(", "rpar": ")", "period": ".",
        "comma": ",", "plus": "+", "lowbar": "_", "hyphen": "-", "tilde": "~", "excl": "!", "semi": ";",
        "commat": "@", "dollar": "$", "ast": "*", "lsqb": "[", "rsqb": "]", "verbar": "|", "Tab": "\t",
        "NewLine": "\n",
    ]

    /// An HTML character reference (`&amp;`, `&#38;`, `&#x26;`) at `i`: its UTF-8 and its length in bytes.
    static func characterReference(_ s: [UInt8], at i: Int) -> ([UInt8], Int)? {
        var j = i + 1
        if j < s.count, s[j] == ASCII.hash {
            j += 1
            var hex = false
            if j < s.count, s[j] | 0x20 == 0x78 {  // x or X
                hex = true
                j += 1
            }
            let digitsStart = j
            var value: UInt32 = 0
            while j < s.count, j - digitsStart < 8 {
                let c = s[j]
                let digit: UInt32
                if ASCII.isDigit(c) {
                    digit = UInt32(c - 0x30)
                } else if hex, (c | 0x20) >= 0x61, (c | 0x20) <= 0x66 {
                    digit = UInt32((c | 0x20) - 0x61 + 10)
                } else {
                    break
                }
                value = value * (hex ? 16 : 10) + digit
                j += 1
            }
            guard j > digitsStart, j < s.count, s[j] == ASCII.semicolon else { return nil }
            let scalar = Unicode.Scalar(value).flatMap { $0.value == 0 ? nil : $0 } ?? "\u{FFFD}"
            return (Array(String(Character(scalar)).utf8), j + 1 - i)
        }
        let nameStart = j
        while j < s.count, j - nameStart <= 32, ASCII.isLetter(s[j]) || ASCII.isDigit(s[j]) { j += 1 }
        guard j > nameStart, j < s.count, s[j] == ASCII.semicolon else { return nil }
        let name = String(decoding: s[nameStart..<j], as: UTF8.self)
        guard let value = named[name] else { return nil }
        return (Array(value.utf8), j + 1 - i)
    }

    /// Whether a decoded URL can be fetched, and its normal form.
    struct Resolved {
        var url: String
        var remote: Bool
    }

    /// Classifies and normalises a decoded URL: http(s) and `//host` are remote (the latter made https);
    /// templates, local paths and other schemes are not. Characters a URL cannot hold (the WHATWG path set:
    /// controls, space, `"`, `<`, `>`, backtick, `{`, `}` and non-ASCII bytes) are percent-encoded.
    static func resolve(_ decoded: [UInt8]) -> Resolved {
        decoded.withUnsafeBufferPointer { resolve($0) }
    }

    /// `resolve(_:)` of bytes in place (a post's URL that needs no decoding is not copied).
    static func resolve(_ all: UnsafeBufferPointer<UInt8>) -> Resolved {
        var s = 0
        var e = all.count
        while s < e, ASCII.isWhitespace(all[s]) { s += 1 }
        while e > s, ASCII.isWhitespace(all[e - 1]) { e -= 1 }
        let text = UnsafeBufferPointer(rebasing: all[s..<e])
        var remote = false
        var prefixed = false
        if hasPrefixCaseInsensitive(text, "http://") || hasPrefixCaseInsensitive(text, "https://") {
            remote = !isTemplated(text) && text.count > (text[4] == ASCII.colon ? 7 : 8)
        } else if text.count > 2, text[0] == ASCII.slash, text[1] == ASCII.slash, text[2] != ASCII.slash {
            remote = !isTemplated(text)
            prefixed = remote
        }
        guard remote else { return Resolved(url: String(decoding: text, as: UTF8.self), remote: false) }
        let schemeEnd = text.firstIndex(of: ASCII.colon) ?? 0
        var unchanged = !prefixed
        var k = 0
        while unchanged, k < text.count {
            let c = text[k]
            unchanged = k < schemeEnd ? !(c >= 0x41 && c <= 0x5A) : !needsPercentEncoding(c)
            k += 1
        }
        // The usual case: the URL as written.
        if unchanged { return Resolved(url: String(decoding: text, as: UTF8.self), remote: true) }
        var out: [UInt8] = prefixed ? Array("https:".utf8) : []
        out.reserveCapacity(text.count + 8)
        for (k, c) in text.enumerated() {
            if k < schemeEnd {
                out.append(ASCII.lower(c))
            } else if needsPercentEncoding(c) {
                out.append(ASCII.percent)
                out.append(hexDigit(c >> 4))
                out.append(hexDigit(c & 0xF))
            } else {
                out.append(c)
            }
        }
        return Resolved(url: String(decoding: out, as: UTF8.self), remote: true)
    }

    /// The bytes a URL cannot hold as they are (the WHATWG path set).
    @inline(__always)
    private static func needsPercentEncoding(_ c: UInt8) -> Bool {
        c <= 0x20 || c >= 0x7F || c == ASCII.quote || c == ASCII.lessThan || c == ASCII.greaterThan
            || c == ASCII.backtick || c == ASCII.openBrace || c == ASCII.closeBrace
    }

    /// Whether a URL holds a template tag (`{{` or `{%`): it is filled in when the site is built.
    private static func isTemplated(_ s: UnsafeBufferPointer<UInt8>) -> Bool {
        let b = ByteView(base: s)
        return b.find("{{", from: 0, end: s.count) != nil || b.find("{%", from: 0, end: s.count) != nil
    }

    private static func hexDigit(_ v: UInt8) -> UInt8 { v < 10 ? 0x30 + v : 0x41 + v - 10 }

    private static func hasPrefixCaseInsensitive(_ s: UnsafeBufferPointer<UInt8>, _ p: StaticString) -> Bool {
        let n = p.utf8CodeUnitCount
        guard s.count >= n else { return false }
        for k in 0..<n where ASCII.lower(s[k]) != p.utf8Start[k] { return false }
        return true
    }
}
