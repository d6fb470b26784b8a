public import Foundation

/// The sanitized copy of one SVG original (what posts link to), or why the SVG cannot be published.
public struct SanitizedSVGRecord: Sendable, Hashable, Decodable {
    /// The original's SHA-256.
    public var objectSHA256: String
    /// The SHA-256 of the sanitized copy's bytes (what `verify` re-hashes); nil when there is no copy.
    public var sha256: String?
    /// Its size in bytes; nil when there is no copy.
    public var bytes: Int64?
    /// Its path relative to the archive root (`svg/ab/<original sha256>.svg`); nil when there is no copy.
    public var path: String?
    /// How many elements, attributes, declarations and entity references the sanitizer removed.
    public var removed: Int
    /// Why the SVG cannot be published (not well-formed XML, ...); nil when there is a copy.
    public var error: String?
    /// When it was made (or refused).
    public var createdAt: Date

    /// Creates a record.
    public init(
        objectSHA256: String, sha256: String?, bytes: Int64?, path: String?, removed: Int, error: String?,
        createdAt: Date
    ) {
        self.objectSHA256 = objectSHA256
        self.sha256 = sha256
        self.bytes = bytes
        self.path = path
        self.removed = removed
        self.error = error
        self.createdAt = createdAt
    }
}
