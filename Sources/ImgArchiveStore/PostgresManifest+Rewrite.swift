public import Foundation
import GRDB

/// The rewrite ledger of the PostgreSQL manifest: the statements of `SQLiteManifest+Rewrite.swift`. Every
/// commit is durable (`synchronous_commit` on), which a rewrite record needs before its post is replaced.
extension PostgresManifest: RewriteLedger {
    @discardableResult
    public func recordRewrite(
        post: String, inputSHA256: String, outputSHA256: String, rewrites: [RewriteRecord], at date: Date
    ) async throws(StoreError) -> Int {
        let location = location
        return try await write("recording a rewrite") { c throws(StoreError) in
            // The post's row is locked, so two workers rewriting the same post number their generations in turn.
            guard !(try c.execute("SELECT 1 FROM post WHERE path = ? FOR UPDATE", [post]).rows.isEmpty) else {
                throw StoreError(code: .invalidArgument, path: location, message: "post \(post) was never scanned")
            }
            let generation =
                try c.execute(
                    "SELECT coalesce(max(generation), 0) + 1 FROM rewrite_generation WHERE post = ?", [post]
                ).column(Int.self).first ?? 1
            try c.execute(
                """
                INSERT INTO rewrite_generation (post, generation, input_sha256, output_sha256, applied, rewritten_at)
                VALUES (?, ?, ?, ?, 0, ?)
                """, [post, generation, inputSHA256, outputSHA256, date])
            for rewrite in rewrites {
                try c.execute(
                    """
                    INSERT INTO rewrite (post, generation, range_start, range_end, replacement, original, url,
                                         rewritten_at, context_before, context_after)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                    [
                        post, generation, rewrite.rangeStart, rewrite.rangeEnd, rewrite.replacement, rewrite.original,
                        rewrite.url, rewrite.rewrittenAt, rewrite.contextBefore, rewrite.contextAfter,
                    ])
            }
            return generation
        }
    }

    public func markRewriteApplied(post: String, generation: Int) async throws(StoreError) {
        try await write("recording a rewrite") { c throws(StoreError) in
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

    public func discardRewrite(post: String, generation: Int) async throws(StoreError) {
        try await write("discarding a rewrite") { c throws(StoreError) in
            try c.execute("DELETE FROM rewrite WHERE post = ? AND generation = ?", [post, generation])
            try c.execute("DELETE FROM rewrite_generation WHERE post = ? AND generation = ?", [post, generation])
        }
    }

    public func forgetRewriteSpans(post: String, spans: [(generation: Int, rangeStart: Int)]) async throws(StoreError) {
        let keys = spans.map { [$0.generation, $0.rangeStart] }
        try await write("recording a revert") { c throws(StoreError) in
            for key in keys {
                try c.execute(
                    "DELETE FROM rewrite WHERE post = ? AND generation = ? AND range_start = ?",
                    [post, key[0], key[1]])
            }
            try c.execute(
                """
                DELETE FROM rewrite_generation WHERE post = ?
                AND generation NOT IN (SELECT generation FROM rewrite WHERE post = ?)
                """, [post, post])
        }
    }

    public func recordRevert(post: String, contentSHA256: String) async throws(StoreError) {
        try await write("recording a revert") { c throws(StoreError) in
            try c.execute("DELETE FROM rewrite WHERE post = ?", [post])
            try c.execute("DELETE FROM rewrite_generation WHERE post = ?", [post])
            try c.execute(
                "UPDATE post SET rewritten_at = NULL, rewritten_sha256 = NULL, content_sha256 = ? WHERE path = ?",
                [contentSHA256, post])
        }
    }
}
