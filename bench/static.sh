#!/bin/sh
# Side-by-side static-file load test: lighttpd-rs vs the real lighttpd 1.4.69
# (/usr/sbin/lighttpd), same config shape, same docroot, 127.0.0.1 only.
# Not run by `cargo test`. Usage:
#   cargo build --release && bench/static.sh [seconds] [connections]
# Prints wrk's summary for a 1 KiB and a 1 MiB file for each server, and the
# servers' RSS after the run.
set -eu
cd "$(dirname "$0")/.."
SECS=${1:-10}
CONNS=${2:-100}
OURS=${OURS:-target/release/lighttpd}
THEIRS=${THEIRS:-/usr/sbin/lighttpd}
command -v wrk >/dev/null || { echo "wrk not installed" >&2; exit 1; }
[ -x "$OURS" ] || { echo "build first: cargo build --release" >&2; exit 1; }

DIR=$(mktemp -d /tmp/lrs-bench.XXXXXX)
trap 'kill $PIDS 2>/dev/null; rm -rf "$DIR"' EXIT INT TERM
PIDS=""
mkdir -p "$DIR/www"
head -c 1024 /dev/urandom > "$DIR/www/1k.bin"
head -c 1048576 /dev/urandom > "$DIR/www/1m.bin"

start() { # name binary port
    cat > "$DIR/$1.conf" <<CONF
server.document-root = "$DIR/www"
server.bind = "127.0.0.1"
server.port = $3
server.max-keep-alive-requests = 100000
mimetype.assign = (".bin" => "application/x-test")
CONF
    "$2" -D -f "$DIR/$1.conf" 2>"$DIR/$1.err" &
    PIDS="$PIDS $!"
    eval "PID_$1=$!"
    sleep 0.5
}

start ours "$OURS" 18481
start theirs "$THEIRS" 18482

for f in 1k.bin 1m.bin; do
    for who in ours:18481 theirs:18482; do
        name=${who%%:*}; port=${who##*:}
        echo "== $name $f ($SECS s, $CONNS connections)"
        wrk -t2 -c"$CONNS" -d"${SECS}s" "http://127.0.0.1:$port/$f" | grep -E 'Requests/sec|Transfer/sec|Latency|errors'
    done
done
for name in ours theirs; do
    eval "pid=\$PID_$name"
    echo "== $name RSS: $(grep VmRSS /proc/$pid/status | awk '{print $2, $3}')"
done
