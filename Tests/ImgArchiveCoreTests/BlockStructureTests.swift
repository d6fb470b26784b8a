import Testing

@testable import ImgArchiveCore

/// A post and the image URLs CommonMark renders from it (checked against markdown-it-py and commonmark.py; where
/// those two differ, the spec's reading, which commonmark.py follows).
struct BlockCase: CustomTestStringConvertible, Sendable {
    var name: String
    var input: String
    var urls: [String]
    var testDescription: String { name }

    init(_ name: String, _ input: String, _ urls: [String]) {
        self.name = name
        self.input = input
        self.urls = urls
    }
}

/// The block structure cases of issue 11, and every disagreement the differential test
/// (Tests/Differential/commonmark_diff.py) has found, minimised.
let blockCases: [BlockCase] = [
    BlockCase(
        "a Hugo shortcode closed by >}} at the start of a line, also inside a block quote, is not a block quote",
        "{{< figure\n  src=\"https://x.test/a.png\"\n>}}\n\n> {{< figure\n> src=\"https://x.test/b.png\"\n> >}}\n",
        ["https://x.test/a.png", "https://x.test/b.png"]),
    BlockCase(
        "a fence ends with its block quote",
        "> ```\n> ![a](https://x.test/code.png)\n\n![b](https://x.test/1.png)\n",
        ["https://x.test/1.png"]),
    BlockCase(
        "a fence ends with its block quote, no blank line",
        "> ```\n> code\n![b](https://x.test/1.png)\n",
        ["https://x.test/1.png"]),
    BlockCase(
        "a fence ends with its list item",
        "- ```\n  ![a](https://x.test/code.png)\n\n![b](https://x.test/1.png)\n",
        ["https://x.test/1.png"]),
    BlockCase(
        "a fence inside a list item goes on over indented lines",
        "1. ~~~\n   ![a](https://x.test/code.png)\n   ~~~\n   ![b](https://x.test/1.png)\n",
        ["https://x.test/1.png"]),
    BlockCase(
        "a closing fence indented 4 spaces is content",
        "```\n    ```\n![a](https://x.test/code.png)\n```\n![b](https://x.test/1.png)\n",
        ["https://x.test/1.png"]),
    BlockCase(
        "a closing fence shorter than the opening is content",
        "~~~~\n~~~\n![a](https://x.test/code.png)\n~~~~\n![b](https://x.test/1.png)\n",
        ["https://x.test/1.png"]),
    BlockCase(
        "the other fence character does not close",
        "```\n~~~\n![a](https://x.test/code.png)\n```\n",
        []),
    BlockCase(
        "a lazy continuation line stays in the quote's paragraph",
        "> ![a](https://x.test/1.png)\n![b](https://x.test/2.png)\n",
        ["https://x.test/1.png", "https://x.test/2.png"]),
    BlockCase(
        "a lazy line is not code though indented",
        "- text\n    ![a](https://x.test/1.png)\n",
        ["https://x.test/1.png"]),
    BlockCase(
        "an indented line after a paragraph in a quote is lazy, not code",
        "> para\n    ![a](https://x.test/1.png)\n",
        ["https://x.test/1.png"]),
    BlockCase(
        "indented code inside a list item",
        "- item\n\n      ![a](https://x.test/code.png)\n",
        []),
    BlockCase(
        "a tab is four columns of indented code",
        "\t![a](https://x.test/code.png)\n",
        []),
    BlockCase(
        "a tab after a quote marker: code inside the quote",
        ">\t\t![a](https://x.test/code.png)\n",
        []),
    BlockCase(
        "a tab after a list marker is content",
        "-\t![a](https://x.test/1.png)\n",
        ["https://x.test/1.png"]),
    BlockCase(
        "an item marker followed by five spaces starts indented code",
        "-     ![a](https://x.test/code.png)\n",
        []),
    BlockCase(
        "a quote marker indented 4 spaces after a blank quote line is code",
        ">\n    > ![a](https://x.test/code.png)\n",
        []),
    BlockCase(
        "HTML kind 1, script: nothing inside",
        "<script>\n<img src=\"https://x.test/code.png\">\n</script>\n![b](https://x.test/1.png)\n",
        ["https://x.test/1.png"]),
    BlockCase(
        "HTML kind 1, pre: tags are read, Markdown is not",
        "<pre>\n<img src=\"https://x.test/1.png\">\n![a](https://x.test/code.png)\n</pre>\n",
        ["https://x.test/1.png"]),
    BlockCase(
        "HTML kind 1, textarea",
        "<textarea>\n<img src=\"https://x.test/code.png\">\n</textarea>\n",
        []),
    BlockCase(
        "HTML kind 1 ends on its end tag's line, Markdown after it is raw",
        "<script>x()</script> ![a](https://x.test/raw.png)\n![b](https://x.test/1.png)\n",
        ["https://x.test/1.png"]),
    BlockCase(
        "HTML kind 2, a comment, then an image tag after it on its last line",
        "<!--\n![a](https://x.test/code.png)\n--> <img src=\"https://x.test/1.png\">\n",
        ["https://x.test/1.png"]),
    BlockCase(
        "HTML kind 3, a processing instruction",
        "<?php\n![a](https://x.test/code.png)\n?>\n![b](https://x.test/1.png)\n",
        ["https://x.test/1.png"]),
    BlockCase(
        "HTML kind 4, a declaration",
        "<!DOCTYPE html>\n![b](https://x.test/1.png)\n",
        ["https://x.test/1.png"]),
    BlockCase(
        "HTML kind 4 interrupts a paragraph",
        "![a](https://x.test/1.png)\n<!DOCTYPE html>\n",
        ["https://x.test/1.png"]),
    BlockCase(
        "HTML kind 5, CDATA",
        "<![CDATA[\n![a](https://x.test/code.png)\n]]>\n",
        []),
    BlockCase(
        "HTML kind 6 ends at a blank line; a fence inside is no fence",
        "<div>\n```\n<img src=\"https://x.test/1.png\">\n```\n</div>\n",
        ["https://x.test/1.png"]),
    BlockCase(
        "HTML kind 7 cannot interrupt a paragraph",
        "text\n<span>\n![a](https://x.test/1.png)\n",
        ["https://x.test/1.png"]),
    BlockCase(
        "an HTML block ends with its block quote",
        "> <div>\n<img src=\"https://x.test/1.png\">\n",
        ["https://x.test/1.png"]),
    BlockCase(
        "a comment a list item left open hides what follows",
        "- <!--\n<img src=\"https://x.test/code.png\">\n\n<!-- --> <img src=\"https://x.test/1.png\">\n",
        ["https://x.test/1.png"]),
    BlockCase(
        "a processing instruction in Markdown ends at the first >",
        "![](https://x.test/1.png)\n    <?php\n    > <img src=\"https://x.test/2.png\">\n?>\n",
        ["https://x.test/1.png", "https://x.test/2.png"]),
    BlockCase(
        "an unclosed processing instruction is text in Markdown",
        "a <? ![a](https://x.test/1.png)\n",
        ["https://x.test/1.png"]),
    BlockCase(
        "a destination on the line after the bracket in a quote",
        "> ![a](\n> https://x.test/1.png)\n",
        ["https://x.test/1.png"]),
    BlockCase(
        "a definition with its destination on the next line",
        "[d]:\n  https://x.test/1.png\n\n![d]\n",
        ["https://x.test/1.png"]),
    BlockCase(
        "a definition with its title on the next line",
        "[d]: https://x.test/1.png\n  \"title\"\n\n![d]\n",
        ["https://x.test/1.png"]),
    BlockCase(
        "a definition inside a list item",
        "- [d]: https://x.test/1.png\n\n![d]\n",
        ["https://x.test/1.png"]),
    BlockCase(
        "a definition cannot interrupt a paragraph",
        "text\n[d]: https://x.test/1.png\n\n![d]\n",
        []),
    BlockCase(
        "a heading ends its paragraph: no image across",
        "![a\n# b](https://x.test/1.png)\n",
        []),
    BlockCase(
        "a setext heading is read",
        "![a](https://x.test/1.png)\n===\n",
        ["https://x.test/1.png"]),
    BlockCase(
        "an ordered item interrupts a paragraph only from 1",
        "text\n2. ![a](https://x.test/1.png)\n",
        ["https://x.test/1.png"]),
    BlockCase(
        "an empty item cannot interrupt a paragraph",
        "text\n-\n  ![a](https://x.test/1.png)\n",
        ["https://x.test/1.png"]),
    BlockCase(
        "a list item can begin with one blank line only: the indented line is a paragraph",
        "-\n\n  ![a](https://x.test/1.png)\n",
        ["https://x.test/1.png"]),
    BlockCase(
        "a comment left open is not closed by --> in Markdown text",
        "- <!--\n-->\n![a](https://x.test/code.png)\n\n<!-- x --> ![b](https://x.test/raw.png) <img src=\"https://x.test/1.png\">\n",
        ["https://x.test/1.png"]),
    BlockCase(
        "a textarea left open by its quote is not closed inside a fence",
        "> > <textarea>\n> ```\n> </textarea>\n<img src=\"https://x.test/code.png\">\n",
        []),
    BlockCase(
        "raw inline HTML after a processing instruction's > is HTML, not Markdown",
        "a <?php x > <img src=\"https://x.test/1.png\"> ![a](https://x.test/raw.png) ?>\n",
        ["https://x.test/1.png"]),
    // A construct that goes on to the next line goes on at its content, past its container markers only.
    BlockCase(
        "a > that is a lazy line's content is not skipped as a marker before a destination",
        "![](\n    > https://x.test/1.png)\n",
        []),
    BlockCase(
        "a > that is content inside an HTML block is not skipped before a destination",
        "<div>\n![](\n> https://x.test/1.png)\n",
        []),
    BlockCase(
        "a > after a quote's marker and an indentation of 4 is content",
        "> ![](\n>     > https://x.test/1.png)\n",
        []),
    BlockCase(
        "a definition's destination on the next line after a > that is content",
        "> [d]:\n>     > https://x.test/1.png\n\n![d]\n",
        []),
    BlockCase(
        "a quote's marker does not end an inline declaration",
        "> a <!X\n> <img src=\"https://x.test/1.png\"> >\n",
        []),
    BlockCase(
        "a quote's marker does not end a processing instruction in an HTML block",
        "> <div>\n> <?php\n> <img src=\"https://x.test/1.png\">\n",
        []),
    BlockCase(
        "a tag inside a processing instruction of a lone-tag HTML block is not read",
        "<img src=\"https://x.test/1.png\">\n<?php\n<img src=\"https://x.test/2.png\">\n",
        ["https://x.test/1.png"]),
    BlockCase(
        "a backslash escapes an opening backtick, not a closing one",
        "` \\` ![a](https://x.test/1.png)\n`b`\n",
        ["https://x.test/1.png"]),
    BlockCase(
        "an escaped backtick opens no code span",
        "\\`![a](https://x.test/1.png)`\n",
        ["https://x.test/1.png"]),
    BlockCase(
        "a list item that holds only another list item holds something: a blank line does not end it",
        "1. - *\n\n   ![a](https://x.test/1.png)\n",
        ["https://x.test/1.png"]),
    BlockCase(
        "an ordered item holding an empty item goes on over a blank line",
        "12. -\n\n    ![a](https://x.test/1.png)\n",
        ["https://x.test/1.png"]),
    BlockCase(
        "items and a quote opened on one line: the items go on over a blank line",
        "* 1.\t>\n\n        <img src=\"https://x.test/1.png\">\n",
        ["https://x.test/1.png"]),
    BlockCase(
        "a URL ending in an image file name is not joined with the next line",
        "![a](https://x.test/1.png\n2)\n",
        []),
    BlockCase(
        "a URL is not joined with a new URL on the next line",
        "![a](https://x.test/1.jpg\n //x.test/2.jpg)\n",
        []),
    // What HTML leaves open in the page (a comment, a raw text element) hides what follows, whichever block left it.
    BlockCase(
        "a comment block does not end a style element its quote left open",
        "> <style>\n<!-- -->\n<img src=\"https://x.test/1.png\">\n",
        []),
    BlockCase(
        "a comment block's end does not end a style element left open",
        "- <style>\n<!--\n-->\n<img src=\"https://x.test/1.png\">\n",
        []),
    BlockCase(
        "a comment opened after a comment block's end on its line stays open",
        "<!-- --> <!--\n<img src=\"https://x.test/1.png\">\n",
        []),
    BlockCase(
        "a textarea after a quote's processing instruction stays open",
        "1. <?php\n ><textarea>\n\n<img src=\"https://x.test/1.png\">\n",
        []),
    BlockCase(
        "a textarea left open in a div hides what follows",
        "<div>\n<textarea>\n\n<img src=\"https://x.test/1.png\">\n",
        []),
    BlockCase(
        "an inline script tag left open hides what follows",
        "a <script>\n\n<img src=\"https://x.test/1.png\">\n",
        []),
    BlockCase(
        "a closer inside a comment block still ends what was left open",
        "> <!-- a\n<!-- b </style> --> <img src=\"https://x.test/1.png\">\n",
        ["https://x.test/1.png"]),
    BlockCase(
        "a pre block ends at the end tag of any raw text element",
        "<pre>\n</style>\n![a](https://x.test/1.png)\n",
        ["https://x.test/1.png"]),
    BlockCase(
        "a blank line ends an empty list item however indented: what follows is code",
        "  2)\n     \n     ![a](https://x.test/1.png)\n",
        []),
    BlockCase(
        "<!--> is an empty comment in Markdown",
        "a <!--> ![a](https://x.test/1.png) -->\n",
        ["https://x.test/1.png"]),
    BlockCase(
        "<!---> is an empty comment in an HTML block",
        "<!---> <img src=\"https://x.test/1.png\">\n",
        ["https://x.test/1.png"]),
]

@Test(arguments: blockCases)
func blockStructureDecidesWhatIsAnImage(_ c: BlockCase) {
    #expect(scan(c.input).references.map(\.url).sorted() == c.urls)
    checkSpans(c.input)
}
