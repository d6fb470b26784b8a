public import Foundation
import GRDB

/// The rewrite ledger of the SQLite manifest: generations, their spans, and revert. Each statement is compiled
/// once per connection (`cachedStatement`): a run calls these per post.
extension SQLiteManifest: RewriteLedger {
    @discardableResult
    public func recordRewrite(
        post: String, inputSHA256: String, outputSHA256: String, rewrites: [RewriteRecord], at date: Date
    ) async throws(StoreError) -> Int {
        try await recordRewrites([
            PostRewrite(
                post: post, inputSHA256: inputSHA256, outputSHA256: outputSHA256, rewrites: rewrites, at: date)
        ])[0]
    }

    @discardableResult
    public func recordRewrites(_ rewrites: [PostRewrite]) async throws(StoreError) -> [Int] {
        guard !rewrites.isEmpty else { return [] }
        let path = path
        // Durable before the posts are renamed: after a power loss a post may show its rewrite, so its record
        // (the original bytes) must be there too.
        return try await durableWrite("recording a rewrite") { db in
            let scanned = try db.cachedStatement(sql: "SELECT 1 FROM post WHERE path = ?")
            let next = try db.cachedStatement(
                sql: "SELECT coalesce(max(generation), 0) + 1 FROM rewrite_generation WHERE post = ?")
            let insertGeneration = try db.cachedStatement(
                sql: ManifestSQL.insertGeneration)
            let insert = try db.cachedStatement(
                sql: ManifestSQL.insertRewriteSpan)
            return try rewrites.map { r in
                guard try Bool.fetchOne(scanned, arguments: [r.post]) != nil else {
                    throw StoreError(code: .invalidArgument, path: path, message: "post \(r.post) was never scanned")
                }
                let generation = try Int.fetchOne(next, arguments: [r.post]) ?? 1
                // A date is bound as text made by a DateFormatter: made once for the spans of a post, which share it.
                let at = r.at.databaseValue
                try insertGeneration.execute(arguments: [r.post, generation, r.inputSHA256, r.outputSHA256, at])
                for span in r.rewrites {
                    try insert.execute(arguments: [
                        r.post, generation, span.rangeStart, span.rangeEnd, span.replacement, span.original, span.url,
                        span.rewrittenAt == r.at ? at : span.rewrittenAt.databaseValue, span.contextBefore,
                        span.contextAfter,
                    ])
                }
                return generation
            }
        }
    }

    public func markRewriteApplied(post: String, generation: Int) async throws(StoreError) {
        try await markRewritesApplied([(post, generation)])
    }

    public func markRewritesApplied(_ generations: [(post: String, generation: Int)]) async throws(StoreError) {
        guard !generations.isEmpty else { return }
        let generations = generations.map { SpanKey(post: $0.post, generation: $0.generation, rangeStart: 0) }
        try await write("recording a rewrite") { db in
            let applied = try db.cachedStatement(
                sql: "UPDATE rewrite_generation SET applied = 1 WHERE post = ? AND generation = ?")
            let onPost = try db.cachedStatement(
                sql: """
                    UPDATE post SET (rewritten_at, rewritten_sha256) =
                        (SELECT rewritten_at, output_sha256 FROM rewrite_generation WHERE post = ? AND generation = ?)
                    WHERE path = ?
                    """)
            for g in generations {
                try applied.execute(arguments: [g.post, g.generation])
                try onPost.execute(arguments: [g.post, g.generation, g.post])
            }
        }
    }

    public func discardRewrite(post: String, generation: Int) async throws(StoreError) {
        try await write("discarding a rewrite") { db in
            try db.cachedStatement(sql: "DELETE FROM rewrite WHERE post = ? AND generation = ?")
                .execute(arguments: [post, generation])
            try db.cachedStatement(sql: "DELETE FROM rewrite_generation WHERE post = ? AND generation = ?")
                .execute(arguments: [post, generation])
        }
    }

    public func postsWithPendingRewrites() async throws(StoreError) -> [String] {
        try await read("reading rewrites") { db in
            try String.fetchAll(
                db.cachedStatement(sql: "SELECT DISTINCT post FROM rewrite_generation WHERE applied = 0 ORDER BY post"))
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
        let reverts = reverts.map { r in
            (r.post, r.contentSHA256, r.forgetting?.map { SpanKey(post: r.post, generation: $0.0, rangeStart: $0.1) })
        }
        try await write("recording a revert") { db in
            for (post, contentSHA256, spans) in reverts {
                if let spans {
                    let forget = try db.cachedStatement(
                        sql: "DELETE FROM rewrite WHERE post = ? AND generation = ? AND range_start = ?")
                    for span in spans { try forget.execute(arguments: [post, span.generation, span.rangeStart]) }
                    try db.cachedStatement(
                        sql: ManifestSQL.deleteEmptyGenerations
                    ).execute(arguments: [post, post])
                } else {
                    try db.cachedStatement(sql: "DELETE FROM rewrite WHERE post = ?").execute(arguments: [post])
                    try db.cachedStatement(sql: "DELETE FROM rewrite_generation WHERE post = ?")
                        .execute(arguments: [post])
                    try db.cachedStatement(
                        sql: """
                            UPDATE post SET rewritten_at = NULL, rewritten_sha256 = NULL, content_sha256 = ?
                            WHERE path = ?
                            """
                    ).execute(arguments: [contentSHA256, post])
                }
            }
        }
    }
}

/// One span (or generation, `rangeStart` 0) of a post's rewrites, by its key.
private struct SpanKey: Sendable {
    var post: String
    var generation: Int
    var rangeStart: Int
}
