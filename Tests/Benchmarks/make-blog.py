#!/usr/bin/env python3
"""Writes a Jekyll blog of many small posts and the images they show, for site-bench.sh (issue 16's site).

Deterministic (fixed seed). Per 5,000 posts (the default): 20,000 remote image references (4 per post, at
least 1 in every post), 16,100 distinct URLs over 4 hosts (img1..img4.sitebench.test, http), the other 3,900
references repeating an earlier URL (in the same post or another one). A reference is a front-matter `cover:`
(about 1 post in 7), a Markdown image (70 %), an HTML <img> (20 %) or an HTML <img width="160"> (10 %, a
thumbnail); posts also hold prose, links to pages and a code block now and then. Posts are 1-3 KB.

Every URL's file is a 320x200 JPEG (made once with Pillow) whose bytes differ from every other's: a JPEG
comment segment naming the URL follows the SOI marker, so the archive stores one object per distinct URL,
as it would for real photos (identical bytes would dedupe into one object and hide the per-object costs).

Writes OUTDIR/site/{_config.yml,_posts/*.md}, OUTDIR/www/<host>/<path> (what nginx serves), OUTDIR/urls.txt
and OUTDIR/meta.json (posts, references, distinct URLs, hosts, bytes).
Usage: make-blog.py OUTDIR [--posts N]
"""
import argparse
import io
import json
import os
import random

HOSTS = ["img%d.sitebench.test" % i for i in range(1, 5)]
WORDS = ("the image archive keeps every picture a post shows even when the host goes away markdown links "
         "render local copies of photos taken on a walk through the old town last spring").split()


def base_jpeg():
    from PIL import Image  # Pillow: pip install Pillow
    r = random.Random(7)
    img = Image.new("RGB", (320, 200))
    img.putdata([((x * 255) // 320, (y * 255) // 200, r.randrange(256)) for y in range(200) for x in range(320)])
    out = io.BytesIO()
    img.save(out, "JPEG", quality=85)
    return out.getvalue()


def with_comment(jpeg, text):
    body = text.encode()
    return jpeg[:2] + b"\xff\xfe" + (len(body) + 2).to_bytes(2, "big") + body + jpeg[2:]


def sentence(r):
    return " ".join(r.choice(WORDS) for _ in range(r.randint(8, 20))).capitalize() + "."


def paragraph(r):
    return " ".join(sentence(r) for _ in range(r.randint(2, 5))) + "\n\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir")
    ap.add_argument("--posts", type=int, default=5000)
    a = ap.parse_args()
    n = a.posts
    refs_total, distinct = 4 * n, round(16100 * n / 5000)
    r = random.Random(20261202)

    # Which references repeat an earlier URL: exactly refs_total - distinct of them, never the first.
    repeats = set(r.sample(range(1, refs_total), refs_total - distinct))
    urls, ref_urls = [], []
    for k in range(refs_total):
        if k in repeats:
            ref_urls.append(urls[r.randrange(len(urls))])
        else:
            u = "http://%s/%d/%02d/%016x.jpg" % (r.choice(HOSTS), r.randint(2014, 2025), r.randint(1, 12),
                                                 r.getrandbits(64))
            urls.append(u)
            ref_urls.append(u)

    # References per post: 1 each, the rest spread at random.
    per_post = [1] * n
    for _ in range(refs_total - n):
        per_post[r.randrange(n)] += 1

    site = os.path.join(a.outdir, "site")
    os.makedirs(os.path.join(site, "_posts"), exist_ok=True)
    with open(os.path.join(site, "_config.yml"), "w") as f:
        f.write("title: Site bench\nurl: https://blog.sitebench.test\n")
    k, size = 0, 0
    for i in range(n):
        mine = ref_urls[k:k + per_post[i]]
        k += per_post[i]
        front = "---\nlayout: post\ntitle: \"Walk %d\"\ndate: %d-%02d-%02d 10:00:00 +0800\ntags: [photos, walk]\n" % (
            i, 2014 + i % 12, 1 + i % 12, 1 + i % 28)
        if r.random() < 1 / 7:
            front += "cover: %s\n" % mine[0]
            mine = mine[1:]
        parts = [front + "---\n\n", paragraph(r)]
        for u in mine:
            kind = r.random()
            if kind < 0.70:
                parts.append("![photo %d](%s)\n\n" % (r.randint(1, 99), u))
            elif kind < 0.90:
                parts.append('<img src="%s" alt="photo">\n\n' % u)
            else:
                parts.append('<img src="%s" width="160" alt="small">\n\n' % u)
            if r.random() < 0.5:
                parts.append(paragraph(r))
        if r.random() < 0.3:
            parts.append("See [the map](https://maps.sitebench.test/%d) for the route.\n\n" % r.randint(1, 999))
        if r.random() < 0.1:
            parts.append("```sh\ncurl -O https://example.com/route.gpx\n```\n\n")
        text = "".join(parts)
        size += len(text.encode())
        with open(os.path.join(site, "_posts", "%d-%02d-%02d-walk-%05d.md" % (
                2014 + i % 12, 1 + i % 12, 1 + i % 28, i)), "w") as f:
            f.write(text)

    jpeg = base_jpeg()
    www = os.path.join(a.outdir, "www")
    for u in urls:
        path = os.path.join(www, u.split("://", 1)[1])
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(with_comment(jpeg, "sitebench " + u))
    with open(os.path.join(a.outdir, "urls.txt"), "w") as f:
        f.write("\n".join(urls) + "\n")
    with open(os.path.join(a.outdir, "meta.json"), "w") as f:
        json.dump({"posts": n, "references": refs_total, "distinct": len(urls), "hosts": HOSTS,
                   "post_bytes": size, "image_bytes": len(jpeg)}, f)
        f.write("\n")


if __name__ == "__main__":
    main()
