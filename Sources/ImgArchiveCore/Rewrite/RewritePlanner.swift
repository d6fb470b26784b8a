/// What the archive holds for one URL, as the rewriter needs it.
public enum ArchivedAsset: Sendable, Hashable {
    /// Archived: the original's path in the archive, and its thumbnails' paths by width.
    case archived(original: String, thumbnails: [Int: String])
    /// Archived once, but the file is not in the archive any more.
    case missingFile(String)
    /// The last fetch failed.
    case failed(errorClass: String, message: String)
    /// Never fetched.
    case notFetched
}

/// A reference the rewriter left as it is, and why.
public struct LeftRemote: Sendable, Hashable {
    /// The reference.
    public var reference: ImageReference
    /// Why, and what to do.
    public var reason: String
    /// A short class for summaries: `not-fetched`, `failed`, `missing-file`.
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
        for reference in references where reference.remote {
            switch asset(reference.url) {
            case .archived(let original, let thumbnails):
                let file = reference.width.flatMap { thumbnails[$0] } ?? original
                rewrites.append(
                    PlannedRewrite(
                        reference: reference, replacement: linker.link(archivePath: file, fromPost: postPath)))
            case .missingFile(let path):
                leftRemote.append(
                    LeftRemote(
                        reference: reference,
                        reason: "archived, but \(path) is missing from the archive; run imgarchive verify --repair",
                        kind: "missing-file"))
            case .failed(let errorClass, let message):
                leftRemote.append(
                    LeftRemote(reference: reference, reason: "fetch failed (\(errorClass)): \(message)", kind: "failed"))
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

        /// Creates a span.
        public init(range: Range<Int>, replacement: [UInt8], original: [UInt8]) {
            self.range = range
            self.replacement = replacement
            self.original = original
        }
    }

    /// The spans, in the order of the post.
    public var spans: [Span]

    /// Creates a step.
    public init(spans: [Span]) {
        self.spans = spans
    }

    /// Undoes this step on exactly its output bytes; nil when a span does not hold its replacement.
    public func undoExactly(_ bytes: [UInt8]) -> [UInt8]? {
        for span in spans {
            guard span.range.upperBound <= bytes.count, bytes[span.range].elementsEqual(span.replacement) else {
                return nil
            }
        }
        return Splice.apply(spans.map { Splice(range: $0.range, replacement: $0.original) }, to: bytes)?.bytes
    }

    /// Undoes this step on bytes edited since it was written: each replacement is looked for in order, from
    /// where the previous one ended, and put back to its original. Returns the bytes and how many spans were
    /// not found (the user removed or changed them; those stay as they are).
    public func undoByContent(_ bytes: [UInt8]) -> (bytes: [UInt8], missing: Int) {
        var splices: [Splice] = []
        var cursor = 0
        var missing = 0
        for span in spans {
            guard let at = firstIndex(of: span.replacement, in: bytes, from: cursor) else {
                missing += 1
                continue
            }
            splices.append(Splice(range: at..<(at + span.replacement.count), replacement: span.original))
            cursor = at + span.replacement.count
        }
        return (Splice.apply(splices, to: bytes)?.bytes ?? bytes, missing)
    }
}
