import ArgumentParser
import Foundation
import ImgArchivePipeline

/// The `imgarchive` command: parses options and hands each subcommand to the library modules.
@main
struct ImgArchive: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "imgarchive",
        abstract: "Archive the remote images that blog posts hotlink, and point the posts at the copies.",
        discussion: """
            Exit codes: 0 all fine; 1 some posts or references failed (each is reported); 2 usage or set-up \
            error (bad option, bad configuration, unusable archive).
            """,
        version: ImgArchiveVersion.current,
        subcommands: [
            ScanCommand.self,
            FetchCommand.self,
            ThumbCommand.self,
            RewriteCommand.self,
            ArchiveCommand.self,
            DemoCommand.self,
            StatusCommand.self,
            VerifyCommand.self,
        ]
    )

    /// Runs the command and maps errors to the documented exit codes: a command's own `ExitCode` stands,
    /// help and version exit 0, a `PipelineError` exits with its code (75 when another run holds the archive),
    /// every other error (usage, configuration, set-up) prints its message and exits 2.
    static func main() async {
        MallocTuning.apply()
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let code as ExitCode {
            Foundation.exit(code.rawValue)
        } catch let error as PipelineError {
            FileHandle.standardError.write(Data((message(for: error) + "\n").utf8))
            Foundation.exit(error.exitCode)
        } catch {
            let code = exitCode(for: error)
            let message = fullMessage(for: error)
            if code == .success {
                print(message)
                Foundation.exit(0)
            }
            FileHandle.standardError.write(Data((message + "\n").utf8))
            Foundation.exit(2)
        }
    }

    /// What a pipeline error says on standard error: a usage error as ArgumentParser says a bad option (with the
    /// usage line), a set-up error as it says any error, the others as imgarchive's own warnings.
    static func message(for error: PipelineError) -> String {
        switch error.code {
        case .usage: fullMessage(for: ValidationError(error.message))
        case .setUp: fullMessage(for: error.underlying ?? error)
        default: "imgarchive: " + error.message
        }
    }
}

enum ImgArchiveVersion {
    static let current = "0.1.0"
}
