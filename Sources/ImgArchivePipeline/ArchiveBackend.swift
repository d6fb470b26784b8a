public import Foundation
public import ImgArchiveStore

/// Makes the object store of an archive: today's local folders (`ArchiveStore`) unless a caller (a test, a
/// future bucket store) says otherwise. Settings carry one, so every stage that opens the archive builds the
/// same kind of store.
public struct ObjectStoreFactory: Sendable {
    /// Builds the store of the archive at a root, with a durability for originals.
    public var make: @Sendable (_ root: URL, _ durability: ArchiveStore.Durability) throws -> any ObjectStore

    /// A factory from a closure.
    public init(
        _ make: @escaping @Sendable (_ root: URL, _ durability: ArchiveStore.Durability) throws -> any ObjectStore
    ) {
        self.make = make
    }

    /// Folders on the local disk, under the archive root (`ArchiveStore`).
    public static let local = ObjectStoreFactory { root, durability in
        try ArchiveStore(root: root, durability: durability)
    }
}

/// The archive as the stages see it: where the files live and the manifest that records them. The one place
/// that builds them from settings: a new storage or ledger is wired here, nowhere else.
public struct ArchiveBackend: Sendable {
    /// The archived files.
    public var objects: any ObjectStore
    /// The manifest: every ledger (`FetchLedger`, `RewriteLedger`, `ArchiveLedgerReader`); SQLite today.
    public var manifest: SQLiteManifest
    /// The archive's folder layout (manifest path, reports, backups).
    public var layout: ArchiveLayout

    /// Opens the archive at `root` (creating it when missing): its object store from `factory` and its manifest.
    /// `manifestAsIs` opens the manifest file as it is, without refusing one that lists no originals while
    /// `objects/` holds some (repair, which has just restored or recreated it and adopts those files).
    public static func open(
        root: URL, objects factory: ObjectStoreFactory = .local, durability: ArchiveStore.Durability = .immediate,
        manifestAsIs: Bool = false
    ) async throws -> ArchiveBackend {
        let objects = try factory.make(root, durability)
        let layout = ArchiveLayout(root: root)
        let manifest =
            manifestAsIs ? try await SQLiteManifest.open(url: layout.manifestURL) : try await openManifest(layout)
        return ArchiveBackend(objects: objects, manifest: manifest, layout: layout)
    }

    /// Opens the manifest only (status, rewrite, the job's bookkeeping): checks that originals are not left
    /// without one (`.manifestLost`) and brings its schema up to date.
    public static func openManifest(_ layout: ArchiveLayout) async throws(StoreError) -> SQLiteManifest {
        try await SQLiteManifest.open(layout: layout)
    }

    /// Closes the manifest.
    public func close() {
        try? manifest.close()
    }
}
