#!/usr/bin/env bash
# pywb, the web archives' replay tool, on loopback for the tests: a collection built from WARC files, served by
# `wayback` with Memento on and frames off (a TimeGate answers with a redirect to the memento, and a memento's
# `id_` form is the original bytes).
#
#   pywb.sh start DIR WARC...   builds collection `imgs` in DIR from the WARCs, starts wayback on a free port of
#                               127.0.0.1, waits until it answers, and prints `PYWB_PORT=<port>` and `PYWB_PID=<pid>`
#   pywb.sh stop DIR            stops the wayback started in DIR and waits for it to end
#
# Needs pywb from PyPI (`.ci/run` installs it). Its log is DIR/wayback.log.
set -euo pipefail
command=${1:?usage: pywb.sh start DIR WARC... | stop DIR}
dir=${2:?usage: pywb.sh start DIR WARC... | stop DIR}
shift 2
case "$command" in
start)
    command -v wayback >/dev/null || { echo "pywb.sh: wayback not found: python3 -m pip install pywb" >&2; exit 2; }
    mkdir -p "$dir"
    cd "$dir"
    [[ -d collections/imgs ]] || wb-manager init imgs >/dev/null 2>&1
    for warc in "$@"; do
        wb-manager add imgs "$warc" >/dev/null 2>&1 || { echo "pywb.sh: wb-manager could not add $warc" >&2; exit 1; }
    done
    printf 'enable_memento: true\nframed_replay: false\n' > config.yaml
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    wayback -b 127.0.0.1 -p "$port" > wayback.log 2>&1 &
    pid=$!
    echo "$pid" > wayback.pid
    for _ in $(seq 1 150); do
        if curl -s -o /dev/null "http://127.0.0.1:$port/imgs/"; then
            echo "PYWB_PORT=$port"
            echo "PYWB_PID=$pid"
            exit 0
        fi
        kill -0 "$pid" 2>/dev/null || { echo "pywb.sh: wayback exited; see $dir/wayback.log" >&2; exit 1; }
        sleep 0.1
    done
    kill "$pid" 2>/dev/null || true
    echo "pywb.sh: wayback did not answer within 15 s; see $dir/wayback.log" >&2
    exit 1
    ;;
stop)
    [[ -f "$dir/wayback.pid" ]] || exit 0
    pid=$(cat "$dir/wayback.pid")
    kill "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
    rm -f "$dir/wayback.pid"
    ;;
*)
    echo "usage: pywb.sh start DIR WARC... | stop DIR" >&2
    exit 2
    ;;
esac
