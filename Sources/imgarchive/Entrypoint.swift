import ArgumentParser

/// The `imgarchive` command: parses options and hands each subcommand to the library modules.
@main
struct ImgArchive: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "imgarchive",
        abstract: "Archive the remote images that blog posts hotlink, and point the posts at the copies.",
        version: ImgArchiveVersion.current,
        subcommands: [
            ScanCommand.self,
            ThumbCommand.self,
        ]
    )
}

enum ImgArchiveVersion {
    static let current = "0.1.0"
}
