import Foundation
import Testing

/// `scan`'s readable table, printed a block of 1,000 rows at a time (memory does not grow with the site): every
/// reference once, in the order of the JSON lines; within a block every URL starts in one column, an origin or a
/// wrapped URL's note is indented to it, and a later block's URL column is never left of an earlier one's.
@Suite("scan's table")
struct ScanTableEndToEndTests {
    @Test func aTableOfManyBlocksListsEveryReferenceAlignedBlockByBlock() async throws {
        let folder = try TemporaryFolder()
        // 1,500 references over 30 posts; the last post's longer name widens the first column in the second block.
        for post in 0..<30 {
            let name = post == 29 ? "posts/z-a-post-with-a-much-longer-name-than-the-others.md" : "posts/p\(post).md"
            var text = ""
            for image in 0..<50 {
                switch image % 3 {
                case 0: text += "![a](https://img.example/\(post)/\(image).jpg)\n"
                case 1:
                    text +=
                        "<img src=\"http://cms-bucket.ws.126.net/\(post)/\(image).jpeg?imageView&thumbnail=550x0\">\n"
                default: text += "![a](https://img.example/\(post)/wrap\n\(image).png)\n"
                }
            }
            try folder.write(name, text)
        }
        let json = try await runImgarchive(["scan", "--format", "json", "posts"], in: folder.path)
        #expect(json.status == 0, "\(json.stderr)")
        let urls = json.jsonLines.compactMap { $0["url"] as? String }
        #expect(urls.count == 1_500)

        let table = try await runImgarchive(["scan", "posts"], in: folder.path)
        #expect(table.status == 0, "\(table.stderr)")
        #expect(table.stderr.contains("30 posts, 1500 references, 1500 distinct URLs, 2 hosts"))
        let lines = table.stdout.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
        var rows: [(url: String, column: Int)] = []
        var notes: [(text: String, column: Int, row: Int)] = []
        for line in lines {
            let text = line.drop { $0 == " " }
            if line.first == " " {
                notes.append((String(text), line.count - text.count, rows.count - 1))
            } else {
                let url = try #require(line.range(of: "http"), "a row without a URL: \(line)")
                rows.append((String(line[url.lowerBound...]), line.distance(from: line.startIndex, to: url.lowerBound)))
            }
        }
        #expect(rows.map(\.url) == urls)
        let first = Set(rows.prefix(1_000).map(\.column))
        let second = Set(rows.dropFirst(1_000).map(\.column))
        #expect(first.count == 1 && second.count == 1, "one URL column per block: \(first), \(second)")
        #expect(first.first! < second.first!, "the longer name widens the second block only")
        #expect(notes.count == 30 * (17 + 16), "an origin for each CDN URL, a note for each wrapped one")
        for note in notes {
            #expect(note.column == rows[note.row].column)
            #expect(
                note.text.hasPrefix("origin http://cms-bucket") || note.text == "(wrapped across lines in the post)")
        }
    }
}
