#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A folder's entries read with `readdir`, each name handed over as its bytes where `readdir` left them: no
/// `String` per name, and a name that is not UTF-8 is seen as it is. The walk of a site and the archive's listings
/// read folders of 50,000 names with it.
package enum FolderListing {
    /// How a listing ended.
    package enum End: Equatable, Sendable {
        /// Every entry was handed over.
        case listed
        /// The folder could not be opened (the `errno`): no entry was handed over.
        case notOpened(Int32)
        /// Reading failed (the `errno`) after the entries handed over.
        case cutShort(Int32)
    }

    /// Hands each entry of the folder at `path` but `.` and `..` to `body`: its name (valid during the call only)
    /// and its type as the file system gives it (`DT_DIR`, `DT_REG`, `DT_LNK`, ...; `DT_UNKNOWN` when it does not
    /// say), in the folder's order.
    package static func forEach(in path: String, _ body: (_ name: UnsafeBufferPointer<UInt8>, _ type: Int) -> Void)
        -> End
    {
        guard let stream = opendir(path) else { return .notOpened(errno) }
        defer { closedir(stream) }
        while true {
            errno = 0
            guard let entry = readdir(stream) else { return errno == 0 ? .listed : .cutShort(errno) }
            // The name is read in place, up to its NUL: a record is only as long as its name (`d_reclen`), so a
            // copy of the whole 256-byte `d_name` can read past the record's end into an unmapped page (it did,
            // listing a 50,000-post site's archive).
            let start = UnsafeRawPointer(entry).advanced(by: MemoryLayout<dirent>.offset(of: \.d_name)!)
                .assumingMemoryBound(to: UInt8.self)
            let name = UnsafeBufferPointer(start: start, count: strlen(start))
            if name.elementsEqual(".".utf8) || name.elementsEqual("..".utf8) { continue }
            body(name, Int(entry.pointee.d_type))
        }
    }
}
