import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// An error from the archive folder, its lock or its manifest.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, as an extensible set of codes.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        /// The code's stable name.
        public let rawValue: String
        /// Creates a code from its stable name.
        public init(rawValue: String) { self.rawValue = rawValue }
        /// A file-system call failed (see `errno`).
        public static let io = Code(rawValue: "io")
        /// Another process holds the archive lock.
        public static let locked = Code(rawValue: "locked")
        /// A file or the manifest does not hold what it must (bad SQLite file, unknown values).
        public static let corrupt = Code(rawValue: "corrupt")
        /// The manifest database reported an error.
        public static let database = Code(rawValue: "database")
        /// The manifest stayed busy (another writer) longer than the busy timeout.
        public static let busy = Code(rawValue: "busy")
        /// The caller passed a value the archive cannot use (not a SHA-256, a path leaving the archive).
        public static let invalidArgument = Code(rawValue: "invalid-argument")
        /// The manifest was written by a newer imgarchive (unknown migrations).
        public static let unsupportedVersion = Code(rawValue: "unsupported-version")
        /// The disk (or quota) is full: `ENOSPC`/`EDQUOT` from a file-system call, `SQLITE_FULL` from the manifest.
        public static let diskFull = Code(rawValue: "disk-full")
        /// The archive holds originals but its manifest is missing or empty; `verify --repair` restores it.
        public static let manifestLost = Code(rawValue: "manifest-lost")
        /// The code's stable name.
        public var description: String { rawValue }
    }

    /// What went wrong.
    public var code: Code
    /// The file or folder concerned, when there is one.
    public var path: String?
    /// A sentence for people.
    public var message: String
    /// The C `errno`, or the SQLite result code, when the failure came from C (`cCodeSource` says which).
    public var cCode: Int32?
    /// Where `cCode` comes from.
    public var cCodeSource: CCodeSource = .errno
    /// The underlying error (for example GRDB's `DatabaseError`), when there is one.
    public var underlying: (any Error)?

    /// Which C library a `cCode` belongs to: the same number means different things (13 is `EACCES` as an
    /// `errno`, `SQLITE_FULL` from SQLite).
    public enum CCodeSource: String, Sendable, Hashable {
        /// A POSIX `errno`.
        case errno
        /// An SQLite (extended) result code.
        case sqlite
    }

    /// Creates an error.
    public init(code: Code, path: String? = nil, message: String, cCode: Int32? = nil, underlying: (any Error)? = nil) {
        self.code = code
        self.path = path
        self.message = message
        self.cCode = cCode
        self.underlying = underlying
    }

    /// The message, with the path and C code when known.
    public var description: String {
        var text = message
        if let path, !message.contains(path) { text += " (\(path))" }
        if let cCode { text += " [\(cCodeSource.rawValue) \(cCode)]" }
        return text
    }
}

// MARK: - The one place where C codes become error codes

extension StoreError {
    /// Maps an `errno` from a file-system call to a `StoreError`.
    package static func posix(_ operation: String, path: String, errno code: Int32 = errno) -> StoreError {
        let reason = String(cString: strerror(code))
        switch code {
        case EWOULDBLOCK, EAGAIN:
            return StoreError(
                code: .locked, path: path,
                message: "another imgarchive run holds \(path); try again later", cCode: code)
        case ENOSPC, EDQUOT:
            return StoreError(
                code: .diskFull, path: path,
                message: "\(operation) failed: \(reason); free some space and run again", cCode: code)
        default:
            return StoreError(code: .io, path: path, message: "\(operation) failed: \(reason)", cCode: code)
        }
    }

    /// Maps an error thrown by GRDB (or anything else while using the manifest) to a `StoreError`.
    static func database(_ error: any Error, path: String, operation: String) -> StoreError {
        if let error = error as? StoreError { return error }
        let described = String(describing: error)
        if error is DecodingError {
            // A value this version cannot read (an unknown status or format): the file is not what it must be.
            return StoreError(
                code: .corrupt, path: path, message: "manifest: \(operation) failed: \(described)", underlying: error)
        }
        if let sqlite = sqliteResultCode(of: error) {
            let primary = sqlite & 0xFF
            let code: Code
            switch primary {
            case 5, 6: code = .busy  // SQLITE_BUSY, SQLITE_LOCKED
            case 11, 26: code = .corrupt  // SQLITE_CORRUPT, SQLITE_NOTADB
            case 13: code = .diskFull  // SQLITE_FULL
            case 10, 14: code = .io  // SQLITE_IOERR, SQLITE_CANTOPEN
            default: code = .database
            }
            let message =
                code == .diskFull
                ? "manifest: \(operation) failed: the disk is full (SQLite: \(described)); free some space and run again"
                : "manifest: \(operation) failed: \(described)"
            var mapped = StoreError(code: code, path: path, message: message, cCode: sqlite, underlying: error)
            mapped.cCodeSource = .sqlite
            return mapped
        }
        return StoreError(
            code: .database, path: path, message: "manifest: \(operation) failed: \(described)", underlying: error)
    }
}
