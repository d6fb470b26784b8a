#!/usr/bin/env bash
# Peak memory (maximum resident set size from /usr/bin/time -v) of imgarchive on six 10000 x 10000
# "decompression bombs" (Tests/Benchmarks/make-bombs.py: 0.4-1.7 MB files, 400 MB-1.2 GB of pixels):
# `imgarchive thumb --width 550 IN OUT` on each, then one `imgarchive fetch` of a post that shows all six
# at 550 px, served by python3 -m http.server on 127.0.0.1 (the post names bombs.test; --connect-to
# sends it to loopback). Needs Pillow for the JPEGs (pip install Pillow).
# Usage: Tests/Benchmarks/memory-bench.sh [BINARY [BEFORE_BINARY]]
#   BINARY defaults to this checkout's release build (built first); BEFORE_BINARY, an older imgarchive
#   measured the same way in the same run. Files go to $BENCHDATA (default /tmp/imgarchive-memory-bench).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
work=${BENCHDATA:-/tmp/imgarchive-memory-bench}
python3 -c 'import PIL' 2>/dev/null || { echo "memory-bench: needs Pillow (pip install Pillow)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "memory-bench: needs GNU time (apt-get install time)" >&2; exit 2; }
if [ $# -ge 1 ]; then
  binaries=("$@")
else
  (cd "$root" && swift build -c release --product imgarchive >/dev/null)
  binaries=("$root/.build/release/imgarchive")
fi
mkdir -p "$work"
python3 "$here/make-bombs.py" "$work/bombs" >/dev/null
bombs=(rgba8.png rgba16.png interlaced.png baseline.jpg progressive.jpg progressive444.jpg)

# Runs a command under /usr/bin/time -v; prints "<peak MB> <exit status>".
peak() {
  local log=$work/time.log status=0
  /usr/bin/time -v "$@" >"$work/out.log" 2>"$log" || status=$?
  awk -v s="$status" '/Maximum resident set size/ { printf "%d MB exit %s\n", ($6 + 1023) / 1024, s }' "$log"
}

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 -m http.server "$port" --bind 127.0.0.1 --directory "$work/bombs" >/dev/null 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done

for bin in "${binaries[@]}"; do
  echo "== $bin"
  for bomb in "${bombs[@]}"; do
    rm -f "$work/thumb-$bomb"
    printf '%-20s %s\n' "$bomb" "$(peak "$bin" thumb --width 550 "$work/bombs/$bomb" "$work/thumb-$bomb")"
  done
  site=$work/site
  rm -rf "$site"
  mkdir -p "$site/posts"
  {
    echo "# Six bombs"
    for bomb in "${bombs[@]}"; do echo "<img width=\"550\" src=\"http://bombs.test/$bomb\">"; done
  } >"$site/posts/bombs.md"
  printf '%-20s %s\n' "fetch (6 bombs)" \
    "$(cd "$site" && peak "$bin" fetch --no-rescue --retries 0 --connect-to "bombs.test:80:127.0.0.1:$port" posts)"
  grep -h -i -E "thumbnail|budget" "$work/out.log" "$work/time.log" | grep -v -E "^\s*(Command|Maximum)" | head -5 || true
  echo "thumbnails made: $(find "$site/archive" -path '*/w550/*' -type f 2>/dev/null | wc -l)"
done
