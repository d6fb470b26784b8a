public import Foundation
import GRDB

/// The rewrite ledger of the SQLite manifest: generations, their spans, and revert.
extension SQLiteManifest: RewriteLedger {
    @discardableResult
    public func recordRewrite(
        post: String, inputSHA256: String, outputSHA256: String, rewrites: [RewriteRecord], at date: Date
    ) async throws(StoreError) -> Int {
        let path = path
        // Durable before the post is renamed: after a power loss the post may show the rewrite, so its record
        // (the original bytes) must be there too.
        return try await durableWrite("recording a rewrite") { db in
            guard try Bool.fetchOne(db, sql: "SELECT 1 FROM post WHERE path = ?", arguments: [post]) != nil else {
                throw StoreError(code: .invalidArgument, path: path, message: "post \(post) was never scanned")
            }
            let generation =
                try Int.fetchOne(
                    db, sql: "SELECT coalesce(max(generation), 0) + 1 FROM rewrite_generation WHERE post = ?",
                    arguments: [post]) ?? 1
            try db.execute(
                sql: """
                    INSERT INTO rewrite_generation (post, generation, input_sha256, output_sha256, applied, rewritten_at)
                    VALUES (?, ?, ?, ?, 0, ?)
                    """,
                arguments: [post, generation, inputSHA256, outputSHA256, date])
            let insert = try db.cachedStatement(
                sql: """
                    INSERT INTO rewrite (post, generation, range_start, range_end, replacement, original, url,
                                         rewritten_at, context_before, context_after)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """)
            for rewrite in rewrites {
                try insert.execute(arguments: [
                    post, generation, rewrite.rangeStart, rewrite.rangeEnd, rewrite.replacement, rewrite.original,
                    rewrite.url, rewrite.rewrittenAt, rewrite.contextBefore, rewrite.contextAfter,
                ])
            }
            return generation
        }
    }

    public func markRewriteApplied(post: String, generation: Int) async throws(StoreError) {
        try await write("recording a rewrite") { db in
            try db.execute(
                sql: "UPDATE rewrite_generation SET applied = 1 WHERE post = ? AND generation = ?",
                arguments: [post, generation])
            try db.execute(
                sql: """
                    UPDATE post SET rewritten_at = (SELECT rewritten_at FROM rewrite_generation
                                                    WHERE post = ? AND generation = ?),
                                    rewritten_sha256 = (SELECT output_sha256 FROM rewrite_generation
                                                        WHERE post = ? AND generation = ?)
                    WHERE path = ?
                    """,
                arguments: [post, generation, post, generation, post])
        }
    }

    public func discardRewrite(post: String, generation: Int) async throws(StoreError) {
        try await write("discarding a rewrite") { db in
            try db.execute(
                sql: "DELETE FROM rewrite WHERE post = ? AND generation = ?", arguments: [post, generation])
            try db.execute(
                sql: "DELETE FROM rewrite_generation WHERE post = ? AND generation = ?", arguments: [post, generation])
        }
    }

    public func forgetRewriteSpans(post: String, spans: [(generation: Int, rangeStart: Int)]) async throws(StoreError) {
        let spans = spans.map { SpanKey(generation: $0.generation, rangeStart: $0.rangeStart) }
        try await write("recording a revert") { db in
            for span in spans {
                try db.execute(
                    sql: "DELETE FROM rewrite WHERE post = ? AND generation = ? AND range_start = ?",
                    arguments: [post, span.generation, span.rangeStart])
            }
            try db.execute(
                sql: """
                    DELETE FROM rewrite_generation WHERE post = ?
                    AND generation NOT IN (SELECT generation FROM rewrite WHERE post = ?)
                    """,
                arguments: [post, post])
        }
    }

    public func recordRevert(post: String, contentSHA256: String) async throws(StoreError) {
        try await write("recording a revert") { db in
            try db.execute(sql: "DELETE FROM rewrite WHERE post = ?", arguments: [post])
            try db.execute(sql: "DELETE FROM rewrite_generation WHERE post = ?", arguments: [post])
            try db.execute(
                sql: """
                    UPDATE post SET rewritten_at = NULL, rewritten_sha256 = NULL, content_sha256 = ? WHERE path = ?
                    """,
                arguments: [contentSHA256, post])
        }
    }
}

/// One span of a rewrite, by its key.
private struct SpanKey: Sendable {
    var generation: Int
    var rangeStart: Int
}
