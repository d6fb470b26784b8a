import Foundation
import ImgArchiveStore

/// What stops a command: the one error type the pipeline's entries (`Pipeline`) throw, and the one the executable
/// maps to output and exit codes. Per-post and per-URL failures are not errors: they are outcomes in the reports.
public struct PipelineError: Error, Sendable, CustomStringConvertible {
    /// What stopped the command, as an extensible set of codes.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        /// The code's stable name.
        public let rawValue: String
        /// Creates a code from its stable name.
        public init(rawValue: String) { self.rawValue = rawValue }
        /// Another imgarchive run holds the archive's lock: this run did nothing.
        public static let archiveLocked = Code(rawValue: "archive-locked")
        /// A value from the command line or the configuration cannot be used (the message says which, and the fix).
        public static let usage = Code(rawValue: "usage")
        /// The archive cannot be used as it is (none yet, or its manifest is lost); the message says what to do.
        public static let unusableArchive = Code(rawValue: "unusable-archive")
        /// Anything else that stopped the run before it could do its work (the store, the manifest or the
        /// downloader could not start); `underlying` holds the error.
        public static let setUp = Code(rawValue: "set-up")
        /// The code's stable name.
        public var description: String { rawValue }
    }

    /// What stopped the command.
    public var code: Code
    /// A sentence for people: what happened and what to do.
    public var message: String
    /// The error that stopped the stage, when it came from a module below (a `StoreError`, a `FetchError`).
    public var underlying: (any Error)?

    /// Creates an error.
    public init(code: Code, message: String, underlying: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
    }

    /// The exit code docs/operations.md documents: 75 (`EX_TEMPFAIL`) when another run holds the archive, else 2
    /// (a usage or set-up error).
    public var exitCode: Int32 { code == .archiveLocked ? 75 : 2 }

    public var description: String { message }

    /// How a locked archive is said: an interactive command asks to try again; the scheduled job says it did
    /// nothing (cron mails it, and the next run does the work).
    enum LockedAdvice {
        case tryAgain, didNothing
    }

    /// `error` (thrown by a stage working on the archive at `archiveRoot`) as the error that stops the command:
    /// a `PipelineError` as it is; another run's lock as `.archiveLocked`; a `StoreError` that `unusable` picks out
    /// as `.unusableArchive`, said as the store says it; anything else as `.setUp`, kept as `underlying`.
    init(
        stopping error: any Error, archiveRoot: URL, whenLocked advice: LockedAdvice = .tryAgain,
        unusable: (StoreError) -> Bool = { _ in false }
    ) {
        switch error {
        case let error as PipelineError:
            self = error
        case let error as StoreError where error.code == .locked:
            let tail = advice == .tryAgain ? "try again when it has finished" : "this run did nothing (exit 75)"
            self.init(
                code: .archiveLocked, message: "another imgarchive run holds \(archiveRoot.path)/lock; \(tail)",
                underlying: error)
        case let error as StoreError where unusable(error):
            self.init(code: .unusableArchive, message: error.description, underlying: error)
        default:
            self.init(code: .setUp, message: "\(error)", underlying: error)
        }
    }
}
