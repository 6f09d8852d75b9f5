# Shared by the bench scripts (sourced, not run): a private temp dir that is
# removed on exit together with every process whose pid is in PIDS, and the
# small measuring helpers.
#
#   . "$(dirname "$0")/lib.sh"; bench_dir lrs-name    # sets DIR, PIDS, traps

# bench_dir PREFIX: DIR=/tmp/PREFIX.XXXXXX, cleaned up (and PIDS stopped) on exit.
bench_dir() {
    DIR=$(mktemp -d "/tmp/$1.XXXXXX")
    PIDS=()
    trap bench_cleanup EXIT
    trap 'exit 130' INT TERM
}

bench_cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    sleep 0.3
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
    rm -rf "$DIR"
}

# wait_port PORT: until something accepts on it (bounded, 30 s).
wait_port() {
    for _ in $(seq 1 300); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "nothing listens on $1" >&2
    return 1
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
machine_ticks() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat; }
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
median() { sort -g | awk '{a[NR]=$1} END {if (NR == 0) print "nan"; else if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
