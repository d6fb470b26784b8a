#!/usr/bin/env bash
# Scan throughput: `imgarchive scan` (release build) beside `grep -rhoE 'https?://[^ )"]+'` on the same
# synthetic site, in one run. Prints MB/s for each (best of ROUNDS=3 wall times), the user CPU seconds of each (best
# of 3), the load average, and the ratio. Both tools write into `wc -l`: GNU grep stops at the first match when its output
# is /dev/null, so discarding the output would time nothing.
# Usage: Tests/Benchmarks/scan-bench.sh [SITE_DIR]   (default: ~/.cache/imgarchive-bench/site, made if missing)
# Many small posts (issue 16's shape: 5,000 posts, about 20,000 references):
#   python3 Tests/Benchmarks/make-site.py DIR --posts 5000 --post-kb 2 && Tests/Benchmarks/scan-bench.sh DIR
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

once() {  # wall time and user CPU time of one run of "$@", output counted by wc
    /usr/bin/time -o "$tf" -f "%e %U" "$@" 2>/dev/null | wc -l >/dev/null
    tail -1 "$tf"
}

# The tools take turns, round after round (ROUNDS, default 3), and each keeps its best wall and best user CPU
# time: on a shared machine a load that comes and goes then falls on all of them alike.
rounds=${ROUNDS:-3}
t_scan=999999 u_scan=999999 t_grep=999999 u_grep=999999 t_before=999999 u_before=999999
uptime
for _ in $(seq "$rounds"); do
    read -r t u < <(once "$bin" scan --format json "$site")
    t_scan=$(python3 -c "print(min($t_scan, $t))") u_scan=$(python3 -c "print(min($u_scan, $u))")
    read -r t u < <(once grep -rhoE 'https?://[^ )"]+' "$site")
    t_grep=$(python3 -c "print(min($t_grep, $t))") u_grep=$(python3 -c "print(min($u_grep, $u))")
    if [ -n "${BEFORE:-}" ]; then
        read -r t u < <(once "$BEFORE" scan --format json "$site")
        t_before=$(python3 -c "print(min($t_before, $t))") u_before=$(python3 -c "print(min($u_before, $u))")
    fi
done
refs_before=0
if [ -n "${BEFORE:-}" ]; then
    refs_before=$("$BEFORE" scan --format json "$site" 2>/dev/null | wc -l)
else
    t_before=0 u_before=0
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
