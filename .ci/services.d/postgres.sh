#!/usr/bin/env bash
# PostgreSQL 15 for the scale-out tests and for trying a shared manifest on one machine (docs/scale-out.md):
#
#   postgres.sh up        installs PostgreSQL when missing (apt), creates a cluster under
#                         $IMGARCHIVE_SERVICES_DIR/pg, starts it on a free port of 127.0.0.1 (its unix socket in that
#                         folder), waits until it answers, creates the database `imgarchive`, and prints
#                         PG_URL=postgres://imgarchive@127.0.0.1:PORT/imgarchive
#   postgres.sh down      stops it (the data stays, so `up` starts the same cluster again)
#   postgres.sh restart   stops and starts it on the same port (the tests of workers outliving the database)
#
# The cluster trusts connections from loopback only (no password: it listens on 127.0.0.1 alone). PostgreSQL
# refuses to run as root: as root, the cluster belongs to the `postgres` user and its commands run as that user.
set -euo pipefail
command=${1:?usage: postgres.sh up|down|restart}
base=${IMGARCHIVE_SERVICES_DIR:-/tmp/imgarchive-services}/pg
data=$base/data
log=$base/postgres.log

bin=""
find_bin() {
    for version in 15 16 17; do
        if [ -x "/usr/lib/postgresql/$version/bin/pg_ctl" ]; then
            bin=/usr/lib/postgresql/$version/bin
            return 0
        fi
    done
    return 1
}
if ! find_bin; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq >&2
    # The server only: Debian's `postgresql` metapackage would also create and start a system cluster.
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql-15 >&2 ||
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >&2
    find_bin
fi

# As root, every cluster command runs as `postgres`; otherwise as the caller.
as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start() {
    local port
    port=$(cat "$base/port")
    as_owner "$bin/pg_ctl" -D "$data" -l "$log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $base -c fsync=off -c max_connections=200" start >&2
    for _ in $(seq 1 60); do
        "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" && return 0
        sleep 0.5
    done
    echo "postgres.sh: PostgreSQL did not answer on 127.0.0.1:$port; see $log" >&2
    exit 1
}

running() {
    [ -f "$data/postmaster.pid" ] && as_owner "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1
}

case "$command" in
up)
    if [ ! -f "$data/PG_VERSION" ]; then
        rm -rf "$base"
        mkdir -p "$base"
        [ "$(id -u)" -eq 0 ] && chown postgres: "$base"
        as_owner "$bin/initdb" -D "$data" -U imgarchive -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
        free_port >"$base/port"
    fi
    running || start
    port=$(cat "$base/port")
    as_owner "$bin/psql" -q -h 127.0.0.1 -p "$port" -U imgarchive -d postgres -tAc \
        "SELECT 1 FROM pg_database WHERE datname = 'imgarchive'" | grep -q 1 ||
        as_owner "$bin/createdb" -h 127.0.0.1 -p "$port" -U imgarchive imgarchive
    echo "PG_URL=postgres://imgarchive@127.0.0.1:$port/imgarchive"
    ;;
down)
    if running; then as_owner "$bin/pg_ctl" -D "$data" -m fast -w stop >&2; fi
    ;;
restart)
    if running; then as_owner "$bin/pg_ctl" -D "$data" -m immediate -w stop >&2; fi
    start
    ;;
*)
    echo "usage: postgres.sh up|down|restart" >&2
    exit 2
    ;;
esac
