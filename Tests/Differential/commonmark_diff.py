#!/usr/bin/env python3
"""Differential test of imgarchive's block structure against a CommonMark reference parser.

Generates random Markdown documents from CommonMark constructs (block quotes, lists, fenced and indented code,
HTML blocks of all seven kinds, headings, thematic breaks, reference definitions, emphasis, links, images,
autolinks, inline HTML, entity and backslash escapes, tabs, lazy continuation lines, nested containers), scans
them with `imgarchive scan --all --format json`, renders them with markdown-it-py (commonmark preset), and
compares the image URLs: every `<img src>` of the rendered HTML must be reported, and every reported URL must be
one the rendered HTML shows. Where the two reference parsers disagree with each other (markdown-it departs from
the spec in a few corners: a `>` indented 4 columns still continues its block quote, an indented line less
indented than its list item's content ends the item rather than being a lazy continuation), agreeing with
either is enough; commonmark.py, a port of the spec authors' commonmark.js, is the second. There is one
documented exception (docs/scanning.md, "Choices"): imgarchive scans
Markdown inside HTML blocks of kinds 6 and 7 (`<div>`, `<figure>`, any lone tag), which CommonMark passes
through as raw HTML. An image the reference parser's *inline* parser finds in the text of such a block may be
reported; nothing else may.

For each disagreement it prints the seed, the document and a minimal reproducer (lines, then words, removed
while the disagreement stays). Exit status 0 when all documents agree, 1 otherwise, 2 when markdown-it-py is
missing. `--allow N` tolerates N disagreeing documents (the known ones docs/scanning.md lists).

Usage: commonmark_diff.py --binary .build/debug/imgarchive [--count 3000] [--seed 1] [--max-report 5] [--allow N]
"""

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
from html.parser import HTMLParser
from urllib.parse import unquote

try:
    import commonmark
    from markdown_it import MarkdownIt
except ImportError:
    print("markdown-it-py or commonmark is missing: pip install markdown-it-py commonmark", file=sys.stderr)
    sys.exit(2)

MD = MarkdownIt("commonmark")

# ---------------------------------------------------------------------------------------------------------------
# The generator

WORDS = ["lorem", "ipsum", "dolor", "sit", "amet", "x", "foo", "bar", "*", "_", "#", "1.", "-", ">", "+", "!", "]"]
LABELS = ["foo", "Bar", "a  b", "img", "x"]
TAGS6 = ["div", "figure", "p", "table", "section", "details", "center", "ul", "h2", "blockquote"]


class Generator:
    def __init__(self, rng: random.Random):
        self.rng = rng
        self.n = 0

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def pick(self, seq):
        return self.rng.choice(seq)

    # -- URLs: unique per use, so a disagreement names the construct

    def url(self) -> str:
        self.n += 1
        n = self.n
        form = self.rng.randrange(9)
        if form == 0:
            return f"https://img.example.com/a\\_{n}.png"  # a backslash escape
        if form == 1:
            return f"https://img.example.com/{n}.png?a=1&amp;b=2"  # an entity
        if form == 2:
            return f"https://img.example.com/({n}).png"  # balanced parentheses
        if form == 3:
            return f"//cdn.example.com/{n}.jpg"
        if form == 4:
            return f"/images/{n}.png"  # local: only with --all
        return f"https://img.example.com/{n}.png"

    def plain_url(self) -> str:
        """A URL with no Markdown escapes (for HTML attributes and autolinks)."""
        self.n += 1
        return f"https://img.example.com/h{self.n}.png"

    def label(self) -> str:
        l = self.pick(LABELS)
        return l.upper() if self.chance(0.2) else l

    # -- inlines

    def image(self) -> str:
        alt = self.pick(["", "alt", "a *b*", "[n]", "`c`"])
        form = self.rng.randrange(8)
        if form == 0:
            return f'![{alt}]({self.url()} "title")'
        if form == 1:
            return f"![{alt}](<{self.url()}>)"
        if form == 2:
            return f"![{alt}][{self.label()}]"
        if form == 3:
            return f"![{self.label()}]"
        if form == 4:
            return f"![{self.label()}][]"
        if form == 5:
            return f"![{alt}](\n{self.url()})"  # a line ending before the destination is allowed
        return f"![{alt}]({self.url()})"

    def inline_token(self) -> str:
        r = self.rng.randrange(30)
        if r < 6:
            return self.pick(WORDS)
        if r < 10:
            return self.image()
        return [
            lambda: f"*{self.pick(WORDS)}*",
            lambda: f"**{self.pick(WORDS)} {self.pick(WORDS)}**",
            lambda: f"_{self.pick(WORDS)}_",
            lambda: f"`{self.pick(WORDS)}`",
            lambda: f"`` {self.image()} ``",
            lambda: f"[text]({self.url()})",
            lambda: f"[{self.image()}]({self.url()})",
            lambda: f"[t][{self.label()}]",
            lambda: f"<{self.plain_url()}>",
            lambda: f'<img src="{self.plain_url()}">',
            lambda: f"<img alt='x' src='{self.plain_url()}' />",
            lambda: "<span>w</span>",
            lambda: self.pick(["&amp;", "&copy;", "&#42;", "&nbsp;"]),
            lambda: f"&#33;[a]({self.url()})",
            lambda: f"\\![a]({self.url()})",
            lambda: f"!\\[a]({self.url()})",
            lambda: self.pick(["\\*", "\\`", "\\<", "\\[", "\\\\"]),
            lambda: f"![a]({self.url()}",
            lambda: f"<!-- {self.image()} -->",
            lambda: "`",
        ][r - 10]()

    def inline_text(self) -> str:
        parts = []
        for _ in range(self.rng.randint(1, 5)):
            parts.append(self.inline_token())
            parts.append("\n" if self.chance(0.15) else " ")
        return "".join(parts[:-1])

    def inline_lines(self) -> list[str]:
        return self.inline_text().split("\n")

    # -- blocks (lists of lines without container prefixes)

    def paragraph(self) -> list[str]:
        lines = self.inline_lines()
        if self.chance(0.3):
            lines += self.inline_lines()
        return lines

    def heading(self) -> list[str]:
        if self.chance(0.5):
            return ["#" * self.rng.randint(1, 6) + " " + self.inline_text().replace("\n", " ")]
        return self.inline_lines() + [self.pick(["===", "---", "  ==="])]

    def thematic_break(self) -> list[str]:
        return [self.pick(["***", "---", "- - -", "___", " * * *"])]

    def fence(self) -> list[str]:
        ch = self.pick(["`", "~"])
        length = self.rng.randint(3, 5)
        indent = " " * self.pick([0, 0, 0, 1, 2, 3])
        info = self.pick(["", "", "python", " js", "md"])
        lines = [indent + ch * length + info]
        for _ in range(self.rng.randint(0, 4)):
            r = self.rng.randrange(6)
            if r == 0:
                lines.append(ch * max(3, length - 1))  # too short to close
            elif r == 1:
                lines.append(" " * self.rng.randint(4, 6) + ch * length)  # indented 4+: content, not a close
            elif r == 2:
                lines.append(self.pick(["`", "~"]) * 3)  # the other character, or the same
            elif r == 3:
                lines.append("")
            else:
                lines.append(" " * self.pick([0, 2, 4]) + self.inline_text().replace("\n", " "))
        if self.chance(0.8):
            lines.append(" " * self.pick([0, 0, 1, 3, 4]) + ch * (length + self.pick([0, 0, 1])))
        return lines

    def indented_code(self) -> list[str]:
        lines = []
        for _ in range(self.rng.randint(1, 3)):
            prefix = self.pick(["    ", "\t", "  \t", "     "])
            lines.append(prefix + self.inline_text().replace("\n", " "))
            if self.chance(0.2):
                lines.append("")
        return lines

    def definition(self) -> list[str]:
        label = self.label()
        url = self.url()
        r = self.rng.randrange(7)
        if r == 0:
            return [f'[{label}]: <{url}> "title"']
        if r == 1:
            return [f"[{label}]:", f"  {url}"]
        if r == 2:
            return [f"[{label}]: {url}", '  "title on the next line"']
        if r == 3:
            return [f"   [{label}]: {url} 'title'"]
        if r == 4:
            return [f"[{label}]: {url} not-a-title"]
        return [f"[{label}]: {url}"]

    def html_block(self) -> list[str]:
        kind = self.rng.randint(1, 7)
        body = lambda: self.pick(
            [f'<img src="{self.plain_url()}">', self.image(), self.inline_text().replace("\n", " "), ""]
        )
        if kind == 1:
            tag = self.pick(["script", "pre", "style", "textarea"])
            if self.chance(0.3):
                return [f"<{tag}>{body()}</{tag}> {self.image()}"]
            lines = [f"<{tag}>"] + [body() for _ in range(self.rng.randint(0, 3))]
            if self.chance(0.85):
                lines.append(f"</{tag}>" + self.pick(["", " " + self.image()]))
            return lines
        if kind == 2:
            lines = ["<!-- " + body()] + [body() for _ in range(self.rng.randint(0, 2))]
            if self.chance(0.85):
                lines.append("-->" + self.pick(["", " " + self.image()]))
            return lines
        if kind == 3:
            lines = ["<?php " + body()] + [body() for _ in range(self.rng.randint(0, 2))]
            if self.chance(0.85):
                lines.append("?>" + self.pick(["", " " + self.image()]))
            return lines
        if kind == 4:
            if self.chance(0.5):
                return ["<!DOCTYPE html>"]
            lines = ["<!ELEMENT " + body()] + [body() for _ in range(self.rng.randint(0, 2))]
            if self.chance(0.85):
                lines.append(">" + self.pick(["", " " + self.image()]))
            return lines
        if kind == 5:
            lines = ["<![CDATA[ " + body()] + [body() for _ in range(self.rng.randint(0, 2))]
            if self.chance(0.85):
                lines.append("]]>" + self.pick(["", " " + self.image()]))
            return lines
        if kind == 6:
            tag = self.pick(TAGS6)
            first = self.pick([f"<{tag}>", f"</{tag}>", f'<{tag} class="x">', f"<{tag}>" + body()])
            lines = [first]
            for _ in range(self.rng.randint(0, 3)):
                lines.append(self.pick([body(), "```", "    " + body()]))
            return lines
        first = self.pick(['<a href="/x">', "<span>", "</em>", '<custom-tag data-x="1">', "<img src=x.png>"])
        return [first] + [body() for _ in range(self.rng.randint(0, 2))]

    def leaf(self) -> list[str]:
        r = self.rng.randrange(20)
        if r < 6:
            return self.paragraph()
        if r < 9:
            return self.fence()
        if r < 11:
            return self.indented_code()
        if r < 14:
            return self.html_block()
        if r < 16:
            return self.definition()
        if r < 18:
            return self.heading()
        return self.thematic_break()

    def blocks(self, depth: int) -> list[str]:
        lines: list[str] = []
        for i in range(self.rng.randint(1, 4 if depth else 6)):
            if i and self.chance(0.7):
                lines.append("")
            r = self.rng.randrange(10)
            if depth < 3 and r < 2:
                lines += self.block_quote(depth)
            elif depth < 3 and r < 4:
                lines += self.list_(depth)
            else:
                lines += self.leaf()
        return lines

    def block_quote(self, depth: int) -> list[str]:
        out = []
        for i, line in enumerate(self.blocks(depth + 1)):
            if i and line and self.chance(0.12):
                out.append(line)  # lazy continuation, or the end of the quote: the parser decides
            elif not line:
                out.append(self.pick([">", ">", ""]) if i else ">")
            else:
                out.append(self.pick(["> ", "> ", ">", " > ", ">\t"]) + line)
        return out

    def list_(self, depth: int) -> list[str]:
        ordered = self.chance(0.4)
        marker = self.pick(["1.", "2)", "10.", "1)"]) if ordered else self.pick(["-", "*", "+"])
        out = []
        for item in range(self.rng.randint(1, 3)):
            if item and self.chance(0.3):
                out.append("")
            m = marker if not ordered else str(item + int(re.match(r"\d+", marker).group())) + marker[-1]
            lead = " " * self.pick([0, 0, 0, 1, 2, 3])
            gap = self.pick([" ", " ", " ", "  ", "   ", "    ", "     ", "\t"])
            width = len(lead) + len(m) + (len(gap) if gap != "\t" else 4 - (len(lead) + len(m)) % 4)
            body = self.blocks(depth + 1)
            for i, line in enumerate(body):
                if i == 0:
                    out.append(lead + m + gap + line if line else lead + m)
                elif not line:
                    out.append("")
                elif self.chance(0.1):
                    out.append(line)  # lazy, or out of the item
                else:
                    pad = width + self.pick([0, 0, 0, 0, -1, 1])
                    out.append(("\t" + " " * (pad - 4) if pad >= 4 and self.chance(0.2) else " " * pad) + line)
        return out

    def document(self) -> str:
        text = "\n".join(self.blocks(0)) + "\n"
        # A first line of `---` or `+++` would open front matter, which CommonMark does not know.
        return "\n" + text if text.lstrip(" ").startswith(("---", "+++")) else text


# ---------------------------------------------------------------------------------------------------------------
# The reference side: the <img src> a browser finds in markdown-it's HTML


class ImgCollector(HTMLParser):
    """The `<img src>`s a browser shows. Python's parser is told four things browsers do that it does not: inside
    `<textarea>` and `<title>` tags are text; `<![CDATA[` outside SVG and MathML is a bogus comment that ends at
    the first `>`; a comment ends at `-->` only; a comment that is never closed runs to the end of the page."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.srcs: set[str] = set()
        self.rcdata = False  # inside <textarea> or <title>, tags are text

    def feed(self, data):
        data = data.replace("<![CDATA[", "<!CDATA[")
        if data.rfind("<!--") > data.rfind("-->"):
            data += "-->"
        super().feed(data)

    def parse_comment(self, i, report=1):
        """A comment ends at the first `-->` (or `--!>`), as in browsers; Python's parser also ends it at `-- >` and
        `--` newline `>`. `<!-->` and `<!--->` are empty comments."""
        for empty in ("<!-->", "<!--->"):
            if self.rawdata.startswith(empty, i):
                return i + len(empty)
        close = re.compile(r"--!?>").search(self.rawdata, i + 4)
        return close.end() if close else -1

    def handle_starttag(self, tag, attrs):
        if tag in ("textarea", "title"):
            self.rcdata = True
        elif tag == "img" and not self.rcdata:
            for name, value in attrs:
                if name == "src" and value is not None:
                    self.srcs.add(value)
                    break

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag):
        if tag in ("textarea", "title"):
            self.rcdata = False


def normalise(url: str) -> str:
    url = unquote(url)
    return "https:" + url if url.startswith("//") else url


KIND_1_TO_5 = re.compile(r"<((script|pre|style|textarea)(\s|>|$)|!--|\?|![A-Za-z]|!\[CDATA\[)", re.I)


def images_in(html: str) -> set[str]:
    collector = ImgCollector()
    collector.feed(html)
    collector.close()
    return {normalise(u) for u in collector.srcs}


def reference_images(text: str) -> tuple[list[set[str]], set[str]]:
    """The images each reference parser renders, and those markdown-it's inline parser finds in HTML blocks of
    kinds 6 and 7."""
    env: dict = {}
    tokens = MD.parse(text, env)
    shown = [images_in(MD.renderer.render(tokens, MD.options, env)), images_in(commonmark.commonmark(text))]
    tolerated: set[str] = set()
    for t in tokens:
        if t.type == "html_block" and not KIND_1_TO_5.match(t.content.lstrip(" ")):
            for child in MD.parseInline(t.content, env)[0].children or []:
                if child.type == "image":
                    tolerated.add(normalise(child.attrGet("src") or ""))
    return shown, tolerated


# ---------------------------------------------------------------------------------------------------------------
# The imgarchive side


def scan(binary: str, docs: list[str]) -> list[set[str]]:
    """Scans all documents in one run of the binary; returns each one's URLs."""
    folder = tempfile.mkdtemp(prefix="cm-diff-")
    try:
        for i, d in enumerate(docs):
            with open(os.path.join(folder, f"{i:06d}.md"), "w", encoding="utf-8", newline="") as f:
                f.write(d)
        out = subprocess.run(
            [binary, "scan", "--all", "--format", "json", folder], capture_output=True, check=False
        )
        if out.returncode != 0:
            sys.exit(f"imgarchive scan failed ({out.returncode}): {out.stderr.decode(errors='replace')}")
        found: list[set[str]] = [set() for _ in docs]
        for line in out.stdout.splitlines():
            row = json.loads(line)
            if "post" not in row or "url" not in row:
                continue
            if row.get("kind") == "link-image":  # a link's target, not an <img src>: not compared
                continue
            index = int(os.path.basename(row["post"]).split(".")[0])
            found[index].add(normalise(row["url"]))
        return found
    finally:
        shutil.rmtree(folder)


def disagreement(ours: set[str], text: str):
    """None when imgarchive agrees with either reference parser; else what it missed and added, against
    markdown-it."""
    shown, tolerated = reference_images(text)
    for reference in shown:
        if reference <= ours and ours - reference <= tolerated:
            return None
    return sorted(shown[0] - ours), sorted(ours - shown[0] - tolerated)


def references_differ(text: str) -> bool:
    shown, _ = reference_images(text)
    return shown[0] != shown[1]


def minimise(binary: str, text: str, budget: int = 40) -> str:
    """Removes runs of lines, then single words, while the document still disagrees (at most `budget` scans)."""
    scans = 0

    def first_disagreeing(texts: list[str]):
        nonlocal scans
        scans += 1
        for t, ours in zip(texts, scan(binary, texts)):
            if disagreement(ours, t):
                return t
        return None

    lines = text.rstrip("\n").split("\n")
    size = max(1, len(lines) // 2)
    while size >= 1 and scans < budget:
        candidates = [lines[:i] + lines[i + size :] for i in range(0, len(lines), size)]
        hit = first_disagreeing(["\n".join(c) + "\n" for c in candidates if c])
        if hit is None:
            size //= 2
        else:
            lines = hit.rstrip("\n").split("\n")
            size = min(size, max(1, len(lines) // 2))
    for i in range(len(lines)):
        while scans < budget:
            words = lines[i].split(" ")
            if len(words) < 2:
                break
            candidates = []
            for j in range(len(words)):
                trial = lines[:i] + [" ".join(words[:j] + words[j + 1 :])] + lines[i + 1 :]
                candidates.append("\n".join(trial) + "\n")
            hit = first_disagreeing(candidates)
            if hit is None:
                break
            lines = hit.rstrip("\n").split("\n")
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", required=True, help="the imgarchive binary")
    ap.add_argument("--count", type=int, default=3000, help="documents to generate")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--max-report", type=int, default=5, help="disagreements to minimise and print")
    ap.add_argument("--batch", type=int, default=5000, help="documents per scan run")
    ap.add_argument(
        "--allow", type=int, default=0, help="disagreements tolerated (a ratchet for known, documented ones)"
    )
    args = ap.parse_args()

    failures = 0
    reported = 0
    ambiguous = 0
    done = 0
    while done < args.count:
        seeds = list(range(args.seed + done, args.seed + min(args.count, done + args.batch)))
        docs = [Generator(random.Random(s)).document() for s in seeds]
        for seed, doc, ours in zip(seeds, docs, scan(args.binary, docs)):
            ambiguous += references_differ(doc)
            d = disagreement(ours, doc)
            if not d:
                continue
            failures += 1
            if reported < args.max_report:
                reported += 1
                small = minimise(args.binary, doc)
                missed, extra = disagreement(scan(args.binary, [small])[0], small) or ([], [])
                print(f"--- disagreement: document seed {seed}")
                print(f"reproducer: {small!r}")
                print(f"  not reported by imgarchive: {missed}")
                print(f"  reported but not rendered:  {extra}")
                print(f"  markdown-it HTML: {MD.render(small)!r}")
                print(f"  commonmark.py HTML: {commonmark.commonmark(small)!r}")
        done += len(seeds)
    print(
        f"{args.count} documents (seeds {args.seed}..{args.seed + args.count - 1}): {failures} disagree with both"
        f" reference parsers; the two references differ on {ambiguous}"
    )
    return 1 if failures > args.allow else 0


if __name__ == "__main__":
    sys.exit(main())
