public import Foundation
public import ImgArchiveCore

/// How rewritten posts link the archive: under an archive URL when one is given, else absolute links under the
/// site's base path (the archive must sit inside the folder the site's generator publishes), or links relative to
/// each post's folder.
public enum LinkPolicy {
    /// The kind of links asked for (`--links`, `links:` in imgarchive.yml).
    public enum Choice: String, Sendable, Hashable, CaseIterable {
        /// `/archive/...` under the site's base path: the default in a Jekyll, Hexo or Hugo site.
        case absolute
        /// From each post's folder: the default elsewhere (editors such as Typora or Obsidian).
        case relative
    }

    /// The linker for an archive at `archiveRoot`: under `archiveURL` when given; else under `storeURL` when the
    /// files are not on the local disk (a bucket's URL, `ObjectStoreFactory.publicURL`); else `choice`, which
    /// defaults to absolute in a site (`site`, found by `SiteInfo.discover`) and relative elsewhere. Throws
    /// `.usage` when absolute links cannot resolve (no site, or an archive outside the folder the generator
    /// publishes), or when `choice` asks for links to local files that are in a bucket.
    public static func linker(
        archiveURL: String?, choice: Choice?, site: SiteInfo?, archiveRoot: URL, storeURL: String? = nil
    ) throws(PipelineError) -> ArchiveLinker {
        if let prefix = archiveURL { return ArchiveLinker(style: .prefix(prefix)) }
        if let storeURL {
            if let choice {
                throw PipelineError(
                    code: .usage,
                    message: "--links \(choice.rawValue) links files on this disk, and the archive's files are in "
                        + "a bucket: leave out --links (posts then link to \(storeURL)), or give --archive-url "
                        + "with the bucket's CDN")
            }
            return ArchiveLinker(style: .prefix(storeURL))
        }
        let choice = choice ?? (site == nil ? .relative : .absolute)
        let archive = archiveRoot.standardizedFileURL.path
        guard choice == .absolute else { return ArchiveLinker(style: .relative(archiveRoot: archive)) }
        guard let site else {
            throw PipelineError(
                code: .usage,
                message: "--links absolute needs a Jekyll, Hexo or Hugo site (no _config.yml, hugo.toml or config.toml "
                    + "was found above the posts): use --links relative, or --archive-url PREFIX")
        }
        let published = publishedRoot(of: site)
        let root = URL(fileURLWithPath: published).standardizedFileURL.path
        guard archive.hasPrefix(root + "/") else {
            throw PipelineError(
                code: .usage,
                message: "\(site.generator.capitalized) publishes \(root), and the archive \(archive) is outside it, "
                    + "so absolute links would not resolve: set 'archive:' in imgarchive.yml to a folder inside it "
                    + "(e.g. \(published == site.root ? "archive" : (published.dropFirst(site.root.count + 1) + "/archive"))), "
                    + "or use --links relative or --archive-url PREFIX")
        }
        return ArchiveLinker(style: .prefix(site.basePath + "/" + archive.dropFirst(root.count + 1)))
    }

    /// The folder the site's generator publishes as the site's root: Hexo's `source/`, Hugo's `static/`, else the
    /// site's own folder (Jekyll copies it).
    public static func publishedRoot(of site: SiteInfo) -> String {
        switch site.generator {
        case "hexo": site.root + "/source"
        case "hugo": site.root + "/static"
        default: site.root
        }
    }
}
