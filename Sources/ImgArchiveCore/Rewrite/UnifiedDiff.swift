/// A unified diff of a post before and after splicing, as `diff -u` prints it, with three lines of context.
/// Built from the splices themselves, so it costs time in proportion to the lines they touch.
public enum UnifiedDiff {
    /// The diff of `old` and `Splice.apply(splices, to: old)`, byte for byte as the post holds them (invalid
    /// UTF-8 included); empty when there are no splices.
    public static func render(path: String, old: [UInt8], splices: [Splice], context: Int = 3) -> [UInt8] {
        guard !splices.isEmpty, let (new, newRanges) = Splice.apply(splices, to: old) else { return [] }
        let oldLines = lineStarts(old)
        let newLines = lineStarts(new)
        // Each splice touches a block of old lines and the matching block of new lines.
        var blocks: [(old: ClosedRange<Int>, new: ClosedRange<Int>)] = []
        for (splice, newRange) in zip(splices, newRanges).sorted(by: { $0.0.range.lowerBound < $1.0.range.lowerBound })
        {
            let o =
                line(
                    of: splice.range.lowerBound, oldLines)...line(
                    of: max(splice.range.lowerBound, splice.range.upperBound - 1), oldLines)
            let n =
                line(
                    of: newRange.lowerBound, newLines)...line(
                    of: max(newRange.lowerBound, newRange.upperBound - 1), newLines)
            if let last = blocks.last, o.lowerBound <= last.old.upperBound + 1 {
                blocks[blocks.count - 1] = (
                    last.old.lowerBound...max(last.old.upperBound, o.upperBound),
                    last.new.lowerBound...max(last.new.upperBound, n.upperBound)
                )
            } else {
                blocks.append((o, n))
            }
        }
        var out = Array("--- a/\(path)\n+++ b/\(path)\n".utf8)
        var i = 0
        while i < blocks.count {
            var j = i
            while j + 1 < blocks.count, blocks[j + 1].old.lowerBound - blocks[j].old.upperBound - 1 <= 2 * context {
                j += 1
            }
            let oldStart = max(0, blocks[i].old.lowerBound - context)
            let oldEnd = min(oldLines.count - 1, blocks[j].old.upperBound + context)
            let newStart = blocks[i].new.lowerBound - (blocks[i].old.lowerBound - oldStart)
            let newEnd = blocks[j].new.upperBound + (oldEnd - blocks[j].old.upperBound)
            out += "@@ -\(range(oldStart, oldEnd)) +\(range(newStart, newEnd)) @@\n".utf8
            var cursor = oldStart
            for k in i...j {
                for l in cursor..<blocks[k].old.lowerBound { out += [UInt8(ascii: " ")] + text(l, oldLines, old) }
                for l in blocks[k].old { out += [UInt8(ascii: "-")] + text(l, oldLines, old) }
                for l in blocks[k].new { out += [UInt8(ascii: "+")] + text(l, newLines, new) }
                cursor = blocks[k].old.upperBound + 1
            }
            if cursor <= oldEnd { for l in cursor...oldEnd { out += [UInt8(ascii: " ")] + text(l, oldLines, old) } }
            i = j + 1
        }
        return out
    }

    /// A hunk's line range as diff writes it: `start,count`, or just `start` for one line.
    private static func range(_ first: Int, _ last: Int) -> String {
        last == first ? "\(first + 1)" : "\(first + 1),\(last - first + 1)"
    }

    private static func lineStarts(_ bytes: [UInt8]) -> [Int] {
        var starts = [0]
        for (i, b) in bytes.enumerated() where b == UInt8(ascii: "\n") && i + 1 < bytes.count { starts.append(i + 1) }
        return starts
    }

    private static func line(of offset: Int, _ starts: [Int]) -> Int {
        var lo = 0
        var hi = starts.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if starts[mid] <= offset { lo = mid } else { hi = mid - 1 }
        }
        return lo
    }

    /// Line `l` with its line ending; a last line without one gets diff's marker.
    private static func text(_ l: Int, _ starts: [Int], _ bytes: [UInt8]) -> [UInt8] {
        let end = l + 1 < starts.count ? starts[l + 1] : bytes.count
        let line = Array(bytes[starts[l]..<end])
        return end > starts[l] && bytes[end - 1] == UInt8(ascii: "\n")
            ? line : line + Array("\n\\ No newline at end of file\n".utf8)
    }
}
