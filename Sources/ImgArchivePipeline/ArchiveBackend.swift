public import Foundation
public import ImgArchiveStore

/// Makes the object store of an archive: local folders (`ArchiveStore`), a bucket (`S3ObjectStore`, from
/// `objects: s3://...` in imgarchive.yml), or a test's store. Settings carry one, so every stage that opens the
/// archive builds the same kind of store.
public struct ObjectStoreFactory: Sendable {
    /// Builds the store of the archive at a root, with a durability for originals.
    public var make: @Sendable (_ root: URL, _ durability: ArchiveStore.Durability) throws -> any ObjectStore
    /// Where the files are served from when no `--archive-url` says otherwise, for a store that is not on the
    /// local disk (a bucket's URL); nil for local folders, linked as the link policy says.
    public var publicURL: String?

    /// A factory from a closure.
    public init(
        publicURL: String? = nil,
        _ make: @escaping @Sendable (_ root: URL, _ durability: ArchiveStore.Durability) throws -> any ObjectStore
    ) {
        self.publicURL = publicURL
        self.make = make
    }

    /// Folders on the local disk, under the archive root (`ArchiveStore`).
    public static let local = ObjectStoreFactory { root, durability in
        try ArchiveStore(root: root, durability: durability)
    }

    /// The files in a bucket (`S3ObjectStore`); the manifest and `tmp/` stay under the archive root. Uploads are
    /// durable when they return, whatever the durability asked.
    public static func bucket(_ settings: BucketSettings) -> ObjectStoreFactory {
        ObjectStoreFactory(publicURL: settings.publicURL) { root, _ in try S3ObjectStore(root: root, bucket: settings) }
    }

    /// The store imgarchive.yml asks for: local folders when `objects` is nil, else the bucket it names (with
    /// `s3-endpoint`, `s3-region`, and the credentials from `environment`). Throws `.usage` naming what is missing.
    public static func configured(
        objects: String?, endpoint: String?, region: String?,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(PipelineError) -> ObjectStoreFactory {
        guard let objects else { return .local }
        return .bucket(
            try BucketSettings.parse(objects: objects, endpoint: endpoint, region: region, environment: environment))
    }
}

/// The archive as the stages see it: where the files live and the manifest that records them. The one place
/// that builds them from settings: a new storage or ledger is wired here, nowhere else.
public struct ArchiveBackend: Sendable {
    /// The archived files.
    public var objects: any ObjectStore
    /// The manifest: every ledger (`FetchLedger`, `RewriteLedger`, `ArchiveLedgerReader`): the archive folder's
    /// SQLite file, or a PostgreSQL database shared by many workers (`manifest:`, docs/scale-out.md).
    public var manifest: any ArchiveManifest
    /// Where the manifest lives.
    public var manifestLocation: ManifestLocation = .archiveFolder
    /// The archive's folder layout (manifest path, reports, backups).
    public var layout: ArchiveLayout

    /// Opens the archive at `root` (creating it when missing): its object store from `factory` and its manifest.
    /// `manifestAsIs` opens the manifest file as it is, without refusing one that lists no originals while
    /// `objects/` holds some (repair, which has just restored or recreated it and adopts those files).
    public static func open(
        root: URL, objects factory: ObjectStoreFactory = .local, durability: ArchiveStore.Durability = .immediate,
        manifestAsIs: Bool = false, manifest location: ManifestLocation = .archiveFolder
    ) async throws -> ArchiveBackend {
        let objects = try factory.make(root, durability)
        let layout = ArchiveLayout(root: root)
        let manifest: any ArchiveManifest =
            if manifestAsIs, location == .archiveFolder {
                try await SQLiteManifest.open(url: layout.manifestURL)
            } else {
                try await openManifest(layout, location: location)
            }
        return ArchiveBackend(objects: objects, manifest: manifest, manifestLocation: location, layout: layout)
    }

    /// Opens the manifest only (status, rewrite, the job's bookkeeping) and brings its schema up to date. The
    /// archive folder's SQLite file is checked first: originals are not left without one (`.manifestLost`).
    public static func openManifest(_ layout: ArchiveLayout, location: ManifestLocation = .archiveFolder)
        async throws(StoreError) -> any ArchiveManifest
    {
        switch location {
        case .archiveFolder: try await SQLiteManifest.open(layout: layout)
        case .postgres(let url): try await PostgresManifest.open(url: url)
        }
    }

    /// Whether the archive has a manifest to read (status, rewrite, verify): the archive folder's file exists, or
    /// the manifest is a database (which `openManifest` creates when empty).
    public static func hasManifest(_ layout: ArchiveLayout, location: ManifestLocation) throws(StoreError) -> Bool {
        location == .archiveFolder ? try layout.hasManifest() : true
    }

    /// How this worker shares a fetch with the others: with a database, claims and host slots in it; with the
    /// archive folder's own manifest, everything is this process's.
    public func workCoordinator() async throws(StoreError) -> any WorkCoordinator {
        switch manifestLocation {
        case .archiveFolder: LocalCoordinator()
        case .postgres(let url): try await PostgresCoordinator.open(url: url)
        }
    }

    /// Closes the manifest.
    public func close() {
        try? manifest.close()
    }
}
