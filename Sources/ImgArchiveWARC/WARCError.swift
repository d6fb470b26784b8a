#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A WARC file could not be written, finished or indexed: the file, what failed and the system error.
public struct WARCError: Error, Sendable, CustomStringConvertible {
    /// The file concerned.
    public var path: String
    /// What failed and what to do.
    public var message: String
    /// The `errno` behind it, if any.
    public var systemError: Int32?

    /// Creates an error.
    public init(path: String, message: String, systemError: Int32? = nil) {
        self.path = path
        self.message = message
        self.systemError = systemError
    }

    /// An error for the current `errno`.
    static func system(_ path: String, _ what: String) -> WARCError {
        WARCError(path: path, message: what, systemError: errno)
    }

    /// `message (path): system error`.
    public var description: String {
        var text = "\(message) (\(path))"
        if let systemError { text += ": " + String(cString: strerror(systemError)) }
        return text
    }
}
