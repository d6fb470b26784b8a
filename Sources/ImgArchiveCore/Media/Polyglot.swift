extension ImageFormat {
    /// Tags that make a browser's content sniffer, or an HTML parser reading the bytes, treat a file as a
    /// scriptable document. Each is matched case-insensitively and only when followed by a byte that ends a tag
    /// name (space, tab, line end, form feed, `/` or `>`), so that random bytes of compressed image data match
    /// with a chance near 2^-40 per position (the shortest, `<svg` plus its end byte, is five bytes).
    static let scriptableTags = [
        "<script", "<html", "<body", "<head", "<iframe", "<object", "<embed", "<svg", "<img", "<meta", "<style",
        "<!doctype",
    ]
    /// `scriptableTags` as bytes.
    private static let scriptablePatterns = scriptableTags.map { Array($0.utf8) }

    /// Why bytes that sniff as this format also read as something a browser could run, or nil when they do not.
    ///
    /// The rule (applied to the first `sniffLength` bytes, the ones the sniffer saw):
    /// - a binary format (every format but SVG) whose first bytes hold one of `scriptableTags`: an image that is
    ///   also an HTML or SVG document (a PNG or GIF with `<script>` in a text chunk or comment, an SVG behind a
    ///   PNG signature);
    /// - a GIF whose logical screen width bytes are `/*`, or a JPEG whose first segment length bytes are `/*`:
    ///   the header is the start of a JavaScript comment, the classic GIF/JPEG-JavaScript polyglot (as Latin-1,
    ///   `GIF89a` and `ÿØÿà` are identifiers). An ordinary GIF would need to be exactly 10799 px wide, and an
    ///   ordinary JPEG's first segment is 16 (JFIF) or a few hundred to 64 KB (Exif) bytes long, never 12074;
    /// - an SVG whose DOCTYPE names another root element (`<!DOCTYPE html>`): the file is an HTML document too.
    public func polyglotReason<C: Collection<UInt8>>(_ prefix: C) -> String? where C.Index == Int {
        let b = Array(prefix.prefix(Self.sniffLength))
        switch self {
        case .svg:
            var text = Substring(String(decoding: b, as: UTF8.self).lowercased())
            while let at = text.range(of: "<!doctype") {
                let name = text[at.upperBound...].drop(while: { $0.isWhitespace }).prefix(while: {
                    !$0.isWhitespace && $0 != ">" && $0 != "["
                })
                if !name.isEmpty && name != "svg" && !name.hasSuffix(":svg") {
                    return "it is an SVG that declares a DOCTYPE \(name.prefix(20)), so it is also an HTML document"
                }
                text = text[at.upperBound...]
            }
            return nil
        case .gif where b.count >= 8 && b[6] == UInt8(ascii: "/") && b[7] == UInt8(ascii: "*"),
            .jpeg where b.count >= 6 && b[4] == UInt8(ascii: "/") && b[5] == UInt8(ascii: "*"):
            return "its \(self == .gif ? "GIF" : "JPEG") header is also the start of a JavaScript comment "
                + "(an image/JavaScript polyglot)"
        default:
            let lower = b.map { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 }
            // Every tag starts with `<`: only where one is (a few places in 512 bytes of compressed data) is a tag
            // compared, instead of every tag at every byte (this runs on the curl thread for every download).
            let opens = lower.indices.filter { lower[$0] == UInt8(ascii: "<") }
            guard !opens.isEmpty else { return nil }
            for (tag, pattern) in zip(Self.scriptableTags, Self.scriptablePatterns) {
                for at in opens where at + pattern.count < lower.count {
                    guard lower[at..<(at + pattern.count)].elementsEqual(pattern) else { continue }
                    if [0x20, 0x09, 0x0A, 0x0C, 0x0D, 0x2F, 0x3E].contains(lower[at + pattern.count]) {
                        return "its first \(Self.sniffLength) bytes also hold HTML markup (\(tag)), so it is an "
                            + "\(fileExtension) image and a web page at once (a polyglot)"
                    }
                }
            }
            return nil
        }
    }
}
