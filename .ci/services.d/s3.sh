#!/usr/bin/env bash
# An S3-compatible object store on loopback for the scale-out tests (docs/scale-out.md, "Objects in S3"):
# OpenStack Swift from Debian's packages (2.30) in one folder, its proxy speaking S3 through the s3api
# middleware (SigV4, the payload's x-amz-content-sha256 checked) with tempauth's users, over one account, one
# container and one object server (rings of one device, replica 1, mount_check false).
#
#   s3.sh up     installs what is missing (apt), starts the four servers on free loopback ports, waits until the
#                proxy answers, creates the bucket, and prints S3_ENDPOINT=..., S3_BUCKET=..., S3_REGION=...,
#                AWS_ACCESS_KEY_ID=..., AWS_SECRET_ACCESS_KEY=...
#   s3.sh down   stops them (the data stays in ${IMGARCHIVE_SERVICES_DIR}/s3 until the next `up`)
#
# Nothing system-wide is started or configured: the servers run as the current user from config files in
# ${IMGARCHIVE_SERVICES_DIR}/s3. Only Swift's storage policies come from /etc/swift/swift.conf, which Debian's
# swift package installs (Swift reads that path only).
set -euo pipefail
command=${1:?usage: s3.sh up|down}
dir=${IMGARCHIVE_SERVICES_DIR:-/tmp/imgarchive-services}/s3
bucket=imgarchive-test
region=us-east-1
# tempauth's user `tester` of account `imgarchive`; s3api takes "account:user" as the access key.
access_key=imgarchive:tester
secret_key=imgarchive-secret

stop() {
    local pidfile
    for pidfile in "$dir"/*.pid; do
        [ -e "$pidfile" ] || continue
        kill "$(cat "$pidfile")" 2>/dev/null || true
        rm -f "$pidfile"
    done
}

if [ "$command" = down ]; then
    stop
    exit 0
fi
[ "$command" = up ] || {
    echo "usage: s3.sh up|down" >&2
    exit 2
}

packages=(swift-proxy swift-account swift-container swift-object curl)
need=()
for pkg in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
fi

stop
rm -rf "$dir"
mkdir -p "$dir/srv/d1" "$dir/log"
# Four free loopback ports (the kernel picks them; the servers bind them a moment later).
read -r proxy_port account_port container_port object_port < <(/usr/bin/python3 -c '
import socket
socks = [socket.socket() for _ in range(4)]
for s in socks: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])')
user=$(id -un)

common() { # the settings every server shares: its port, this folder, no mount checks, the current user
    cat <<EOF
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = $1
workers = 1
user = $user
swift_dir = $dir
devices = $dir/srv
mount_check = false
disable_fallocate = true
log_name = $2
log_facility = LOG_LOCAL0
log_udp_host =
log_address = /dev/null
EOF
}
for server in account container object; do
    port_var=${server}_port
    {
        common "${!port_var}" "$server"
        cat <<EOF

[pipeline:main]
pipeline = $server-server

[app:$server-server]
use = egg:swift#$server

[${server}-replicator]
[${server}-updater]
[${server}-auditor]
EOF
        [ "$server" = container ] && printf '[container-sync]\n'
    } >"$dir/$server-server.conf"
done
# tempauth keeps its tokens and s3api's users' groups in `swift.cache`, which Swift's `cache` middleware fills from
# memcached. Debian's memcached package would start a system-wide daemon, so the proxy (one worker process) gets
# a process-local cache with the part of MemcacheRing's interface the proxy uses instead.
cat >"$dir/imgarchive_s3_cache.py" <<'PYTHON'
import threading
import time


class LocalCache(object):
    def __init__(self):
        self._lock = threading.Lock()
        self._items = {}

    def _live(self, key):
        item = self._items.get(key)
        if item is not None and item[1] and item[1] < time.time():
            del self._items[key]
            return None
        return item

    def get(self, key, raise_on_error=False):
        with self._lock:
            item = self._live(key)
            return None if item is None else item[0]

    def set(self, key, value, serialize=True, time=0, min_compress_len=0, raise_on_error=False):
        with self._lock:
            self._items[key] = (value, _expiry(time))

    def incr(self, key, delta=1, time=0):
        with self._lock:
            item = self._live(key)
            value = max(0, (int(item[0]) if item else 0) + delta)
            self._items[key] = (value, item[1] if item else _expiry(time))
            return value

    def decr(self, key, delta=1, time=0):
        return self.incr(key, -delta, time)

    def delete(self, key, server_key=None):
        with self._lock:
            self._items.pop(key, None)

    def set_multi(self, mapping, server_key, serialize=True, time=0, min_compress_len=0):
        for key, value in mapping.items():
            self.set(key, value, time=time)

    def get_multi(self, keys, server_key):
        return [self.get(key) for key in keys]


def _expiry(seconds):
    return time.time() + seconds if seconds else 0


def filter_factory(global_conf, **local_conf):
    cache = LocalCache()

    def cache_filter(app):
        def middleware(env, start_response):
            env['swift.cache'] = cache
            return app(env, start_response)

        return middleware

    return cache_filter
PYTHON
{
    common "$proxy_port" proxy
    cat <<EOF

[pipeline:main]
pipeline = catch_errors gatekeeper proxy-logging cache listing_formats s3api tempauth copy slo dlo proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true

[filter:s3api]
use = egg:swift#s3api
location = $region

[filter:tempauth]
use = egg:swift#tempauth
user_imgarchive_tester = $secret_key .admin
reseller_prefix = AUTH

[filter:cache]
paste.filter_factory = imgarchive_s3_cache:filter_factory
[filter:catch_errors]
use = egg:swift#catch_errors
[filter:gatekeeper]
use = egg:swift#gatekeeper
[filter:proxy-logging]
use = egg:swift#proxy_logging
[filter:listing_formats]
use = egg:swift#listing_formats
[filter:copy]
use = egg:swift#copy
[filter:slo]
use = egg:swift#slo
[filter:dlo]
use = egg:swift#dlo
EOF
} >"$dir/proxy-server.conf"

# Rings of one device each (2^6 partitions, one replica).
for server in account container object; do
    port_var=${server}_port
    swift-ring-builder "$dir/$server.builder" create 6 1 1 >/dev/null
    swift-ring-builder "$dir/$server.builder" add "r1z1-127.0.0.1:${!port_var}/d1" 1 >/dev/null
    swift-ring-builder "$dir/$server.builder" rebalance >/dev/null 2>&1 || true
done

for server in account container object proxy; do
    PYTHONPATH=$dir setsid "swift-$server-server" "$dir/$server-server.conf" >"$dir/log/$server.log" 2>&1 </dev/null &
    echo $! >"$dir/$server.pid"
done

endpoint=http://127.0.0.1:$proxy_port
# Wait until the proxy answers, creating the bucket with a SigV4-signed PUT (curl signs it; the credentials go in
# a netrc file because the access key holds a colon). 200 is created, 409 is already there.
printf 'machine 127.0.0.1 login %s password %s\n' "$access_key" "$secret_key" >"$dir/netrc"
empty_sha256=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
status=000
for _ in $(seq 1 150); do
    status=$(curl -s -o /dev/null -w '%{http_code}' --netrc-file "$dir/netrc" --aws-sigv4 "aws:amz:$region:s3" \
        -H "x-amz-content-sha256: $empty_sha256" -X PUT "$endpoint/$bucket") || true
    case "$status" in 200 | 409) break ;; esac
    sleep 0.2
done
if [ "$status" != 200 ] && [ "$status" != 409 ]; then
    echo "s3.sh: could not create the bucket $bucket on $endpoint (HTTP $status); logs in $dir/log" >&2
    tail -n 20 "$dir"/log/*.log >&2 || true
    stop
    exit 1
fi
echo "S3_ENDPOINT=$endpoint"
echo "S3_BUCKET=$bucket"
echo "S3_REGION=$region"
echo "AWS_ACCESS_KEY_ID=$access_key"
echo "AWS_SECRET_ACCESS_KEY=$secret_key"
