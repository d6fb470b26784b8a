public import Foundation
import GRDB

/// The rewrite ledger of the PostgreSQL manifest: the statements of `SQLiteManifest+Rewrite.swift`
/// (`ManifestSQL`). Every commit is durable (`synchronous_commit` on), which a rewrite record needs before its post is replaced. The
/// batch methods run the one-post statements in one transaction (all or none).
extension PostgresManifest: RewriteLedger {
    @discardableResult
    public func recordRewrite(
        post: String, inputSHA256: String, outputSHA256: String, rewrites: [RewriteRecord], at date: Date
    ) async throws(StoreError) -> Int {
        try await recordRewrites([
            PostRewrite(post: post, inputSHA256: inputSHA256, outputSHA256: outputSHA256, rewrites: rewrites, at: date)
        ])[0]
    }

    @discardableResult
    public func recordRewrites(_ rewrites: [PostRewrite]) async throws(StoreError) -> [Int] {
        guard !rewrites.isEmpty else { return [] }
        let location = location
        return try await write("recording a rewrite") { c throws(StoreError) in
            try rewrites.map { r throws(StoreError) in try Self.insertRewrite(r, c, location: location) }
        }
    }

    private static func insertRewrite(_ r: PostRewrite, _ c: PostgresConnection, location: String)
        throws(StoreError) -> Int
    {
        // The post's row is locked, so two workers rewriting the same post number their generations in turn.
        guard !(try c.execute("SELECT 1 FROM post WHERE path = ? FOR UPDATE", [r.post]).rows.isEmpty) else {
            throw StoreError(code: .invalidArgument, path: location, message: "post \(r.post) was never scanned")
        }
        let generation =
            try c.execute(
                "SELECT coalesce(max(generation), 0) + 1 FROM rewrite_generation WHERE post = ?", [r.post]
            ).column(Int.self).first ?? 1
        try c.execute(
            ManifestSQL.insertGeneration, [r.post, generation, r.inputSHA256, r.outputSHA256, r.at])
        for rewrite in r.rewrites {
            try c.execute(
                ManifestSQL.insertRewriteSpan,
                [
                    r.post, generation, rewrite.rangeStart, rewrite.rangeEnd, rewrite.replacement, rewrite.original,
                    rewrite.url, rewrite.rewrittenAt, rewrite.contextBefore, rewrite.contextAfter,
                ])
        }
        return generation
    }

    public func markRewriteApplied(post: String, generation: Int) async throws(StoreError) {
        try await markRewritesApplied([(post, generation)])
    }

    public func markRewritesApplied(_ generations: [(post: String, generation: Int)]) async throws(StoreError) {
        guard !generations.isEmpty else { return }
        let keys = generations.map { ($0.post, $0.generation) }
        try await write("recording a rewrite") { c throws(StoreError) in
            for (post, generation) in keys {
                try c.execute(
                    "UPDATE rewrite_generation SET applied = 1 WHERE post = ? AND generation = ?", [post, generation])
                try c.execute(
                    """
                    UPDATE post SET rewritten_at = (SELECT rewritten_at FROM rewrite_generation
                                                    WHERE post = ? AND generation = ?),
                                    rewritten_sha256 = (SELECT output_sha256 FROM rewrite_generation
                                                        WHERE post = ? AND generation = ?)
                    WHERE path = ?
                    """, [post, generation, post, generation, post])
            }
        }
    }

    public func discardRewrite(post: String, generation: Int) async throws(StoreError) {
        try await write("discarding a rewrite") { c throws(StoreError) in
            try c.execute("DELETE FROM rewrite WHERE post = ? AND generation = ?", [post, generation])
            try c.execute("DELETE FROM rewrite_generation WHERE post = ? AND generation = ?", [post, generation])
        }
    }

    public func forgetRewriteSpans(post: String, spans: [(generation: Int, rangeStart: Int)]) async throws(StoreError) {
        try await recordReverts([PostRevert(post: post, forgetting: spans)])
    }

    public func recordRevert(post: String, contentSHA256: String) async throws(StoreError) {
        try await recordReverts([PostRevert(post: post, contentSHA256: contentSHA256)])
    }

    public func recordReverts(_ reverts: [PostRevert]) async throws(StoreError) {
        guard !reverts.isEmpty else { return }
        try await write("recording a revert") { c throws(StoreError) in
            for revert in reverts {
                if let spans = revert.forgetting {
                    for span in spans {
                        try c.execute(
                            "DELETE FROM rewrite WHERE post = ? AND generation = ? AND range_start = ?",
                            [revert.post, span.generation, span.rangeStart])
                    }
                    try c.execute(
                        ManifestSQL.deleteEmptyGenerations, [revert.post, revert.post])
                } else {
                    try c.execute("DELETE FROM rewrite WHERE post = ?", [revert.post])
                    try c.execute("DELETE FROM rewrite_generation WHERE post = ?", [revert.post])
                    try c.execute(
                        "UPDATE post SET rewritten_at = NULL, rewritten_sha256 = NULL, content_sha256 = ? WHERE path = ?",
                        [revert.contentSHA256, revert.post])
                }
            }
        }
    }

    public func postsWithPendingRewrites() async throws(StoreError) -> [String] {
        try await read("reading rewrites") { c throws(StoreError) in
            try c.execute("SELECT DISTINCT post FROM rewrite_generation WHERE applied = 0 ORDER BY post")
                .column(String.self)
        }
    }
}
