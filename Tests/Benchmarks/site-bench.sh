#!/usr/bin/env bash
# Every command on a site of many small posts (issue 16), beside the tool a user would otherwise script, in one run.
# The site (Tests/Benchmarks/make-blog.py: 5,000 Jekyll posts, 20,000 remote image references, 16,100 distinct
# 320x200 JPEGs over 4 hosts) is made once and cached; its images are served by nginx on 127.0.0.1, which the
# 4 host names reach through --connect-to (no DNS, no traffic off loopback). On a fresh copy of the site it
# times, with /usr/bin/time (wall, user+sys CPU, peak RSS):
#   scan                 beside  grep -rhoE 'https?://[^ )"]+' of the posts
#   fetch, first + rerun
#   rewrite, first + rerun, rewrite --revert
#                        beside  sed -i of every post, then sync of every post (coreutils: an fsync each)
#   status
#   verify               beside  sha256sum of every archived file
#   archive (the job) after the revert, and its rerun
# Read-only steps (scan, grep, status, verify, sha256sum) take the best of --rounds runs (default 3); the others
# run once. Between steps it checks the outputs, so a fast wrong answer fails the run (exit 1): scan lists every
# reference; the first fetch asks nginx for each URL and stores one object per URL, the rerun asks for nothing;
# the rewrite changes every post, leaves no remote URL of the 4 hosts and links only files that exist; its rerun
# changes nothing; status counts every reference rewritten; verify passes, and fails once a byte of an object
# is changed; the revert gives back the original posts byte for byte (a checksum of the tree); the job rewrites
# them to the same bytes again and its rerun changes nothing and asks nginx for nothing.
# Usage: Tests/Benchmarks/site-bench.sh [--posts N] [--rounds N] [--profile perf|strace] [--fetch-only]
#   --fetch-only times only the first fetch, --rounds times per binary (3 by default), the binaries taking turns,
#   each run on a fresh copy of the site with the same checks, and prints each run's user and system CPU per URL.
#   --profile runs every imgarchive step but the fetches under a profiler (one round; the times are then the
#   profiler's, not the program's) and writes each step's profile to $BENCHDATA/profile/: `perf` samples the
#   CPU (perf record, cpu-clock, DWARF call graphs, as Swift's runtime and libc keep no frame pointers; user
#   and kernel time, not the time blocked on the disk) and lists the functions by self and by inclusive
#   share, Swift names demangled; `strace` counts the system calls and the wall time spent in each (strace
#   -f -c -w: where an fsync-bound step waits). valgrind's callgrind would count instructions, but Debian
#   12's valgrind 3.19 cannot read the DWARF 5 of Swift 6 binaries and crashes in libdispatch.
#   IMGARCHIVE=/path/to/imgarchive  times that binary instead of building this checkout's release build;
#   BEFORE=/path/to/an/older/imgarchive  also times that binary, on its own copy of the site, in the same run
#   (several, separated by ':', are labelled before1, before2, ...);
#   the cached site is in $SITECACHE (default ~/.cache/imgarchive-bench/blog-N); copies, archives and logs in
#   $BENCHDATA (default /tmp/imgarchive-site-bench). Needs nginx (apt-get install nginx), GNU time, and Pillow
#   to make the site.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
posts=5000 rounds=3 profile= fetch_only=
while [ $# -gt 0 ]; do
    case $1 in
        --posts) posts=$2; shift 2 ;;
        --rounds) rounds=$2; shift 2 ;;
        --profile) profile=$2 rounds=1; shift 2 ;;
        --fetch-only) fetch_only=1; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "site-bench: unknown argument '$1' (--posts N, --rounds N, --profile perf|strace, --fetch-only)" >&2
           exit 2 ;;
    esac
done
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] \
    || { echo "site-bench: needs nginx (apt-get install nginx)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "site-bench: needs GNU time (apt-get install time)" >&2; exit 2; }
nginx=$(command -v nginx || echo /usr/sbin/nginx)
case $profile in
    "") ;;
    perf|strace)
        command -v "$profile" >/dev/null \
            || { echo "site-bench: --profile $profile needs $profile (apt-get install linux-perf or strace)" >&2; exit 2; } ;;
    *) echo "site-bench: --profile takes perf or strace, not '$profile'" >&2; exit 2 ;;
esac
[[ $posts =~ ^[1-9][0-9]*$ && $rounds =~ ^[1-9][0-9]*$ ]] \
    || { echo "site-bench: --posts and --rounds take a whole number from 1" >&2; exit 2; }
cache=${SITECACHE:-$HOME/.cache/imgarchive-bench/blog-$posts}
work=${BENCHDATA:-/tmp/imgarchive-site-bench}

# Room: the images (23 KB per distinct URL, 3.2 URLs per post) once in the cache and once in the archive.
free_kb() { mkdir -p "$1" && df --output=avail -k "$1" | tail -1; }
need_kb=$((posts * 3 * 23 * 2 + 1048576))
[ "$(free_kb "$(dirname "$cache")")" -ge "$need_kb" ] && [ "$(free_kb "$(dirname "$work")")" -ge "$need_kb" ] || {
    echo "site-bench: $posts posts need about $((need_kb / 1048576)) GB free in $(dirname "$cache") and $(dirname "$work")" >&2
    exit 2
}
if [ ! -f "$cache/meta.json" ]; then  # meta.json is written last: without it the cache is incomplete
    python3 -c 'import PIL' 2>/dev/null \
        || { echo "site-bench: making the site needs Pillow (pip install Pillow)" >&2; exit 2; }
    rm -rf "$cache"
    echo "site-bench: making the site in $cache (once)" >&2
    python3 "$here/make-blog.py" "$cache" --posts "$posts"
fi
meta() { python3 -c "import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$cache/meta.json" "$1"; }
refs=$(meta references) distinct=$(meta distinct)

if [ -n "${IMGARCHIVE:-}" ]; then
    bin=$IMGARCHIVE
else
    (cd "$root" && swift build -c release --product imgarchive >/dev/null)
    bin="$root/.build/release/imgarchive"
fi
binaries=("$bin") labels=(imgarchive)
if [ -n "${BEFORE:-}" ]; then
    IFS=: read -ra befores <<<"$BEFORE"
    if [ "${#befores[@]}" = 1 ]; then
        binaries+=("$BEFORE") labels+=(before)
    else
        for j in "${!befores[@]}"; do binaries+=("${befores[$j]}") labels+=("before$((j + 1))"); done
    fi
fi

# Only what an earlier run left: BENCHDATA may name a folder that holds other things.
rm -rf "$work"/{nginx,out,profile,anchor,imgarchive,before}
rm -f "$work"/{results,rest,failures,time,archived,uptime-start,uptime-end}.txt "$work"/victim
mkdir -p "$work/nginx" "$work/out"
[ -z "$profile" ] || mkdir -p "$work/profile"
results=$work/results.txt failures=$work/failures.txt
: >"$results"
: >"$failures"

# nginx on 127.0.0.1 only, one folder per Host header; stopped by its master's pid on exit.
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$work/nginx/nginx.conf" <<EOF
daemon off;
master_process on;
worker_processes 1;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
user $(id -un);
events { worker_connections 1024; }
http {
    access_log $work/nginx/access.log;
    sendfile on;
    tcp_nodelay on;
    keepalive_timeout 65;
    keepalive_requests 1000000;
    types { image/jpeg jpg; }
    default_type application/octet-stream;
    client_body_temp_path $work/nginx/body;
    proxy_temp_path $work/nginx/proxy;
    fastcgi_temp_path $work/nginx/fastcgi;
    uwsgi_temp_path $work/nginx/uwsgi;
    scgi_temp_path $work/nginx/scgi;
    server {
        listen 127.0.0.1:$port;
        root $cache/www/\$host;
        location / { try_files \$uri =404; }
    }
}
EOF
"$nginx" -c "$work/nginx/nginx.conf" -p "$work/nginx" &
trap 'kill "$(cat "$work/nginx/nginx.pid" 2>/dev/null)" 2>/dev/null || true' EXIT
connect=()
for host in $(python3 -c "import json; print(' '.join(json.load(open('$cache/meta.json'))['hosts']))"); do
    connect+=(--connect-to "$host:80:127.0.0.1:$port")
done
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
requests() { wc -l <"$work/nginx/access.log"; }

fail() { echo "$1" | tee -a "$failures" >&2; }
tree_sum() { (cd "$1" && find _posts -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-64); }

# timed LABEL STEP DIR CMD...: runs CMD in DIR under /usr/bin/time (stdout and stderr to $work/out/LABEL-STEP.*),
# appends "LABEL STEP wall user sys rss_kb status" to the results and sets $status. With --profile, imgarchive's
# steps but the fetches (which the anchors do not cover) run under the profiler.
timed() {
    local label=$1 step=$2 dir=$3
    shift 3
    if [ "$label" != anchor ] && [[ $step != fetch* ]]; then
        case $profile in
            perf)
                set -- perf record -q -e cpu-clock -F 499 --call-graph dwarf,16384 \
                    -o "$work/profile/$label-$step.data" "$@" ;;
            strace) set -- strace -f -c -w -o "$work/profile/$label-$step.txt" "$@" ;;
        esac
    fi
    status=0
    (cd "$dir" && /usr/bin/time -o "$work/time.txt" -f "%e %U %S %M" "$@" >"$work/out/$label-$step.out" \
        2>"$work/out/$label-$step.err") || status=$?
    echo "$label $step $(tail -1 "$work/time.txt") $status" >>"$results"
}
# best LABEL STEP DIR CMD...: timed, --rounds times; keeps the round with the shortest wall time.
best() {
    local label=$1 step=$2 keep
    for _ in $(seq "$rounds"); do timed "$@"; done
    keep=$(grep "^$label $step " "$results" | sort -n -k3 | head -1)
    grep -v "^$label $step " "$results" >"$work/rest.txt" || true
    { cat "$work/rest.txt"; echo "$keep"; } >"$results"
    status=${keep##* }
}
expect_status() { [ "$status" = "$1" ] || fail "$2: exit $status, expected $1 (see $work/out/$2.err)"; }

# check_rewritten SITE: every post differs from the original, no URL of the 4 hosts is left, every archive link
# names a file that exists. Prints nothing when all holds.
check_rewritten() {
    python3 - "$1" "$cache/site" <<'PY'
import os, re, sys
site, orig = sys.argv[1], sys.argv[2]
names = sorted(os.listdir(os.path.join(orig, "_posts")))
unchanged, remote, missing, links = 0, 0, 0, 0
for name in names:
    new = open(os.path.join(site, "_posts", name), "rb").read()
    if new == open(os.path.join(orig, "_posts", name), "rb").read():
        unchanged += 1
    remote += len(re.findall(rb"https?://img[0-9]\.sitebench\.test/", new))
    for link in re.findall(rb"/archive/[^ )\"\n]+", new):
        links += 1
        if not os.path.isfile(os.path.join(site, link.decode().lstrip("/"))):
            missing += 1
if unchanged or remote or missing or links == 0:
    print(f"{unchanged} of {len(names)} posts unchanged, {remote} remote URLs left, "
          f"{missing} of {links} archive links name no file")
PY
}

if [ -n "$fetch_only" ]; then  # the first fetch alone, the binaries taking turns
    uptime | tee "$work/uptime-start.txt"
    for round in $(seq "$rounds"); do
        for i in "${!binaries[@]}"; do
            b=${binaries[$i]} label=${labels[$i]}
            site=$work/$label
            rm -rf "$site"
            cp -a "$cache/site" "$site"
            sync
            before=$(requests)
            timed "$label" "fetch-$round" "$site" "$b" fetch "${connect[@]}" _posts
            expect_status 0 "$label-fetch-$round"
            asked=$(($(requests) - before))
            [ "$asked" -ge "$distinct" ] || fail "$label fetch $round: nginx served $asked requests for $distinct URLs"
            objects=$(find "$site/archive/objects" -type f | wc -l)
            [ "$objects" = "$distinct" ] || fail "$label fetch $round: $objects objects for $distinct distinct URLs"
        done
    done
    uptime | tee "$work/uptime-end.txt"
    python3 - "$results" "$distinct" <<'PY'
import sys
distinct = int(sys.argv[2])
print("| run | wall | user CPU (ms per URL) | system CPU (ms per URL) | CPU per URL |")
print("| --- | ---: | ---: | ---: | ---: |")
for line in open(sys.argv[1]):
    label, step, wall, user, sys_, rss, status = line.split()
    u, s = float(user), float(sys_)
    print(f"| {label} {step} | {float(wall):.1f} s | {u:.2f} s ({u / distinct * 1000:.2f}) "
          f"| {s:.2f} s ({s / distinct * 1000:.2f}) | {(u + s) / distinct * 1000:.2f} ms |")
PY
    if [ -s "$failures" ]; then
        echo "site-bench: FAILED checks:" >&2
        cat "$failures" >&2
        exit 1
    fi
    exit 0
fi

uptime | tee "$work/uptime-start.txt"
original=$(tree_sum "$cache/site")
find "$cache/site/_posts" -type f -exec cat {} + >/dev/null  # warm the page cache

# Anchors, on their own copy.
anchor=$work/anchor
cp -a "$cache/site" "$anchor"
sync
best anchor grep "$anchor" grep -rhoE 'https?://[^ )"]+' _posts
sed_to='s#https?://(img[0-9]\.sitebench\.test)/#/archive/\1/#g'
sed_back='s#/archive/(img[0-9]\.sitebench\.test)/#http://\1/#g'
sync_all='find _posts -type f -exec sync {} +'
timed anchor sed "$anchor" bash -c "find _posts -type f -exec sed -i -E '$sed_to' {} + && $sync_all"
[ "$(grep -rlE 'https?://img[0-9]\.sitebench\.test/' "$anchor/_posts" | wc -l)" = 0 ] || fail "anchor sed left URLs"
timed anchor sed-revert "$anchor" bash -c "find _posts -type f -exec sed -i -E '$sed_back' {} + && $sync_all"
[ "$(tree_sum "$anchor")" = "$original" ] || fail "anchor sed revert is not the original"

for i in "${!binaries[@]}"; do
    b=${binaries[$i]} label=${labels[$i]}
    site=$work/$label
    cp -a "$cache/site" "$site"
    sync

    best "$label" scan "$site" "$b" scan --format json _posts
    expect_status 0 "$label-scan"
    n=$(wc -l <"$work/out/$label-scan.out")
    [ "$n" = "$refs" ] || fail "$label scan: $n references listed, expected $refs"

    before=$(requests)
    timed "$label" fetch "$site" "$b" fetch "${connect[@]}" _posts
    expect_status 0 "$label-fetch"
    asked=$(($(requests) - before))
    [ "$asked" -ge "$distinct" ] || fail "$label fetch: nginx served $asked requests for $distinct URLs"
    objects=$(find "$site/archive/objects" -type f | wc -l)
    [ "$objects" = "$distinct" ] || fail "$label fetch: $objects objects stored for $distinct distinct URLs"

    before=$(requests)
    timed "$label" fetch-rerun "$site" "$b" fetch "${connect[@]}" _posts
    expect_status 0 "$label-fetch-rerun"
    [ "$(requests)" = "$before" ] || fail "$label fetch rerun: asked nginx again ($(($(requests) - before)) requests)"

    timed "$label" rewrite "$site" "$b" rewrite _posts
    expect_status 0 "$label-rewrite"
    problems=$(check_rewritten "$site")
    [ -z "$problems" ] || fail "$label rewrite: $problems"
    rewritten=$(tree_sum "$site")

    timed "$label" rewrite-rerun "$site" "$b" rewrite _posts
    expect_status 0 "$label-rewrite-rerun"
    [ "$(tree_sum "$site")" = "$rewritten" ] || fail "$label rewrite rerun changed posts"

    best "$label" status "$site" "$b" status
    expect_status 0 "$label-status"
    grep -q "$posts posts, $refs references: $refs rewritten" "$work/out/$label-status.out" \
        || fail "$label status: not every reference rewritten: $(tail -1 "$work/out/$label-status.out")"

    best "$label" verify "$site" "$b" verify
    expect_status 0 "$label-verify"
    if [ "$i" = 0 ]; then  # the anchor: the same files, hashed by sha256sum
        (cd "$site" && find archive/objects archive/w[0-9]* -type f -print0 >"$work/archived.txt")
        best anchor sha256sum "$site" xargs -0 -a "$work/archived.txt" sha256sum
    fi
    victim=$(find "$site/archive/objects" -type f -print -quit)
    cp -p "$victim" "$work/victim"
    printf 'X' | dd of="$victim" bs=1 seek=100 conv=notrunc status=none
    (cd "$site" && "$b" verify >/dev/null 2>&1) && fail "$label verify: passed with a changed object" || true
    cp -p "$work/victim" "$victim"

    timed "$label" revert "$site" "$b" rewrite --revert _posts
    expect_status 0 "$label-revert"
    [ "$(tree_sum "$site")" = "$original" ] || fail "$label revert: the posts are not the original bytes"

    before=$(requests)
    timed "$label" archive "$site" "$b" archive "${connect[@]}" _posts
    expect_status 0 "$label-archive"
    [ "$(tree_sum "$site")" = "$rewritten" ] || fail "$label archive: posts differ from the first rewrite's"
    timed "$label" archive-rerun "$site" "$b" archive "${connect[@]}" _posts
    expect_status 0 "$label-archive-rerun"
    [ "$(tree_sum "$site")" = "$rewritten" ] || fail "$label archive rerun changed posts"
    [ "$(requests)" = "$before" ] || fail "$label archive: asked nginx again ($(($(requests) - before)) requests)"
done
uptime | tee "$work/uptime-end.txt"

python3 - "$results" "$cache/meta.json" "${labels[@]}" <<'PY'
import json, sys
rows, meta, labels = sys.argv[1], json.load(open(sys.argv[2])), sys.argv[3:]
t = {}
for line in open(rows):
    label, step, wall, user, sys_, rss, status = line.split()
    t[label, step] = (float(wall), float(user) + float(sys_), int(rss) / 1024)
print(f"site: {meta['posts']} posts ({meta['post_bytes'] / 1e6:.1f} MB), {meta['references']} references, "
      f"{meta['distinct']} distinct URLs over {len(meta['hosts'])} hosts, {meta['image_bytes']} B JPEGs")
steps = [("scan", "grep", "scan at most 1.5x grep"), ("fetch", None, "CPU per URL halved"),
         ("fetch-rerun", None, ""), ("rewrite", "sed", "at most 1.0x sed -i + sync"),
         ("rewrite-rerun", "sed", ""), ("revert", "sed-revert", "at most 1.0x sed -i + sync"),
         ("status", None, "under 0.5 s"), ("verify", "sha256sum", "at most 1.2x sha256sum"),
         ("archive", None, ""), ("archive-rerun", None, "under 0.5 s")]
anchor_name = {"grep": "grep -rhoE", "sed": "sed -i + sync", "sed-revert": "sed -i + sync", "sha256sum": "sha256sum"}
head = "| step |" + "".join(f" {l} wall | {l} CPU | {l} RSS |" for l in labels) + " anchor | wall | CPU |" \
    + "".join(f" {l} ratio |" for l in labels) + " goal |"
print(head)
print("|" + " --- |" * (head.count("|") - 1))
for step, anchor, goal in steps:
    cells = [step]
    for l in labels:
        wall, cpu, rss = t[l, step]
        extra = f" ({cpu / meta['distinct'] * 1000:.2f} ms/URL)" if step == "fetch" else ""
        cells += [f"{wall:.2f} s", f"{cpu:.2f} s{extra}", f"{rss:.0f} MB"]
    if anchor:
        aw, ac, _ = t["anchor", anchor]
        cells += [anchor_name[anchor], f"{aw:.2f} s", f"{ac:.2f} s"]
        cells += [f"{t[l, step][0] / aw:.2f}x" for l in labels]
    else:
        cells += ["—", "", ""] + ["" for _ in labels]
    cells.append(goal)
    print("| " + " | ".join(cells) + " |")
PY
if [ "$profile" = perf ]; then  # each step's functions by self share, then by inclusive share, names demangled
    demangle=$(command -v swift-demangle || echo cat)
    # Frames every sample passes through (threads, dispatch, thunks, GRDB's queue hops) say nothing: left out.
    glue='partial apply|thunk for|dispatch|Dispatch|swift_job|runJob|start_thread|clone3|_start|imgarchive_main'
    glue+='|ImgArchive.main|Pool.get|isolated|inSavepoint|closure #1 in closure|entry_SYSCALL|do_syscall'
    for data in "$work"/profile/*.data; do
        {
            echo "# self"
            perf report -i "$data" --no-children --stdio -g none --percent-limit 0.5 --sort symbol 2>/dev/null \
                | grep -v -e '^#' -e '^$' | "$demangle" --simplified | head -40
            echo "# inclusive"
            perf report -i "$data" --children --stdio -g none --percent-limit 1 --sort symbol 2>/dev/null \
                | grep -v -e '^#' -e '^$' | "$demangle" --simplified | grep -v -E "$glue" | head -80
        } | sed 's/ *$//' >"${data%.data}.txt" || true
    done
fi
[ -z "$profile" ] || echo "site-bench: profiles in $work/profile/*.txt"
if [ -s "$failures" ]; then
    echo "site-bench: FAILED checks:" >&2
    cat "$failures" >&2
    exit 1
fi
echo "site-bench: all checks passed"
