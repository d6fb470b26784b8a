#!/usr/bin/env python3
"""Writes a synthetic blog of Markdown posts for the scan benchmark (default: 1000 posts, about 100 MB).

Deterministic (fixed seed). Posts mix prose (English and Chinese), every kind of image reference the scanner
reads, links, code blocks and HTML, roughly in the proportions of real Jekyll/Hexo blogs.
Usage: make-site.py OUTDIR [--posts N] [--post-kb K]
"""
import argparse
import os
import random

WORDS = ("the image archive keeps every picture a post shows even when the host goes away "
         "markdown links render local copies 图片 归档 博客 文章 链接 失效 备份").split()
HOSTS = ["cms-bucket.ws.126.net", "wx4.sinaimg.cn", "img-blog.csdnimg.cn", "i.imgur.com",
         "upload-images.jianshu.io", "pic1.zhimg.com", "example-1250000000.cos.ap-beijing.myqcloud.com"]


def url(r):
    host = r.choice(HOSTS)
    path = "/%d/%02d/%032x.jpg" % (r.randint(2012, 2024), r.randint(1, 12), r.getrandbits(128))
    suffix = r.choice(["", "?imageView&thumbnail=550x0", "?imageView2/2/w/640", "!web", ""])
    return "https://%s%s%s" % (host, path, suffix)


def paragraph(r):
    return " ".join(r.choice(WORDS) for _ in range(r.randint(40, 120))) + "\n\n"


def block(r):
    k = r.random()
    if k < 0.45:
        return paragraph(r)
    if k < 0.60:
        return "![photo %d](%s \"caption\")\n\n" % (r.randint(1, 99), url(r))
    if k < 0.68:
        return '<img src="%s" width="%d" alt="x">\n\n' % (url(r), r.choice([300, 550, 640]))
    if k < 0.72:
        return '<img srcset="%s 1x, %s 2x" src="%s">\n\n' % (url(r), url(r), url(r))
    if k < 0.80:
        return "See [the docs](https://example.com/docs/%d) and `inline code` here.\n\n" % r.randint(1, 999)
    if k < 0.90:
        return "```js\nconst s = \"![x](https://no.example/x.png)\";\nfor (let i = 0; i < n; i++) { f(i) }\n```\n\n"
    if k < 0.95:
        return "![ref%d][r%d]\n\n[r%d]: %s\n\n" % (r.randint(1, 9), k * 1000 // 1, k * 1000 // 1, url(r))
    return "> quoted text with a [link](https://example.org/%d)\n\n" % r.randint(1, 99)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir")
    ap.add_argument("--posts", type=int, default=1000)
    ap.add_argument("--post-kb", type=int, default=100)
    a = ap.parse_args()
    r = random.Random(20261127)
    os.makedirs(os.path.join(a.outdir, "_posts"), exist_ok=True)
    for i in range(a.posts):
        parts = ["---\ntitle: Post %d\ncover: %s\ntags: [a, b]\n---\n\n" % (i, url(r))]
        size = len(parts[0])
        while size < a.post_kb * 1024:
            b = block(r)
            parts.append(b)
            size += len(b.encode())
        with open(os.path.join(a.outdir, "_posts", "2024-01-01-post-%04d.md" % i), "w") as f:
            f.write("".join(parts))


if __name__ == "__main__":
    main()
