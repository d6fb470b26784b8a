/// The one error of the image module: what went wrong (an extensible code), with which file, and the
/// underlying library cause (libjpeg message code, errno) and libjpeg's recovered-warning count.
public struct ImageError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What kind of failure this is; new codes can be added without breaking callers.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// The stable name of the code.
        public let rawValue: String
        /// Creates a code from its name.
        public init(_ rawValue: String) { self.rawValue = rawValue }
        /// A textual form of the code.
        public var description: String { rawValue }

        /// The file could not be opened or read.
        public static let unreadable = Code("unreadable")
        /// The bytes are not an image format imgarchive recognises.
        public static let notAnImage = Code("notAnImage")
        /// The library rejected the data as invalid.
        public static let corrupt = Code("corrupt")
        /// The data ends before the image does (header or scan cut short); no thumbnail is made.
        public static let truncated = Code("truncated")
        /// The header claims more pixels than `ThumbnailOptions.maxPixels`.
        public static let tooLarge = Code("tooLarge")
        /// Decoding the image needs more memory than `ThumbnailOptions.memoryBudget` (from its header).
        public static let overMemoryBudget = Code("overMemoryBudget")
        /// Memory for the pixels could not be allocated.
        public static let outOfMemory = Code("outOfMemory")
        /// The derivative could not be written or moved into place.
        public static let writeFailed = Code("writeFailed")
        /// A caller's argument is out of range (width < 1, quality outside 1...100).
        public static let invalidArgument = Code("invalidArgument")
    }

    /// What kind of failure this is.
    public var code: Code
    /// The file the failure is about.
    public var path: String
    /// A human-readable explanation (the library's own text when there is one).
    public var message: String
    /// The underlying C code: libjpeg's message code, or errno for I/O; nil when there is none.
    public var libraryCode: Int32?
    /// Corrupt-data warnings libjpeg recovered from before the failure.
    public var warnings: Int

    /// Creates an error.
    public init(code: Code, path: String, message: String, libraryCode: Int32? = nil, warnings: Int = 0) {
        self.code = code
        self.path = path
        self.message = message
        self.libraryCode = libraryCode
        self.warnings = warnings
    }

    /// "path: code: message".
    public var description: String { "\(path): \(code): \(message)" }
}
