import Foundation

#if FUZZING
    /// libFuzzer's entry for a program with its own `main` (compiler-rt `FuzzerInterface.h`).
    @_silgen_name("LLVMFuzzerRunDriver")
    private func runDriver(
        _ argc: UnsafeMutablePointer<CInt>,
        _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
        _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
    ) -> CInt
#endif

extension Harness {
    /// One libFuzzer input: a failed property is a crash, so libFuzzer saves the input.
    public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
        let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
        if let problem = check(bytes) { fatalError("\(rawValue): \(problem)") }
        return 0
    }

    /// Builds what the harness keeps for the whole run (compiled CDN rules, regular expressions, scratch folder)
    /// before libFuzzer starts counting allocations, so they are not reported as leaks of the first input.
    public func warmUp() -> CInt {
        _ = check([])
        _ = check(Array("---\nimage: https://img.test/a.jpg\n---\n![a](https://i0.wp.com/img.test/b.jpg?w=9)\n".utf8))
        return 0
    }

    /// The program: under `-D FUZZING` libFuzzer with `callback` (which calls `fuzzOne`); otherwise a replayer
    /// that checks each file named (folders: every file in them) and exits 1 when a check fails.
    public func main(callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> Never {
        #if FUZZING
            var argc = CommandLine.argc
            var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
            exit(runDriver(&argc, &argv, callback))
        #else
            let arguments = CommandLine.arguments.dropFirst()
            guard !arguments.isEmpty else {
                FileHandle.standardError.write(Data("usage: fuzz-\(rawValue) FILE-OR-FOLDER...\n".utf8))
                exit(2)
            }
            var failed = 0
            for file in arguments.flatMap(Self.files(in:)) {
                guard let data = FileManager.default.contents(atPath: file) else {
                    FileHandle.standardError.write(Data("\(file): cannot read\n".utf8))
                    failed += 1
                    continue
                }
                if let problem = check(Array(data)) {
                    print("\(file): \(problem)")
                    failed += 1
                }
            }
            exit(failed == 0 ? 0 : 1)
        #endif
    }

    /// `path` itself, or the regular files in it when it is a folder, sorted.
    public static func files(in path: String) -> [String] {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), isFolder.boolValue else {
            return [path]
        }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        return names.sorted().filter { !$0.hasPrefix(".") }.map { "\(path)/\($0)" }
    }
}
