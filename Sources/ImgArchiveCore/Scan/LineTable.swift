/// Where each line of a post starts and ends. LF, CRLF and a lone CR all end a line, as in CommonMark.
struct LineTable {
    /// Byte offset of each line's first byte.
    private(set) var starts: [Int] = []
    /// Byte offset just past each line's content (before its line ending).
    private(set) var ends: [Int] = []

    init(_ b: ByteView, from start: Int) {
        var i = start
        let n = b.count
        starts.reserveCapacity(n / 40 + 1)
        ends.reserveCapacity(n / 40 + 1)
        var lineStart = start
        if b.find("\r", from: start, end: n) == nil {
            // LF endings only (the usual case): jump from line feed to line feed (memchr).
            while let lf = b.find("\n", from: i, end: n) {
                starts.append(lineStart)
                ends.append(lf)
                i = lf + 1
                lineStart = i
            }
            i = n
        }
        while i < n {
            let c = b[i]
            if c == ASCII.lf {
                starts.append(lineStart)
                ends.append(i)
                i += 1
                lineStart = i
            } else if c == ASCII.cr {
                starts.append(lineStart)
                ends.append(i)
                i += (i + 1 < n && b[i + 1] == ASCII.lf) ? 2 : 1
                lineStart = i
            } else {
                i += 1
            }
        }
        if lineStart < n || starts.isEmpty {
            starts.append(lineStart)
            ends.append(n)
        }
    }

    var count: Int { starts.count }

    /// The start of the line after `line`, or the end of the file.
    func next(_ line: Int, fileEnd: Int) -> Int { line + 1 < starts.count ? starts[line + 1] : fileEnd }

    /// `lineIndex(of:)`, looking first at line `hint` and the few after it: references come in order.
    func lineIndex(of offset: Int, near hint: Int) -> Int {
        guard hint >= 0, hint < starts.count, starts[hint] <= offset else { return lineIndex(of: offset) }
        var k = hint
        while k + 1 < starts.count, starts[k + 1] <= offset {
            k += 1
            if k - hint > 8 { return lineIndex(of: offset) }
        }
        return k
    }

    /// The 0-based index of the line holding byte `offset`.
    func lineIndex(of offset: Int) -> Int {
        var lo = 0
        var hi = starts.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if starts[mid] <= offset { lo = mid } else { hi = mid - 1 }
        }
        return lo
    }
}
