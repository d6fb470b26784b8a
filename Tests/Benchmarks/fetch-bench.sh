#!/usr/bin/env bash
# Download throughput: `imgarchive fetch` (release build) in one run of the shared benchmark (shared/bench/fetch.sh,
# beside this repository: 1000 real images, 389 MB, from nginx on loopback and from a server adding 50 ms per
# response), beside curl --parallel, wget2 and aria2c, and beside three candidates that do what imgarchive must
# do with the fastest tools at hand: curl then SHA-256 of every file (openssl), then also an fsync of every file
# and its folder. A `curl + syncfs` candidate runs just before imgarchive: the plain downloaders leave their
# 389 MB dirty in the page cache, and without it imgarchive's fsyncs would wait behind that writeback.
# Usage: Tests/Benchmarks/fetch-bench.sh [BEFORE_BINARY]   (an older imgarchive to compare in the same run)
# Report on stdout and in $BENCHDATA/results/ (BENCHDATA defaults to /tmp/imgarchive-bench: 1.5 GB).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bench=$root/../shared/bench/fetch.sh
[ -f "$bench" ] || { echo "fetch-bench: $bench not found (the shared benchmarks sit beside the repository)" >&2; exit 2; }
(cd "$root" && swift build -c release --product imgarchive >/dev/null)
bin=$root/.build/release/imgarchive
curl='curl --parallel --parallel-max {jobs} -sS --fail --output-dir {outdir} --remote-name-all $(cat {list})'
fetch='fetch --urls {list} --archive {outdir} --jobs {jobs} --per-host {jobs}'
# The servers are on loopback, which the address guard (since #15) refuses unless allowed; a binary from before
# the guard knows neither the key nor --config, so only this checkout's gets it.
allow=${BENCHDATA:-/tmp/imgarchive-bench}/allow-loopback.yml
mkdir -p "$(dirname "$allow")" && echo 'allow-addresses: [127.0.0.1]' >"$allow"
args=(--only 'curl-parallel|wget2|aria2c' --candidate-verify archive
  --candidate-name curl+sha256 --candidate "$curl && cd {outdir} && openssl dgst -sha256 -- * > /dev/null"
  --candidate-name curl+syncfs --candidate "$curl && sync -f {outdir}"
  --candidate-name imgarchive --candidate "$bin $fetch --config $allow")
if [ $# -ge 1 ]; then
  before=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
  args+=(--candidate-name imgarchive-before --candidate "$before $fetch")
fi
args+=(--candidate-name curl+sha256+fsync
  --candidate "$curl && cd {outdir} && openssl dgst -sha256 -- * > /dev/null && sync -- * .")
BENCHDATA=${BENCHDATA:-/tmp/imgarchive-bench} bash "$bench" "${args[@]}"
