#!/bin/bash
# Side-by-side benchmark: lighttpd-rs vs the real lighttpd 1.4.69, same
# machine, same run, same config shape and docroot, 127.0.0.1 only.
# Not run by `cargo test`; builds nothing (run `cargo build --release` first).
#
#   bench/compare.sh                     # everything, defaults below
#   ROUNDS=3 SECS=3 IDLE_N=2000 ALLOCS=0 bench/compare.sh
#   PIN=0 bench/compare.sh               # servers and wrk share all CPUs
#
# Requests/s swing ±20% on a shared machine, so the figures compared are the
# server's CPU time per request (utime+stime from /proc/<pid>/stat around
# every wrk round, divided by wrk's request count) and memory:
#   1. idle RSS of each server after start;
#   2. memory per idle keep-alive connection: IDLE_N connections that each
#      made one request and stay open, (RSS with them - RSS before) / IDLE_N;
#   3. ROUNDS rounds x {1 KiB file, the same with a browser's header lines,
#      404, 1 MiB file} x {ours, theirs}, also as whole-machine busy time
#      per request (all CPUs from /proc/stat: on loopback the kernel charges
#      much of a large response's network work to whichever side runs),
#      alternating which server goes first, SECS seconds each; medians;
#   4. syscalls per 1 KiB and per 404 keep-alive GET (strace -c, one connection);
#   5. heap allocations per request (valgrind --tool=dhat, 2K requests on one
#      keep-alive connection minus a run with K).
# With PIN=1 (the default on 2+ CPUs) both servers run on CPU 0 and wrk
# (one thread) on CPU 1: the server under test has a core to itself and is
# saturated, so no round depends on how the scheduler mixes it with wrk.
# Unpinned, identical rounds differ by up to 15%; pinned, by about 3%.
# Environment: OURS, THEIRS (binaries), ROUNDS, SECS, CONNS, IDLE_N, PIN,
# SYSCALLS=0 / ALLOCS=0 to skip steps 4 / 5.
set -u
cd "$(dirname "$0")/.."
OURS=${OURS:-${CARGO_TARGET_DIR:-target}/release/lighttpd}
THEIRS=${THEIRS:-/usr/sbin/lighttpd}
ROUNDS=${ROUNDS:-5}
SECS=${SECS:-5}
CONNS=${CONNS:-50}
IDLE_N=${IDLE_N:-10000}
SYSCALLS=${SYSCALLS:-1}
ALLOCS=${ALLOCS:-1}
PIN=${PIN:-1}
K=${K:-500}
CLIENT="python3 bench/client.py"

command -v wrk >/dev/null || { echo "wrk not installed" >&2; exit 1; }
[ -x "$OURS" ] || { echo "no $OURS: cargo build --release first" >&2; exit 1; }
[ -x "$THEIRS" ] || { echo "no $THEIRS" >&2; exit 1; }
ulimit -n 32768 2>/dev/null || ulimit -n "$(ulimit -Hn)"
TICK=$(getconf CLK_TCK)
if [ "$PIN" = 1 ] && [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
    ON_SERVER_CPU=(taskset -c 0)
    WRK=(taskset -c 1 wrk -t1)
else
    PIN=0 ON_SERVER_CPU=() WRK=(wrk -t2)
fi

. bench/lib.sh
bench_dir lrs-bench
mkdir -p "$DIR/www"
head -c 1024 /dev/urandom > "$DIR/www/1k.bin"
head -c 1048576 /dev/urandom > "$DIR/www/1m.bin"
BASE=$((20000 + RANDOM % 20000))

# write_conf NAME PORT: the same config for both servers.
write_conf() {
    cat > "$DIR/$1.conf" <<CONF
server.document-root = "$DIR/www"
server.bind = "127.0.0.1"
server.port = $2
server.errorlog = "$DIR/$1.err"
server.max-fds = 32000
server.max-connections = $((IDLE_N + 100))
server.max-keep-alive-requests = 65535
server.max-keep-alive-idle = 600
mimetype.assign = (".bin" => "application/octet-stream", ".html" => "text/html")
CONF
}

# start NAME BINARY PORT [WRAPPER...]: sets PID_NAME.
start() {
    local name=$1 bin=$2 port=$3
    shift 3
    write_conf "$name" "$port"
    "$@" "$bin" -D -f "$DIR/$name.conf" 2>>"$DIR/$name.stderr" &
    local pid=$!
    PIDS+=("$pid")
    printf -v "PID_$name" %s "$pid"
    wait_port "$port" || { cat "$DIR/$name.stderr" "$DIR/$name.err" >&2; exit 1; }
}

stop() { # PID
    kill "$1" 2>/dev/null
    for _ in $(seq 1 100); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
    kill -9 "$1" 2>/dev/null
}


echo "# lighttpd-rs vs lighttpd 1.4.69 — $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "# machine: nproc $(nproc), load $(cut -d' ' -f1-3 /proc/loadavg), $(uname -r)"
echo "# ours: $OURS   theirs: $THEIRS ($("$THEIRS" -v 2>&1 | head -1))"
echo "# rounds $ROUNDS x ${SECS}s, ${WRK[*]} -c$CONNS, pinned $PIN, idle connections $IDLE_N"

PORT_ours=$BASE
PORT_theirs=$((BASE + 1))
start ours "$OURS" "$PORT_ours" "${ON_SERVER_CPU[@]}"
start theirs "$THEIRS" "$PORT_theirs" "${ON_SERVER_CPU[@]}"
sleep 1

# 1. idle RSS.
echo
echo "## idle RSS after start"
for s in ours theirs; do
    pid_var=PID_$s
    printf '%-7s %6s KiB\n' "$s" "$(rss_kib "${!pid_var}")"
done

# 2. memory per idle keep-alive connection.
echo
echo "## memory per idle keep-alive connection ($IDLE_N connections, one 1 KiB GET each)"
for s in ours theirs; do
    pid_var=PID_$s; port_var=PORT_$s
    pid=${!pid_var}
    $CLIENT seq "${!port_var}" 20 /1k.bin
    before=$(rss_kib "$pid")
    rm -f "$DIR/ready"
    $CLIENT idle "${!port_var}" "$IDLE_N" 300 /1k.bin "$DIR/ready" &
    cpid=$!
    PIDS+=("$cpid")
    for _ in $(seq 1 1500); do [ -s "$DIR/ready" ] && break; sleep 0.1; done
    sleep 1
    after=$(rss_kib "$pid")
    opened=$(cat "$DIR/ready" 2>/dev/null || echo 0)
    stop "$cpid"
    wait "$cpid" 2>/dev/null
    awk -v s="$s" -v b="$before" -v a="$after" -v n="$opened" 'BEGIN {
        printf "%-7s %5d open  RSS %6d -> %6d KiB  = %.2f KiB per connection\n",
               s, n, b, a, n ? (a - b) / n : 0 }'
    sleep 1
done

# 3. CPU time per request, alternating servers round by round. "1k-br" is
#    the 1 KiB file asked for with the header lines a browser sends.
declare -A URL=([1k]=/1k.bin [1k-br]=/1k.bin [404]=/missing.bin [1m]=/1m.bin)
BROWSER_HEADERS=(
    -H "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
    -H "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    -H "Accept-Language: en-US,en;q=0.5"
    -H "Accept-Encoding: gzip, deflate, br, zstd"
    -H "Referer: http://bench/index.html"
    -H "Cookie: session=0123456789abcdef; theme=dark"
    -H "Upgrade-Insecure-Requests: 1"
    -H "Sec-Fetch-Dest: document"
    -H "Sec-Fetch-Mode: navigate"
    -H "Priority: u=0, i"
)
TESTS="1k 1k-br 404 1m"
for r in $(seq 1 "$ROUNDS"); do
    if [ $((r % 2)) = 1 ]; then order="ours theirs"; else order="theirs ours"; fi
    for t in $TESTS; do
        headers=()
        [ "$t" = 1k-br ] && headers=("${BROWSER_HEADERS[@]}")
        for s in $order; do
            pid_var=PID_$s; port_var=PORT_$s
            pid=${!pid_var}
            c0=$(cpu_ticks "$pid"); m0=$(machine_ticks)
            out=$(timeout $((SECS + 20)) "${WRK[@]}" -c"$CONNS" -d"${SECS}s" "${headers[@]}" \
                "http://127.0.0.1:${!port_var}${URL[$t]}")
            c1=$(cpu_ticks "$pid"); m1=$(machine_ticks)
            n=$(echo "$out" | awk '/requests in/ {print $1}')
            rps=$(echo "$out" | awk '/^Requests\/sec/ {print $2}')
            bad=$(echo "$out" | awk '/Non-2xx|Socket errors/' | tr '\n' ' ')
            us=$(awk -v c=$((c1 - c0)) -v n="${n:-0}" -v t="$TICK" 'BEGIN {print n ? c * 1e6 / t / n : "nan"}')
            mus=$(awk -v c=$((m1 - m0)) -v n="${n:-0}" -v t="$TICK" 'BEGIN {print n ? c * 1e6 / t / n : "nan"}')
            echo "$us" >> "$DIR/cpu.$t.$s"
            echo "$mus" >> "$DIR/machine.$t.$s"
            echo "$rps" >> "$DIR/rps.$t.$s"
            echo "round $r $t $s: $n requests, $rps req/s, $us µs CPU/request, machine $mus $bad" >> "$DIR/rounds.log"
        done
    done
done
echo
echo "## CPU per request (median of $ROUNDS rounds; utime+stime / wrk requests)"
printf '%-6s %14s %14s %8s %12s %12s\n' test "ours µs/req" "theirs µs/req" ratio "ours req/s" "theirs req/s"
for t in $TESTS; do
    o=$(median < "$DIR/cpu.$t.ours"); h=$(median < "$DIR/cpu.$t.theirs")
    ro=$(median < "$DIR/rps.$t.ours"); rh=$(median < "$DIR/rps.$t.theirs")
    awk -v t="$t" -v o="$o" -v h="$h" -v ro="$ro" -v rh="$rh" 'BEGIN {
        printf "%-6s %14.1f %14.1f %8.2f %12.0f %12.0f\n", t, o, h, h ? o / h : 0, ro, rh }'
done
echo
echo "## whole machine: busy time of all CPUs per request (server, wrk and the"
echo "## kernel's network work, wherever it is charged; fairer for large files)"
printf '%-6s %14s %14s %8s\n' test "ours µs/req" "theirs µs/req" ratio
for t in $TESTS; do
    o=$(median < "$DIR/machine.$t.ours"); h=$(median < "$DIR/machine.$t.theirs")
    awk -v t="$t" -v o="$o" -v h="$h" 'BEGIN {
        printf "%-6s %14.1f %14.1f %8.2f\n", t, o, h, h ? o / h : 0 }'
done
echo "(every round: $DIR/rounds.log, printed below)"
cat "$DIR/rounds.log"
echo
echo "## RSS after the load rounds"
for s in ours theirs; do
    pid_var=PID_$s
    printf '%-7s %6s KiB\n' "$s" "$(rss_kib "${!pid_var}")"
done

# 4. syscalls per keep-alive GET of the 1 KiB file and of a 404.
if [ "$SYSCALLS" = 1 ] && command -v strace >/dev/null; then
    for t in 1k 404; do
    echo
    echo "## syscalls per $t keep-alive GET (strace -c, one connection)"
    for s in ours theirs; do
        pid_var=PID_$s; port_var=PORT_$s
        strace -c -f -p "${!pid_var}" -o "$DIR/strace.$s" 2>/dev/null &
        spid=$!
        PIDS+=("$spid")
        sleep 0.5
        n=$(timeout 30 wrk -t1 -c1 -d2s "http://127.0.0.1:${!port_var}${URL[$t]}" | awk '/requests in/ {print $1}')
        kill -INT "$spid"; wait "$spid" 2>/dev/null
        printf '%-7s %s requests:' "$s" "$n"
        awk -v n="$n" 'NF >= 5 && $4 ~ /^[0-9]+$/ && $NF ~ /^[a-z_0-9]+$/ && $NF != "total" {
            printf " %s %.2f", $NF, $4 / n }' "$DIR/strace.$s"
        echo
    done
    done
fi

# 5. heap allocations per request (dhat): a run with 2K requests minus a run
#    with K, for the 1 KiB file and for a 404 (the steady state: the first
#    requests fill caches and pools), and what the first K add to startup.
if [ "$ALLOCS" = 1 ] && command -v valgrind >/dev/null; then
    echo
    echo "## heap allocations per request (valgrind --tool=dhat, keep-alive GETs $K+1..$((2 * K)))"
    stop "$PID_ours"; stop "$PID_theirs"
    dhat_blocks() { # NAME BIN PORT PATH K
        start "dhat$3" "$2" "$3" valgrind --tool=dhat --dhat-out-file=/dev/null
        local pid_var=PID_dhat$3
        [ "$5" -gt 0 ] && $CLIENT seq "$3" "$5" "$4"
        stop "${!pid_var}"
        wait "${!pid_var}" 2>/dev/null
        sed -n 's/.*Total: *[0-9,]* bytes in \([0-9,]*\) blocks.*/\1/p' "$DIR/dhat$3.stderr" | tr -d , | tail -1
    }
    port=$((BASE + 2))
    for s in ours theirs; do
        if [ $s = ours ]; then bin=$OURS; else bin=$THEIRS; fi
        z=$(dhat_blocks $s "$bin" $port /1k.bin 0); port=$((port + 1))
        a1=$(dhat_blocks $s "$bin" $port /1k.bin "$K"); port=$((port + 1))
        a2=$(dhat_blocks $s "$bin" $port /1k.bin $((2 * K))); port=$((port + 1))
        b1=$(dhat_blocks $s "$bin" $port /missing.bin "$K"); port=$((port + 1))
        b2=$(dhat_blocks $s "$bin" $port /missing.bin $((2 * K))); port=$((port + 1))
        awk -v s=$s -v z="$z" -v a1="$a1" -v a2="$a2" -v b1="$b1" -v b2="$b2" -v k="$K" 'BEGIN {
            printf "%-7s startup %s blocks; per request: 1 KiB GET %.2f, 404 %.2f; the first %d add %d / %d\n",
                   s, z, (a2 - a1) / k, (b2 - b1) / k, k, a1 - z, b1 - z }'
    done
fi
