import Dispatch
import Foundation
public import ImgArchiveCore
public import ImgArchiveImage
import Synchronization

extension Pipeline {
    /// `thumb`: makes a `width`-pixel-wide thumbnail of each input, `jobs` at once (at most the cores), the
    /// largest files first; `output` names where each input goes, from its format. An input that needs no
    /// thumbnail (not wider than `width`, or a format archived as it is) is copied there. What happened to each
    /// input worth saying (an original kept and why, a failure with its path) goes to `report`; the others go on.
    /// Returns how many inputs failed.
    public static func thumbnails(
        inputs: [String], width: Int, options: ThumbnailOptions, jobs: Int,
        output: @Sendable (String, ImageFormat) -> String, report: @Sendable (String) -> Void
    ) -> Int {
        // Largest files first: with a few big images in the list, dealing them out early keeps
        // both workers busy to the end instead of one finishing the biggest file alone.
        let inputs =
            inputs.map { path in
                let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
                return (path, size)
            }
            .sorted { $0.1 > $1.1 }
            .map(\.0)
        let failures = Atomic<Int>(0)
        let next = Atomic<Int>(0)
        let workers = min(jobs, ProcessInfo.processInfo.activeProcessorCount, max(inputs.count, 1))
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            while true {
                let i = next.add(1, ordering: .relaxed).oldValue
                guard i < inputs.count else { return }
                let input = inputs[i]
                do {
                    let made = try makeThumbnailOrCopy(inputPath: input, width: width, options: options) {
                        output(input, $0)
                    }
                    if case .originalSuffices(let reason) = made.outcome {
                        report("\(input): original kept: \(reason)")
                    }
                } catch {
                    report("\(error)")  // "path: code: message"
                    failures.add(1, ordering: .relaxed)
                }
            }
        }
        return failures.load(ordering: .relaxed)
    }
}
