// swift-tools-version:6.2
import PackageDescription

/// Settings every first-party Swift target shares: Swift 6 mode (from the tools version), internal imports by
/// default so C modules never leak, and warnings as errors.
let strict: [SwiftSetting] = [
    .enableUpcomingFeature("InternalImportsByDefault"),
    .treatAllWarnings(as: .error),
]

/// The libFuzzer harnesses (Tests/Fuzz): one executable each, `fuzz-<name>`, in folder `<folder>`. Built plainly they
/// replay inputs; `Tests/Fuzz/run.sh` builds them with `-sanitize=fuzzer,address -D FUZZING` and fuzzes.
let fuzzers = [
    ("scanner", "Scanner"), ("front-matter", "FrontMatter"), ("cdn-rules", "CDNRules"), ("rewrite", "Rewrite"),
    ("jpeg", "JPEG"), ("png", "PNG"), ("response-checks", "ResponseChecks"),
]

let package = Package(
    name: "imgarchive",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "imgarchive", targets: ["imgarchive"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/swhitty/FlyingFox", from: "0.27.1"),
    ],
    targets: [
        // System C libraries: one module each, with the apt package that provides the headers.
        .systemLibrary(
            name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(
            name: "CJPEG", pkgConfig: "libjpeg", providers: [.apt(["libjpeg62-turbo-dev"])]),
        .systemLibrary(
            name: "CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),
        .systemLibrary(
            name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(
            name: "CDeflate", pkgConfig: "libdeflate", providers: [.apt(["libdeflate-dev"])]),
        .systemLibrary(
            name: "CPostgres", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        // C shims: libjpeg's setjmp/longjmp error exit and decode/encode loops; libpng's macros.
        .target(name: "CJPEGShim", dependencies: ["CJPEG"], linkerSettings: [.linkedLibrary("jpeg")]),
        .target(name: "CPNGShim", dependencies: ["CPNG"], linkerSettings: [.linkedLibrary("png16")]),
        // Linux calls Swift's Glibc does not import: renameat2's exchange, a write lease's test, mallopt's settings.
        .target(name: "CFileShim"),

        // Pure logic: scanning posts, CDN URL rules. No C library, no database.
        .target(
            name: "ImgArchiveCore",
            dependencies: [.product(name: "Yams", package: "Yams")],
            swiftSettings: strict),
        // Decode, resample, encode (libjpeg-turbo, libpng).
        .target(
            name: "ImgArchiveImage",
            dependencies: ["ImgArchiveCore", "CJPEG", "CPNG", "CJPEGShim", "CPNGShim"],
            // Pixel loops are 20-50x slower unoptimised: optimise them in debug builds too, so `swift run`
            // (the quick start's demo) and the tests make thumbnails at a usable speed.
            swiftSettings: strict + [.unsafeFlags(["-O"], .when(configuration: .debug))]),
        // The libcurl multi-interface downloader.
        .target(
            name: "ImgArchiveFetch",
            dependencies: [
                "ImgArchiveCore", "CCurl",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        // The content-addressed archive and its manifest: SQLite, or PostgreSQL through libpq for many workers.
        .target(
            name: "ImgArchiveStore",
            dependencies: [
                "ImgArchiveCore", "CPostgres", "CFileShim",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strict),
        // WARC 1.1 records in gzip members (zlib; libdeflate's CRC-32 for stored members) and their CDXJ index.
        .target(
            name: "ImgArchiveWARC",
            dependencies: ["ImgArchiveCore", "CZlib", "CDeflate", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strict),
        // The runs: fetch (download, commit, record, thumbnails) over the modules above.
        .target(
            name: "ImgArchivePipeline",
            dependencies: [
                "ImgArchiveCore", "ImgArchiveImage", "ImgArchiveFetch", "ImgArchiveStore", "ImgArchiveWARC",
                "CFileShim", .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        .executableTarget(
            name: "imgarchive",
            dependencies: [
                "ImgArchiveCore", "ImgArchiveImage", "ImgArchiveFetch", "ImgArchiveStore", "ImgArchivePipeline",
                "CFileShim", .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                // The loopback server of `imgarchive demo`.
                .product(name: "FlyingFox", package: "FlyingFox"),
            ],
            resources: [.copy("Resources/demo-site")],
            swiftSettings: strict),

        .testTarget(
            name: "ImgArchiveCoreTests",
            dependencies: ["ImgArchiveCore"],
            resources: [.copy("Fixtures")],
            swiftSettings: strict),
        .testTarget(
            name: "ImgArchiveImageTests",
            dependencies: ["ImgArchiveImage"],
            swiftSettings: strict),
        .testTarget(
            name: "ImgArchiveFetchTests",
            dependencies: ["ImgArchiveFetch", .product(name: "FlyingFox", package: "FlyingFox")],
            swiftSettings: strict),
        .testTarget(
            name: "EndToEndTests",
            dependencies: [
                "ImgArchiveCore", "ImgArchiveFetch", "ImgArchiveStore", "ImgArchiveImage", "ImgArchivePipeline",
                "ImgArchiveWARC", "TestServices",
                .product(name: "FlyingFox", package: "FlyingFox"), .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        .testTarget(
            name: "ImgArchiveStoreTests",
            dependencies: ["ImgArchiveStore", "TestServices"],
            swiftSettings: strict),
        // The scale-out engines for the tests (`.ci/services`), started on demand when `swift test` runs alone.
        .target(
            name: "TestServices",
            dependencies: ["ImgArchiveStore"],
            path: "Tests/TestServices",
            swiftSettings: strict),
        // The pipeline's runner and recorder, on a second ObjectStore and against a loopback server.
        .testTarget(
            name: "ImgArchivePipelineTests",
            dependencies: [
                "ImgArchiveCore", "ImgArchiveImage", "ImgArchiveFetch", "ImgArchiveStore", "ImgArchivePipeline",
                .product(name: "FlyingFox", package: "FlyingFox"), .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),

        // The fuzzed properties, shared by the fuzzers and the test that replays their corpora.
        .target(
            name: "FuzzHarnesses",
            dependencies: ["ImgArchiveCore", "ImgArchiveImage"],
            path: "Tests/Fuzz/Harnesses",
            swiftSettings: strict),
        .testTarget(
            name: "FuzzReplayTests",
            dependencies: ["FuzzHarnesses"],
            path: "Tests/Fuzz/ReplayTests",
            swiftSettings: strict),
    ]
        + fuzzers.map { name, folder in
            .executableTarget(
                name: "fuzz-\(name)", dependencies: ["FuzzHarnesses"], path: "Tests/Fuzz/\(folder)",
                swiftSettings: strict)
        }
)
