#!/bin/bash
# Idle memory of lighttpd-rs and lighttpd 1.4.69 side by side: both started
# in the foreground on the same small config (127.0.0.1, ephemeral ports),
# VmRSS after start, split by /proc/PID/smaps into the executable's code
# (r-xp), its read-only data (r--p: constants, and the relocated RELRO data,
# which is anonymous), shared libraries, heap, stack and other anonymous
# memory; then the same after a few requests (1 KiB file, 404).
# Not run by `cargo test`; builds nothing (run `cargo build --release` first).
#
#   bench/rss.sh                         # OURS=... THEIRS=... REQS=20 WAIT=2
set -u
cd "$(dirname "$0")/.."
OURS=${OURS:-${CARGO_TARGET_DIR:-target}/release/lighttpd}
THEIRS=${THEIRS:-/usr/sbin/lighttpd}
REQS=${REQS:-20}
WAIT=${WAIT:-2}
[ -x "$OURS" ] || { echo "no $OURS: cargo build --release first" >&2; exit 1; }
[ -x "$THEIRS" ] || { echo "no $THEIRS" >&2; exit 1; }

. bench/lib.sh
bench_dir lrs-rss
mkdir -p "$DIR/www"
head -c 1024 /dev/urandom > "$DIR/www/1k.bin"
BASE=$((20000 + RANDOM % 20000))

write_conf() { # NAME PORT
    cat > "$DIR/$1.conf" <<CONF
server.document-root = "$DIR/www"
server.bind = "127.0.0.1"
server.port = $2
server.errorlog = "$DIR/$1.err"
mimetype.assign = (".bin" => "application/octet-stream", ".html" => "text/html")
CONF
}

start() { # NAME BINARY PORT: sets PID_NAME
    write_conf "$1" "$3"
    "$2" -D -f "$DIR/$1.conf" 2>>"$DIR/$1.stderr" &
    PIDS+=("$!")
    printf -v "PID_$1" %s "$!"
    wait_port "$3" || { cat "$DIR/$1.stderr" "$DIR/$1.err" >&2; exit 1; }
}

# get PORT PATH: one HTTP/1.0 request, response discarded.
get() {
    exec 3<>"/dev/tcp/127.0.0.1/$1" || return
    printf 'GET %s HTTP/1.0\r\nHost: x\r\n\r\n' "$2" >&3
    cat <&3 >/dev/null
    exec 3<&-
}

# breakdown PID: one line of KiB figures from smaps.
breakdown() {
    local exe
    exe=$(readlink "/proc/$1/exe")
    awk -v exe="$exe" -v rss="$(awk '/^VmRSS/ {print $2}' "/proc/$1/status")" '
        /^[0-9a-f]+-[0-9a-f]+ / {
            path = $6; perm = $2
            if (path == exe) k = (perm ~ /x/) ? "text" : (perm ~ /w/ ? "anon" : "ro")
            else if (path == "[heap]") k = "heap"
            else if (path == "[stack]") k = "stack"
            else if (path ~ /^\//) k = "libs"
            else k = "anon"
            next
        }
        /^Rss:/ { v[k] += $2 }
        /^Anonymous:/ { if (k == "ro") relro += $2 }
        END {
            printf "%6d %6d %6d %6d %6d %6d %6d %6d\n", rss, v["text"], v["ro"] - relro,
                relro, v["libs"], v["heap"], v["stack"], v["anon"]
        }' "/proc/$1/smaps"
}

echo "# idle RSS — lighttpd-rs vs lighttpd 1.4.69, $(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -r)"
echo "# ours: $OURS ($(stat -c %s "$OURS") bytes)   theirs: $THEIRS"
PORT_ours=$BASE
PORT_theirs=$((BASE + 1))
start ours "$OURS" "$PORT_ours"
start theirs "$THEIRS" "$PORT_theirs"
sleep "$WAIT"
hdr="KiB      VmRSS   text rodata  relro   libs   heap  stack  anon"
echo
echo "## idle, ${WAIT}s after start"
echo "$hdr"
for s in ours theirs; do
    pid_var=PID_$s
    printf '%-8s %s\n' "$s" "$(breakdown "${!pid_var}")"
done
echo
echo "## idle again after $REQS requests (half 1 KiB file, half 404)"
echo "$hdr"
for s in ours theirs; do
    pid_var=PID_$s; port_var=PORT_$s
    for _ in $(seq 1 $((REQS / 2))); do
        get "${!port_var}" /1k.bin
        get "${!port_var}" /missing.bin
    done
done
sleep 1
for s in ours theirs; do
    pid_var=PID_$s
    printf '%-8s %s\n' "$s" "$(breakdown "${!pid_var}")"
done
