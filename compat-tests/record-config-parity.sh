#!/bin/sh
# Record real lighttpd's answers for the config parity fixtures in
# compat-tests/configs/<suite>/: every top-level *.conf of a suite is one
# case, run from the suite directory as `lighttpd -p -f <name>.conf`,
# `-t` and `-tt`. Writes <suite>/expected/<name>.{out,err,status}:
#   .out    -p stdout, var.CWD / var.PID values normalised, the checkout's path -> <REPO>
#   .err    -p stderr, log prefixes "YYYY-MM-DD HH:MM:SS: (file.c.N) " -> "TS: "
#   .status "p=<rc> t=<rc> tt=<rc>"
#   .tt.err -tt stderr, normalised as .err (suite "preflight" only: its cases
#           are module set-up errors that do not depend on the machine)
# tests/config_parity.rs compares lighttpd-rs against these (it needs
# neither /work/ref nor lighttpd). Usage: record-config-parity.sh [suite...]
set -eu
LIGHTTPD=${LIGHTTPD:-/usr/sbin/lighttpd}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
# the environment lighttpd's own test suite gives its configs
export SRCDIR=. EPHEMERAL_PORT=10000 PORT=2048 PERL=/usr/bin/perl
export env_test=good_env condition_include_file=var-include-sub.conf
normalise_out() {
    sed -E 's/^( *var\.CWD +=) .*/\1 "<CWD>"/; s/^( *var\.PID +=) .*/\1 <PID>/' |
        sed "s|$repo|<REPO>|g"
}
normalise_err() {
    sed -E 's/[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}: \([^)]*\) /TS: /g' |
        sed "s|$repo|<REPO>|g"
}
suites=${*:-"upstream/doc upstream/tests cases preflight"}
for suite in $suites; do
    dir="$here/configs/$suite"
    mkdir -p "$dir/expected"
    for conf in "$dir"/*.conf; do
        name=$(basename "$conf" .conf)
        exp="$dir/expected/$name"
        cd "$dir"
        rc_p=0; "$LIGHTTPD" -p -f "$name.conf" >"$exp.out.raw" 2>"$exp.err.raw" </dev/null || rc_p=$?
        rc_t=0; "$LIGHTTPD" -t -f "$name.conf" >/dev/null 2>&1 </dev/null || rc_t=$?
        rc_tt=0; "$LIGHTTPD" -tt -f "$name.conf" >/dev/null 2>"$exp.tt.err.raw" </dev/null || rc_tt=$?
        if [ "$suite" = preflight ]; then
            normalise_err <"$exp.tt.err.raw" >"$exp.tt.err"
        fi
        rm -f "$exp.tt.err.raw"
        normalise_out <"$exp.out.raw" >"$exp.out"
        normalise_err <"$exp.err.raw" >"$exp.err"
        rm -f "$exp.out.raw" "$exp.err.raw"
        echo "p=$rc_p t=$rc_t tt=$rc_tt" >"$exp.status"
        echo "$suite/$name: p=$rc_p t=$rc_t tt=$rc_tt"
    done
done
