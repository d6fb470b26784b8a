import Foundation

/// Finds the posts under the paths a user names.
public enum SiteWalker {
    /// File name extensions of posts.
    public static let postExtensions: Set<String> = ["md", "markdown", "mdown", "html"]
    /// Folders that hold generated output, dependencies or the archive itself, never posts.
    public static let skippedFolders: Set<String> = [".git", "_site", "public", "node_modules", "archive"]

    /// A path that could not be walked, and why.
    public struct Problem: Error, Sendable, Hashable {
        /// The path as given or found.
        public var path: String
        /// What went wrong and what to do.
        public var message: String

        /// Creates a problem report.
        public init(path: String, message: String) {
            self.path = path
            self.message = message
        }
    }

    /// The posts under `paths`, sorted: files named directly are taken whatever their extension; folders are
    /// walked without following links to folders.
    public static func posts(in paths: [String]) -> (posts: [String], problems: [Problem]) {
        var posts: [String] = []
        var problems: [Problem] = []
        let fm = FileManager.default
        for path in paths {
            var isDirectory: ObjCBool = false
            guard fm.fileExists(atPath: path, isDirectory: &isDirectory) else {
                problems.append(Problem(path: path, message: "no such file or folder: check the path"))
                continue
            }
            guard isDirectory.boolValue else {
                posts.append(path)
                continue
            }
            walk(path, into: &posts, problems: &problems)
        }
        return (posts.sorted(), problems)
    }

    private static func walk(_ folder: String, into posts: inout [String], problems: inout [Problem]) {
        let fm = FileManager.default
        let entries: [String]
        do {
            entries = try fm.contentsOfDirectory(atPath: folder)
        } catch {
            problems.append(Problem(path: folder, message: "cannot list this folder (\(error.localizedDescription))"))
            return
        }
        for name in entries.sorted() {
            let path = folder == "." ? name : (folder.hasSuffix("/") ? folder + name : folder + "/" + name)
            guard let attributes = try? fm.attributesOfItem(atPath: path),
                let type = attributes[.type] as? FileAttributeType
            else { continue }
            if type == .typeDirectory {
                if !skippedFolders.contains(name) { walk(path, into: &posts, problems: &problems) }
            } else if type == .typeRegular || type == .typeSymbolicLink {
                let ext = (name as NSString).pathExtension.lowercased()
                if postExtensions.contains(ext) { posts.append(path) }
            }
        }
    }

    /// Reads a post's bytes, or says why it cannot be read.
    public static func read(_ path: String) -> Result<[UInt8], Problem> {
        do {
            let data = try Data(contentsOf: URL(fileURLWithPath: path), options: .mappedIfSafe)
            return .success([UInt8](data))
        } catch {
            return .failure(
                Problem(path: path, message: "cannot read this post (\(error.localizedDescription)); skipped"))
        }
    }
}
