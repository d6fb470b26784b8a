import ArgumentParser

struct ScanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scan", abstract: "List every remote image the posts reference.")
    func run() async throws {}
}
