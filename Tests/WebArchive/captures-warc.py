#!/usr/bin/env python3
"""Writes a WARC of made-up captures, for a web archive (pywb.sh) to replay in the rescue tests.

    captures-warc.py OUT.warc.gz SPEC.json

SPEC.json is a list of captures, each {"url", "date" (ISO 8601, UTC), "status" ("200 OK", "404 Not Found", ...),
"content_type", "body" (a file whose bytes are the response body)}: one `response` record per capture, with
the HTTP status line and headers as an origin would have sent them. Needs warcio (`.ci/run` installs it).
"""
import io
import json
import sys

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter


def main():
    out, spec = sys.argv[1], sys.argv[2]
    with open(spec) as f:
        captures = json.load(f)
    with open(out, "wb") as f:
        writer = WARCWriter(f, gzip=True)
        for c in captures:
            with open(c["body"], "rb") as b:
                body = b.read()
            headers = StatusAndHeaders(
                c["status"],
                [("Content-Type", c["content_type"]), ("Content-Length", str(len(body)))],
                protocol="HTTP/1.1",
            )
            record = writer.create_warc_record(
                c["url"], "response", payload=io.BytesIO(body), http_headers=headers,
                warc_headers_dict={"WARC-Date": c["date"]},
            )
            writer.write_record(record)


if __name__ == "__main__":
    main()
