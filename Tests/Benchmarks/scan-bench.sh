#!/usr/bin/env bash
# Scan throughput: `imgarchive scan` (release build) beside `grep -rhoE 'https?://[^ )"]+'` on the same
# synthetic site, in one run. Prints MB/s for each (best of 3 wall times), the user CPU seconds of each (best of 3),
# the load average, and the ratio. Both tools write into `wc -l`: GNU grep stops at the first match when its output
# is /dev/null, so discarding the output would time nothing.
# Usage: Tests/Benchmarks/scan-bench.sh [SITE_DIR]   (default: ~/.cache/imgarchive-bench/site, made if missing)
# BEFORE=/path/to/an/older/imgarchive also times that binary in the same run, so that a change's two ratios to
# grep are measured under the same load.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
site=${1:-$HOME/.cache/imgarchive-bench/site}
[ -d "$site/_posts" ] || python3 "$root/Tests/Benchmarks/make-site.py" "$site"
(cd "$root" && swift build -c release --product imgarchive >/dev/null)
bin="$root/.build/release/imgarchive"
bytes=$(cat "$site"/_posts/* | wc -c)
mb=$(python3 -c "print($bytes/1e6)")
cat "$site"/_posts/* >/dev/null  # warm the page cache
tf=$(mktemp)
trap 'rm -f "$tf"' EXIT

best() {  # best wall time and best user CPU time of 3 runs of "$@", output counted by wc
    local b=999999 u=999999
    for _ in 1 2 3; do
        local out
        /usr/bin/time -o "$tf" -f "%e %U" "$@" 2>/dev/null | wc -l >/dev/null
        out=$(tail -1 "$tf")
        b=$(python3 -c "print(min($b, ${out% *}))")
        u=$(python3 -c "print(min($u, ${out#* }))")
    done
    echo "$b $u"
}

uptime
read -r t_scan u_scan < <(best "$bin" scan --format json "$site")
read -r t_grep u_grep < <(best grep -rhoE 'https?://[^ )"]+' "$site")
t_before=0 u_before=0 refs_before=0
if [ -n "${BEFORE:-}" ]; then
    read -r t_before u_before < <(best "$BEFORE" scan --format json "$site")
    refs_before=$("$BEFORE" scan --format json "$site" 2>/dev/null | wc -l)
fi
uptime
refs=$("$bin" scan --format json "$site" 2>/dev/null | wc -l)
python3 - "$mb" "$t_scan" "$t_grep" "$refs" "$u_scan" "$u_grep" "$t_before" "$u_before" "$refs_before" <<'PY'
import sys
mb, ts, tg, refs = float(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
us, ug = float(sys.argv[5]), float(sys.argv[6])
tb, ub, refs_before = float(sys.argv[7]), float(sys.argv[8]), int(sys.argv[9])
print(f"site: {mb:.1f} MB, {refs} remote references")
print(f"imgarchive scan --format json: {ts:.2f} s  {mb/ts:7.1f} MB/s  {us:.2f} s user CPU")
print(f"grep -rhoE 'https?://[^ )\"]+': {tg:.2f} s  {mb/tg:7.1f} MB/s  {ug:.2f} s user CPU")
print(f"scan takes {ts/tg:.2f}x grep's time")
if tb:
    print(f"before: {tb:.2f} s  {mb/tb:7.1f} MB/s  {ub:.2f} s user CPU, {refs_before} remote references")
    print(f"before, scan took {tb/tg:.2f}x grep's time")
PY
