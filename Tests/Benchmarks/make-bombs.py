#!/usr/bin/env python3
"""Writes the six 10000 x 10000 "decompression bombs" of the memory benchmark (issue 15) into FOLDER:
small files whose pixels take hundreds of MB once decoded.

  rgba8.png           8-bit RGBA, not interlaced        (streams: rows)
  rgba16.png          16-bit RGBA, not interlaced       (streams: rows)
  interlaced.png      8-bit RGBA, Adam7 interlaced      (decoded whole: 400 MB)
  baseline.jpg        baseline JPEG, 4:2:0              (streams: scanlines at 1/8 scale)
  progressive.jpg     progressive JPEG, 4:2:0           (libjpeg holds every coefficient: 300 MB)
  progressive444.jpg  progressive JPEG, 4:4:4           (600 MB of coefficients: over the default budget)

The PNGs are written here, a row at a time (flat colour bands compress about 1000:1, as in the issue);
the JPEGs with Pillow (pip install Pillow). Usage: make-bombs.py FOLDER [SIZE]
"""
import os
import struct
import sys
import zlib

ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def pixel(y, size, depth):
    """A colour per band of rows: flat, so the file stays small."""
    band = y * 8 // size
    rgba = (40 + band * 25, 200 - band * 20, 90 + band * 10, 255 if band % 2 == 0 else 128)
    if depth == 16:
        return struct.pack(">4H", *(v * 257 for v in rgba))
    return bytes(rgba)


def write_png(path, size, depth, interlaced):
    passes = ADAM7 if interlaced else [(0, 0, 1, 1)]
    z = zlib.compressobj(9)
    with open(path + ".tmp", "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, depth, 6, 0, 0, 1 if interlaced else 0)))
        for x0, y0, dx, dy in passes:
            columns = len(range(x0, size, dx))
            for y in range(y0, size, dy):
                data = z.compress(b"\0" + pixel(y, size, depth) * columns)
                if data:
                    f.write(chunk(b"IDAT", data))
        f.write(chunk(b"IDAT", z.flush()))
        f.write(chunk(b"IEND", b""))
    os.replace(path + ".tmp", path)


def write_jpeg(path, size, progressive, subsampling):
    from PIL import Image, ImageDraw

    Image.MAX_IMAGE_PIXELS = None
    image = Image.new("RGB", (size, size), (60, 120, 180))
    draw = ImageDraw.Draw(image)
    for i in range(8):
        draw.rectangle([0, i * size // 8, size, (i + 1) * size // 8 - 1], fill=(40 + i * 25, 200 - i * 20, 90))
    draw.ellipse([size // 4, size // 4, size * 3 // 4, size * 3 // 4], fill=(230, 200, 60))
    image.save(path + ".tmp", "JPEG", quality=90, progressive=progressive, subsampling=subsampling)
    os.replace(path + ".tmp", path)


def main():
    folder = sys.argv[1]
    size = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
    os.makedirs(folder, exist_ok=True)
    jobs = [
        ("rgba8.png", lambda p: write_png(p, size, 8, False)),
        ("rgba16.png", lambda p: write_png(p, size, 16, False)),
        ("interlaced.png", lambda p: write_png(p, size, 8, True)),
        ("baseline.jpg", lambda p: write_jpeg(p, size, False, "4:2:0")),
        ("progressive.jpg", lambda p: write_jpeg(p, size, True, "4:2:0")),
        ("progressive444.jpg", lambda p: write_jpeg(p, size, True, "4:4:4")),
    ]
    for name, make in jobs:
        path = os.path.join(folder, name)
        if not os.path.exists(path):
            make(path)
        print(f"{name}\t{os.path.getsize(path)} bytes")


main()
