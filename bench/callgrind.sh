#!/bin/bash
# Deterministic user-space cost per request: runs a server under
# valgrind --tool=callgrind, makes WARM keep-alive GETs, zeroes the counters,
# makes N more GETs of the same path on one connection (bench/client.py seq),
# dumps, and prints instructions per request. 127.0.0.1 only; bounded waits.
#
#   bench/callgrind.sh [BINARY] [PATH] [N]   # defaults: ours, /1k.bin, 2000
#   bench/callgrind.sh /usr/sbin/lighttpd /missing.bin
# OUT=dir keeps the callgrind.out files (callgrind_annotate them).
# BROWSER=1: requests carry the ~450-byte head of a browser (bench/client.py).
# MIMECONF=file includes that file in place of the two-entry mimetype.assign,
# e.g. Debian's list: perl packaging/debian/create-mime.conf.pl > /tmp/mime.conf
set -u
cd "$(dirname "$0")/.."
BIN=${1:-${CARGO_TARGET_DIR:-target}/release/lighttpd}
URLPATH=${2:-/1k.bin}
N=${3:-2000}
WARM=${WARM:-50}
DIR=$(mktemp -d /tmp/lrs-cg.XXXXXX)
OUT=${OUT:-$DIR}
mkdir -p "$OUT" "$DIR/www"
head -c 1024 /dev/urandom > "$DIR/www/1k.bin"
PORT=$((40000 + RANDOM % 20000))
cat > "$DIR/s.conf" <<CONF
server.document-root = "$DIR/www"
server.bind = "127.0.0.1"
server.port = $PORT
server.errorlog = "$DIR/err.log"
server.max-keep-alive-requests = 65535
server.max-keep-alive-idle = 600
CONF
if [ -n "${MIMECONF:-}" ]; then
    echo "include \"$(realpath "$MIMECONF")\"" >> "$DIR/s.conf"
else
    echo 'mimetype.assign = (".bin" => "application/octet-stream", ".html" => "text/html")' >> "$DIR/s.conf"
fi
valgrind --tool=callgrind ${VGOPTS:-} --callgrind-out-file="$OUT/callgrind.out.%p" \
    "$BIN" -D -f "$DIR/s.conf" 2>"$DIR/vg.log" &
VPID=$!
cleanup() { kill "$VPID" 2>/dev/null; wait "$VPID" 2>/dev/null; [ "$OUT" = "$DIR" ] && rm -rf "$DIR"; }
trap cleanup EXIT
for _ in $(seq 1 600); do
    (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
    sleep 0.1
done
python3 bench/client.py seq "$PORT" "$WARM" "$URLPATH"
callgrind_control -z "$VPID" >/dev/null 2>&1
python3 bench/client.py seq "$PORT" "$N" "$URLPATH"
callgrind_control -d "$VPID" >/dev/null 2>&1
F=$(ls -t "$OUT"/callgrind.out.$VPID.* 2>/dev/null | head -1)
[ -n "$F" ] || { echo "no dump" >&2; cat "$DIR/vg.log" >&2; exit 1; }
IR=$(awk '/^summary:|^totals:/ {print $2; exit}' "$F")
echo "$(basename "$BIN") $URLPATH: $IR instructions / $N requests = $((IR / N)) per request ($F)"
