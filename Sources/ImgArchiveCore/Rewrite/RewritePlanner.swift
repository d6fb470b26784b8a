/// What the archive holds for one URL, as the rewriter needs it.
public enum ArchivedAsset: Sendable, Hashable {
    /// Archived: the original's path in the archive, and its thumbnails' paths by width.
    case archived(original: String, thumbnails: [Int: String])
    /// Archived once, but the file is not in the archive any more.
    case missingFile(String)
    /// Archived, but not to be linked: an SVG with no sanitized copy, and why (`SVGSanitizer`).
    case unpublishable(String)
    /// The last fetch failed.
    case failed(errorClass: FailureClass, message: String)
    /// Never fetched.
    case notFetched
    /// A link target (`link-image`) that is a page, not an image: left as it is, and not waited for.
    case notAnImage
}

/// A reference the rewriter left as it is, and why.
public struct LeftRemote: Sendable, Hashable {
    /// The reference.
    public var reference: ImageReference
    /// Why, and what to do.
    public var reason: String
    /// A short class for summaries: `not-fetched`, `failed`, `missing-file`, `unsafe-svg`.
    public var kind: String
}

/// One reference the rewriter replaces.
public struct PlannedRewrite: Sendable, Hashable {
    /// The reference as scanned.
    public var reference: ImageReference
    /// The link written in its place.
    public var replacement: String
}

/// The edits of one post: which references become which local links, and which stay.
public struct RewritePlan: Sendable, Hashable {
    /// The references replaced, in the order of the post.
    public var rewrites: [PlannedRewrite] = []
    /// The remote references left as they are.
    public var leftRemote: [LeftRemote] = []

    /// The splices that make the rewritten post.
    public var splices: [Splice] {
        rewrites.map { Splice(range: $0.reference.range, replacement: Array($0.replacement.utf8)) }
    }

    /// Plans a post's rewrite. Each remote reference whose image is archived gets a link to the thumbnail at
    /// the width the post shows when there is one, else to the original; a wrapped URL's whole broken span
    /// becomes that one-line link. `asset` answers what the archive holds for a URL.
    public init(
        references: [ImageReference], postPath: String, linker: ArchiveLinker,
        asset: (String) -> ArchivedAsset
    ) {
        for reference in references where reference.remote && !linker.isArchiveLink(reference.url) {
            switch asset(reference.url) {
            case .archived(let original, let thumbnails):
                let file = reference.width.flatMap { thumbnails[$0] } ?? original
                let link = linker.link(archivePath: file, fromPost: postPath)
                // Already this very link (a URL under --archive-url): nothing to change.
                if link != reference.written {
                    rewrites.append(PlannedRewrite(reference: reference, replacement: link))
                }
            case .missingFile(let path):
                leftRemote.append(
                    LeftRemote(
                        reference: reference,
                        reason: "archived, but \(path) is missing from the archive; run imgarchive verify --repair",
                        kind: "missing-file"))
            case .unpublishable(let reason):
                leftRemote.append(LeftRemote(reference: reference, reason: reason, kind: "unsafe-svg"))
            case .failed(let errorClass, let message):
                leftRemote.append(
                    LeftRemote(reference: reference, reason: "fetch failed (\(errorClass)): \(message)", kind: "failed")
                )
            case .notAnImage:
                break
            case .notFetched:
                leftRemote.append(
                    LeftRemote(
                        reference: reference, reason: "not archived yet; run imgarchive fetch first",
                        kind: "not-fetched"))
            }
        }
    }
}

/// One rewrite of a post to undo: the spans it wrote (ranges in its output) and the bytes they replaced.
public struct RevertStep: Sendable, Hashable {
    /// One span.
    public struct Span: Sendable, Hashable {
        /// Where the replacement lies in the step's output.
        public var range: Range<Int>
        /// The text the rewrite wrote.
        public var replacement: [UInt8]
        /// The exact bytes that were there before.
        public var original: [UInt8]
        /// A few bytes before and after the replacement in the step's output (empty when unknown).
        public var before: [UInt8]
        public var after: [UInt8]

        /// Creates a span.
        public init(
            range: Range<Int>, replacement: [UInt8], original: [UInt8], before: [UInt8] = [], after: [UInt8] = []
        ) {
            self.range = range
            self.replacement = replacement
            self.original = original
            self.before = before
            self.after = after
        }

        /// The span's context in `output`, the bytes its step wrote: up to `width` bytes on each side.
        public static func context(of range: Range<Int>, in output: [UInt8], width: Int = 8) -> (
            before: [UInt8], after: [UInt8]
        ) {
            (
                Array(output[max(0, range.lowerBound - width)..<range.lowerBound]),
                Array(output[range.upperBound..<min(output.count, range.upperBound + width)])
            )
        }
    }

    /// The spans, in the order of the post.
    public var spans: [Span]

    /// Creates a step.
    public init(spans: [Span]) {
        self.spans = spans
    }

    /// Undoes this step on exactly its output bytes: the restored bytes and the splices applied to `bytes`;
    /// nil when a span does not hold its replacement.
    public func undoExactly(_ bytes: [UInt8]) -> (bytes: [UInt8], splices: [Splice])? {
        for span in spans {
            guard span.range.upperBound <= bytes.count, bytes[span.range].elementsEqual(span.replacement) else {
                return nil
            }
        }
        let splices = spans.map { Splice(range: $0.range, replacement: $0.original) }
        return Splice.apply(splices, to: bytes).map { ($0.bytes, splices) }
    }

    /// Undoes this step on bytes edited since it was written (paragraphs added, moved or deleted). Each
    /// replacement is looked for where a link can stand (not inside a longer path). A link whose surrounding
    /// bytes are those recorded for exactly one span, and for no other occurrence, is that span's, wherever it
    /// moved; the other occurrences of the same link are given to the remaining spans in their order. Returns
    /// the bytes, the splices applied to `bytes`, and the indices of the spans not found (removed or changed by
    /// the user; those stay as they are). Time is linear in `bytes` and the number of spans.
    public func undoByContent(_ bytes: [UInt8]) -> (bytes: [UInt8], splices: [Splice], notFound: [Int]) {
        struct Key: Hashable {
            var replacement: [UInt8]
            var before: [UInt8]
            var after: [UInt8]
        }
        var chosen: [Int: Range<Int>] = [:]
        let groups = Dictionary(grouping: spans.indices, by: { spans[$0].replacement })
        for (replacement, members) in groups {
            let occurrences = Self.occurrences(of: replacement, in: bytes)
            var used = Set<Int>()
            // By context, where it is unique on both sides: both neighbourhoods, then either one (a link moved
            // to the start or end of the post keeps only one of them).
            for sides in [(true, true), (true, false), (false, true)] {
                var spansByKey: [Key: [Int]] = [:]
                for i in members where chosen[i] == nil {
                    let key = Key(
                        replacement: replacement, before: sides.0 ? spans[i].before : [],
                        after: sides.1 ? spans[i].after : [])
                    if !key.before.isEmpty || !key.after.isEmpty { spansByKey[key, default: []].append(i) }
                }
                // Recorded contexts are 8 bytes a side, shorter only at the ends of the post: few lengths.
                var lengths = Set<[Int]>()
                for key in spansByKey.keys { lengths.insert([key.before.count, key.after.count]) }
                var occurrencesByKey: [Key: [Int]] = [:]
                for (o, range) in occurrences.enumerated() where !used.contains(o) {
                    for length in lengths {
                        let before = range.lowerBound - length[0]
                        let after = range.upperBound + length[1]
                        guard before >= 0, after <= bytes.count else { continue }
                        let key = Key(
                            replacement: replacement, before: Array(bytes[before..<range.lowerBound]),
                            after: Array(bytes[range.upperBound..<after]))
                        if spansByKey[key] != nil { occurrencesByKey[key, default: []].append(o) }
                    }
                }
                for (key, spanIndices) in spansByKey where spanIndices.count == 1 {
                    guard let found = occurrencesByKey[key], found.count == 1, !used.contains(found[0]) else {
                        continue
                    }
                    chosen[spanIndices[0]] = occurrences[found[0]]
                    used.insert(found[0])
                }
            }
            // The rest in order.
            let rest = members.filter { chosen[$0] == nil }.sorted {
                spans[$0].range.lowerBound < spans[$1].range.lowerBound
            }
            let free = occurrences.indices.filter { !used.contains($0) }
            for (i, o) in zip(rest, free) { chosen[i] = occurrences[o] }
        }
        // Different links never overlap where links can stand; drop any that would, to be safe.
        var splices: [Splice] = []
        var end = 0
        for (i, range) in chosen.sorted(by: { $0.value.lowerBound < $1.value.lowerBound }) {
            guard range.lowerBound >= end else {
                chosen[i] = nil
                continue
            }
            splices.append(Splice(range: range, replacement: spans[i].original))
            end = range.upperBound
        }
        let notFound = spans.indices.filter { chosen[$0] == nil }
        return (Splice.apply(splices, to: bytes)?.bytes ?? bytes, splices, notFound)
    }

    /// The non-overlapping places `link` stands in `bytes` as a whole link: not preceded or followed by a
    /// character that would make it part of a longer path or URL.
    public static func occurrences(of link: [UInt8], in bytes: [UInt8]) -> [Range<Int>] {
        func pathByte(_ b: UInt8) -> Bool {
            switch b {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "/"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"), UInt8(ascii: "%"), UInt8(ascii: "-"), UInt8(ascii: ":"):
                return true
            default:
                return false
            }
        }
        var found: [Range<Int>] = []
        var from = 0
        while let at = firstIndex(of: link, in: bytes, from: from) {
            let end = at + link.count
            if (at == 0 || !pathByte(bytes[at - 1])) && (end == bytes.count || !pathByte(bytes[end])) {
                found.append(at..<end)
                from = end
            } else {
                from = at + 1
            }
        }
        return found
    }
}

extension Splice {
    /// Splices to apply to `bytes` that have the effect of applying `first`, then `second` (whose ranges are in
    /// `first`'s output) to them. `second` must not touch what `first` wrote, which holds for rewrites: each
    /// replaces a different reference.
    public static func compose(_ first: [Splice], then second: [Splice]) -> [Splice] {
        let sortedFirst = first.sorted { $0.range.lowerBound < $1.range.lowerBound }
        var mapped: [Splice] = []
        for s in second {
            // Shift back by what the earlier splices of `first` added before this range.
            var delta = 0
            for f in sortedFirst {
                let outputStart = f.range.lowerBound + delta
                guard outputStart + f.replacement.count <= s.range.lowerBound else { break }
                delta += f.replacement.count - f.range.count
            }
            mapped.append(
                Splice(range: (s.range.lowerBound - delta)..<(s.range.upperBound - delta), replacement: s.replacement))
        }
        return (first + mapped).sorted { $0.range.lowerBound < $1.range.lowerBound }
    }
}

extension RewritePlan {
    /// The references a scan of the rewritten post would find, without scanning it again: `references` (the
    /// scan of `bytes`, the post before the rewrite) less the ones rewritten, each moved by the splices before
    /// it. nil when that cannot be told this way and the caller must scan: a replaced span or its link holds a
    /// line break or a byte outside ASCII (lines and columns would move otherwise), a link is itself a URL (a
    /// scan would list it), or a reference overlaps a replaced span.
    public func references(after references: [ImageReference], in bytes: [UInt8]) -> [ImageReference]? {
        func plain(_ b: some Sequence<UInt8>) -> Bool { b.allSatisfy { $0 < 0x80 && $0 != 0x0A && $0 != 0x0D } }
        let replaced = rewrites.sorted { $0.reference.range.lowerBound < $1.reference.range.lowerBound }
        let scheme = Array("://".utf8)
        for r in replaced {
            let link = Array(r.replacement.utf8)
            // `firstIndex(of:in:from:)`, not the standard library's generic `firstRange(of:)`: that one built a
            // searcher per call and was a tenth of a rewrite's CPU.
            guard r.reference.range.upperBound <= bytes.count, plain(bytes[r.reference.range]), plain(link),
                !r.replacement.hasPrefix("//"), firstIndex(of: scheme, in: link, from: 0) == nil
            else { return nil }
        }
        var kept: [ImageReference] = []
        for var reference in references {
            var shift = 0
            var column = 0
            var isReplaced = false
            for r in replaced {
                let range = r.reference.range
                if range == reference.range && r.reference == reference {
                    isReplaced = true
                    break
                }
                if range.upperBound <= reference.range.lowerBound {
                    let delta = r.replacement.utf8.count - range.count
                    shift += delta
                    if r.reference.line == reference.line { column += delta }
                } else if range.lowerBound < reference.range.upperBound || range == reference.range {
                    return nil
                }
            }
            if isReplaced { continue }
            reference.range = (reference.range.lowerBound + shift)..<(reference.range.upperBound + shift)
            reference.column += column
            kept.append(reference)
        }
        return kept
    }
}
