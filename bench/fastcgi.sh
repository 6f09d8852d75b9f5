#!/bin/bash
# Side-by-side FastCGI benchmark: lighttpd-rs vs the real lighttpd 1.4.69,
# each spawning its own php-cgi (bin-path, PHP_FCGI_CHILDREN) for a tiny PHP
# page, 127.0.0.1 only. Not run by `cargo test`; builds nothing.
#
#   bench/fastcgi.sh                     # ROUNDS=5 SECS=5 CONNS=20
#
# Compared: the web server's own CPU time per request (utime+stime of its
# pid, PHP's time excluded), requests/s, and RSS after the rounds. Rounds
# alternate which server goes first.
# Needs wrk and php-cgi (apt-get install wrk php-cgi).
set -u
cd "$(dirname "$0")/.."
OURS=${OURS:-${CARGO_TARGET_DIR:-target}/release/lighttpd}
THEIRS=${THEIRS:-/usr/sbin/lighttpd}
PHP=${PHP:-/usr/bin/php-cgi}
ROUNDS=${ROUNDS:-5}
SECS=${SECS:-5}
CONNS=${CONNS:-20}

for need in wrk "$PHP" "$OURS" "$THEIRS"; do
    command -v "$need" >/dev/null || { echo "missing: $need" >&2; exit 1; }
done
TICK=$(getconf CLK_TCK)
. bench/lib.sh
bench_dir lrs-fcgi
mkdir -p "$DIR/www"
printf '<?php\nheader("X-Bench: 1");\necho "hello ", $_SERVER["REQUEST_URI"], "\\n";\n' \
    > "$DIR/www/index.php"
BASE=$((20000 + RANDOM % 20000))

# start NAME BINARY PORT: sets PID_NAME.
start() {
    cat > "$DIR/$1.conf" <<CONF
server.document-root = "$DIR/www"
server.bind = "127.0.0.1"
server.port = $3
server.errorlog = "$DIR/$1.err"
server.modules = ( "mod_fastcgi" )
server.max-keep-alive-requests = 65535
fastcgi.server = ( ".php" => (( "bin-path" => "$PHP", "socket" => "$DIR/$1.sock",
    "max-procs" => 1, "bin-environment" => ( "PHP_FCGI_CHILDREN" => "4" ) )) )
CONF
    "$2" -D -f "$DIR/$1.conf" 2>>"$DIR/$1.stderr" &
    PIDS+=("$!")
    printf -v "PID_$1" %s "$!"
    for _ in $(seq 1 100); do
        curl -fs "http://127.0.0.1:$3/index.php" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "$1 does not answer" >&2; cat "$DIR/$1.stderr" "$DIR/$1.err" >&2; exit 1
}


echo "# FastCGI (php-cgi) lighttpd-rs vs lighttpd 1.4.69 — $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "# machine: nproc $(nproc), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# rounds $ROUNDS x ${SECS}s, wrk -t2 -c$CONNS, GET /index.php"
PORT_ours=$BASE
PORT_theirs=$((BASE + 1))
start ours "$OURS" "$PORT_ours"
start theirs "$THEIRS" "$PORT_theirs"

for r in $(seq 1 "$ROUNDS"); do
    if [ $((r % 2)) = 1 ]; then order="ours theirs"; else order="theirs ours"; fi
    for s in $order; do
        pid_var=PID_$s; port_var=PORT_$s
        c0=$(cpu_ticks "${!pid_var}")
        out=$(timeout $((SECS + 20)) wrk -t2 -c"$CONNS" -d"${SECS}s" \
            "http://127.0.0.1:${!port_var}/index.php")
        c1=$(cpu_ticks "${!pid_var}")
        n=$(echo "$out" | awk '/requests in/ {print $1}')
        rps=$(echo "$out" | awk '/^Requests\/sec/ {print $2}')
        bad=$(echo "$out" | awk '/Non-2xx|Socket errors/' | tr '\n' ' ')
        us=$(awk -v c=$((c1 - c0)) -v n="${n:-0}" -v t="$TICK" 'BEGIN {print n ? c * 1e6 / t / n : "nan"}')
        echo "$us" >> "$DIR/cpu.$s"
        echo "$rps" >> "$DIR/rps.$s"
        echo "round $r $s: $n requests, $rps req/s, $us µs CPU/request $bad" >> "$DIR/rounds.log"
    done
done
o=$(median < "$DIR/cpu.ours"); h=$(median < "$DIR/cpu.theirs")
ro=$(median < "$DIR/rps.ours"); rh=$(median < "$DIR/rps.theirs")
echo
printf '%-8s %14s %14s %8s %12s %12s\n' test "ours µs/req" "theirs µs/req" ratio "ours req/s" "theirs req/s"
awk -v o="$o" -v h="$h" -v ro="$ro" -v rh="$rh" 'BEGIN {
    printf "%-8s %14.1f %14.1f %8.2f %12.0f %12.0f\n", "php", o, h, h ? o / h : 0, ro, rh }'
cat "$DIR/rounds.log"
echo
echo "## RSS after the rounds (server only)"
for s in ours theirs; do
    pid_var=PID_$s
    printf '%-7s %6s KiB\n' "$s" "$(rss_kib "${!pid_var}")"
done
