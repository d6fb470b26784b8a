import GRDB

/// The manifest's versioned migrations. Never edit a shipped migration: add "v2", "v3", ...
enum ManifestSchema {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE object (
                        sha256     TEXT    NOT NULL PRIMARY KEY CHECK (length(sha256) = 64),
                        ext        TEXT    NOT NULL,
                        media_type TEXT    NOT NULL,
                        bytes      INTEGER NOT NULL CHECK (bytes >= 0),
                        width      INTEGER,
                        height     INTEGER,
                        path       TEXT    NOT NULL UNIQUE,
                        created_at TEXT    NOT NULL
                    );
                    CREATE TABLE url (
                        url              TEXT    NOT NULL PRIMARY KEY,
                        status           TEXT    NOT NULL CHECK (status IN ('archived', 'failed')),
                        http_status      INTEGER,
                        error_class      TEXT,
                        error_message    TEXT,
                        attempts         INTEGER NOT NULL DEFAULT 0,
                        etag             TEXT,
                        last_modified    TEXT,
                        first_fetched_at TEXT,
                        last_fetched_at  TEXT,
                        last_checked_at  TEXT,
                        failing_since    TEXT,
                        object_sha256    TEXT    REFERENCES object(sha256),
                        archived_from    TEXT,
                        CHECK ((status = 'archived') = (object_sha256 IS NOT NULL))
                    );
                    CREATE INDEX url_by_object ON url(object_sha256);
                    CREATE TABLE url_object (
                        url               TEXT NOT NULL REFERENCES url(url) ON DELETE CASCADE,
                        object_sha256     TEXT NOT NULL REFERENCES object(sha256),
                        archived_from     TEXT NOT NULL,
                        first_archived_at TEXT NOT NULL,
                        PRIMARY KEY (url, object_sha256)
                    ) WITHOUT ROWID;
                    CREATE INDEX url_object_by_object ON url_object(object_sha256);
                    CREATE TABLE thumbnail (
                        object_sha256 TEXT    NOT NULL REFERENCES object(sha256) ON DELETE CASCADE,
                        width         INTEGER NOT NULL CHECK (width > 0),
                        sha256        TEXT    NOT NULL CHECK (length(sha256) = 64),
                        height        INTEGER NOT NULL CHECK (height > 0),
                        format        TEXT    NOT NULL,
                        bytes         INTEGER NOT NULL CHECK (bytes >= 0),
                        path          TEXT    NOT NULL UNIQUE,
                        created_at    TEXT    NOT NULL,
                        PRIMARY KEY (object_sha256, width)
                    ) WITHOUT ROWID;
                    CREATE TABLE post (
                        path             TEXT NOT NULL PRIMARY KEY,
                        content_sha256   TEXT NOT NULL,
                        scanned_at       TEXT NOT NULL,
                        rewritten_at     TEXT,
                        rewritten_sha256 TEXT
                    );
                    CREATE TABLE reference (
                        post        TEXT    NOT NULL REFERENCES post(path) ON DELETE CASCADE,
                        ordinal     INTEGER NOT NULL,
                        range_start INTEGER NOT NULL CHECK (range_start >= 0),
                        range_end   INTEGER NOT NULL CHECK (range_end >= range_start),
                        line        INTEGER NOT NULL,
                        "column"    INTEGER NOT NULL,
                        kind        TEXT    NOT NULL,
                        written     TEXT    NOT NULL,
                        url         TEXT    NOT NULL,
                        origin      TEXT,
                        width       INTEGER,
                        wrapped     INTEGER NOT NULL DEFAULT 0 CHECK (wrapped IN (0, 1)),
                        PRIMARY KEY (post, ordinal)
                    ) WITHOUT ROWID;
                    CREATE INDEX reference_by_url ON reference(url);
                    CREATE TABLE rewrite (
                        post         TEXT    NOT NULL REFERENCES post(path) ON DELETE CASCADE,
                        generation   INTEGER NOT NULL,
                        range_start  INTEGER NOT NULL CHECK (range_start >= 0),
                        range_end    INTEGER NOT NULL CHECK (range_end >= range_start),
                        replacement  TEXT    NOT NULL,
                        original     BLOB    NOT NULL,
                        url          TEXT    NOT NULL,
                        rewritten_at TEXT    NOT NULL,
                        PRIMARY KEY (post, generation, range_start)
                    ) WITHOUT ROWID;
                    CREATE TABLE run (
                        id          INTEGER PRIMARY KEY AUTOINCREMENT,
                        command     TEXT    NOT NULL,
                        started_at  TEXT    NOT NULL,
                        finished_at TEXT,
                        counts      TEXT    NOT NULL DEFAULT '{}',
                        exit_code   INTEGER
                    );
                    """)
        }
        migrator.registerMigration("v2") { db in
            // One row per rewrite of a post, with the post's hash before and after, so that revert follows the
            // chain back from the bytes on disk. A generation is recorded (applied = 0) before the post is
            // renamed into place and marked applied after; a crash in between leaves a pending row that the
            // next run settles by comparing the post's hash with output_sha256.
            try db.execute(
                sql: """
                    CREATE TABLE rewrite_generation (
                        post          TEXT    NOT NULL REFERENCES post(path) ON DELETE CASCADE,
                        generation    INTEGER NOT NULL,
                        input_sha256  TEXT    NOT NULL,
                        output_sha256 TEXT    NOT NULL,
                        applied       INTEGER NOT NULL DEFAULT 0 CHECK (applied IN (0, 1)),
                        rewritten_at  TEXT    NOT NULL,
                        PRIMARY KEY (post, generation)
                    ) WITHOUT ROWID;
                    INSERT INTO rewrite_generation (post, generation, input_sha256, output_sha256, applied, rewritten_at)
                    SELECT r.post, r.generation, '', coalesce(p.rewritten_sha256, ''), 1, max(r.rewritten_at)
                    FROM rewrite r JOIN post p ON p.path = r.post GROUP BY r.post, r.generation;
                    """)
        }
        migrator.registerMigration("v3") { db in
            // Each rewritten span keeps the bytes around it, so that a revert of a post edited since finds each
            // link's own place (empty for spans recorded before v3: they are matched by order).
            try db.execute(
                sql: """
                    ALTER TABLE rewrite ADD COLUMN context_before BLOB NOT NULL DEFAULT x'';
                    ALTER TABLE rewrite ADD COLUMN context_after BLOB NOT NULL DEFAULT x'';
                    """)
        }
        migrator.registerMigration("v4") { db in
            // The sanitized copy of each SVG original (what posts link to, never the original), or why the SVG
            // cannot be published (then no path): docs/archive-format.md.
            try db.execute(
                sql: """
                    CREATE TABLE sanitized_svg (
                        object_sha256 TEXT    NOT NULL PRIMARY KEY REFERENCES object(sha256) ON DELETE CASCADE,
                        sha256        TEXT    CHECK (sha256 IS NULL OR length(sha256) = 64),
                        bytes         INTEGER CHECK (bytes IS NULL OR bytes >= 0),
                        path          TEXT    UNIQUE,
                        removed       INTEGER NOT NULL DEFAULT 0 CHECK (removed >= 0),
                        error         TEXT,
                        created_at    TEXT    NOT NULL,
                        CHECK ((path IS NULL) = (error IS NOT NULL)),
                        CHECK ((path IS NULL) = (sha256 IS NULL))
                    ) WITHOUT ROWID;
                    """)
        }
        migrator.registerMigration("v5") { db in
            // Link targets (references of kind link-image) that answered with a page rather than an image: not
            // failures, and not fetched again until they are due for revalidation (`revalidate-after`).
            try db.execute(
                sql: """
                    CREATE TABLE link_page (
                        url          TEXT    NOT NULL PRIMARY KEY,
                        http_status  INTEGER,
                        content_type TEXT,
                        checked_at   TEXT    NOT NULL
                    ) WITHOUT ROWID;
                    """)
        }
        migrator.registerMigration("v6") { db in
            // Images rescued from web archives (Memento, RFC 7089): which TimeGate, which memento, and when the
            // archive captured it (NULL for bytes that came from the web); and when an archive was last asked
            // about the URL, so a nightly job asks once per `rescue-after` period (docs/web-archives.md).
            try db.execute(
                sql: """
                    ALTER TABLE url ADD COLUMN rescue_timegate TEXT;
                    ALTER TABLE url ADD COLUMN rescue_memento TEXT;
                    ALTER TABLE url ADD COLUMN rescue_memento_at TEXT;
                    ALTER TABLE url ADD COLUMN rescue_checked_at TEXT;
                    """)
        }
        migrator.registerMigration("v7") { db in
            // The stamp of each post's file at its last scan (size, modification and status-change times in
            // nanoseconds, inode) and what the scan was made with: a run that finds the same stamp and scanner
            // reuses the recorded references without reading the post (NULL: read and scan it again).
            try db.execute(
                sql: """
                    ALTER TABLE post ADD COLUMN file_size INTEGER;
                    ALTER TABLE post ADD COLUMN file_mtime_ns INTEGER;
                    ALTER TABLE post ADD COLUMN file_ctime_ns INTEGER;
                    ALTER TABLE post ADD COLUMN file_inode INTEGER;
                    ALTER TABLE post ADD COLUMN scanned_with TEXT;
                    """)
        }
        migrator.registerMigration("v8") { db in
            // No query finds references by URL alone (`posts(referencing:)` matches the URL or the origin, which
            // reads the table), but every reference a scan records or drops wrote a page of this index: on a
            // site of 50,000 posts, a page at a random place for nearly every reference (docs/performance.md).
            try db.execute(sql: "DROP INDEX IF EXISTS reference_by_url")
        }
        return migrator
    }
}
