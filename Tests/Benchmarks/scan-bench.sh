#!/usr/bin/env bash
# Scan throughput: `imgarchive scan` (release build) beside `grep -rhoE 'https?://[^ )"]+'` on the same
# synthetic site, in one run. Prints MB/s for each (best of 3) and the ratio.
# Usage: Tests/Benchmarks/scan-bench.sh [SITE_DIR]   (default: ~/.cache/imgarchive-bench/site, made if missing)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
site=${1:-$HOME/.cache/imgarchive-bench/site}
[ -d "$site/_posts" ] || python3 "$root/Tests/Benchmarks/make-site.py" "$site"
(cd "$root" && swift build -c release --product imgarchive >/dev/null)
bin="$root/.build/release/imgarchive"
bytes=$(cat "$site"/_posts/* | wc -c)
mb=$(python3 -c "print($bytes/1e6)")
cat "$site"/_posts/* >/dev/null  # warm the page cache

best() {  # best wall time of 3 runs of "$@", output discarded
    local b=999999
    for _ in 1 2 3; do
        local s e
        s=$(date +%s.%N)
        "$@" >/dev/null 2>&1
        e=$(date +%s.%N)
        b=$(python3 -c "print(min($b, $e - $s))")
    done
    echo "$b"
}

t_scan=$(best "$bin" scan --format json "$site")
t_grep=$(best grep -rhoE 'https?://[^ )"]+' "$site")
refs=$("$bin" scan --format json "$site" 2>/dev/null | wc -l)
python3 - "$mb" "$t_scan" "$t_grep" "$refs" <<'PY'
import sys
mb, ts, tg, refs = float(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
print(f"site: {mb:.1f} MB, {refs} remote references")
print(f"imgarchive scan --format json: {ts:.2f} s  {mb/ts:7.1f} MB/s")
print(f"grep -rhoE 'https?://[^ )\"]+': {tg:.2f} s  {mb/tg:7.1f} MB/s")
print(f"scan takes {ts/tg:.2f}x grep's time")
PY
