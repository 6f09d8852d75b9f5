#!/bin/sh
# Record real lighttpd's answers for the Debian layout (conf-samples/debian) with no
# snippet and with each conf-available snippet enabled in turn (through
# packaging/debian/lighty-enable-mod, so its "depends:" are enabled too). Writes
# compat-tests/configs/debian/expected/<case>.{out,err,status}, <case> = "none" or the
# snippet's NAME:
#   .out    -p stdout (var.CWD / var.PID values normalised, the layout dir -> <T>)
#   .err    -p stderr (log prefixes -> "TS: ", the layout dir -> <T>)
#   .status "p=<rc> tt=<rc>"
# The layout is built in a temp dir T exactly as tests/debian_parity.rs builds it:
#   T/etc/lighttpd.conf   conf-samples/debian/lighttpd.conf with /etc/lighttpd/ -> T/etc/,
#                         /usr/share/lighttpd/ -> T/share/, server.port = 18999, document
#                         root T/www, no server.username/groupname/errorlog/pid-file lines
#   T/etc/conf-available/ the shipped snippets; T/etc/conf-enabled/ by lighty-enable-mod
#   T/share/              packaging/debian's include_shell helpers; create-mime.conf.pl
#                         reads compat-tests/configs/debian/mime.types, not /etc/mime.types
# lighttpd runs from T/etc. Needs perl. Usage: record-debian-parity.sh
set -eu
LIGHTTPD=${LIGHTTPD:-/usr/sbin/lighttpd}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
fixture=$here/configs/debian
mkdir -p "$fixture/expected"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

layout() {
    cd "$T"
    rm -rf "$T/etc" "$T/share" "$T/www"
    mkdir -p "$T/etc/conf-enabled" "$T/share" "$T/www"
    cp -R "$repo/conf-samples/debian/conf-available" "$T/etc/"
    cp "$repo/packaging/debian/use-ipv6.pl" "$T/share/"
    sed "s|/etc/mime.types|$fixture/mime.types|" "$repo/packaging/debian/create-mime.conf.pl" \
        >"$T/share/create-mime.conf.pl"
    chmod 755 "$T/share/use-ipv6.pl" "$T/share/create-mime.conf.pl"
    sed -e "s|/etc/lighttpd/|$T/etc/|g" -e "s|/usr/share/lighttpd/|$T/share/|g" \
        -e 's|^server.port .*|server.port = 18999|' -e "s|\"/var/www/html\"|\"$T/www\"|" \
        -e '/^server.username\|^server.groupname\|^server.errorlog\|^server.pid-file/d' \
        "$repo/conf-samples/debian/lighttpd.conf" >"$T/etc/lighttpd.conf"
}

record() {
    exp="$fixture/expected/$1"
    cd "$T/etc"
    rc_p=0; "$LIGHTTPD" -p -f lighttpd.conf >"$T/out" 2>"$T/err" </dev/null || rc_p=$?
    rc_tt=0; "$LIGHTTPD" -tt -f lighttpd.conf >/dev/null 2>&1 </dev/null || rc_tt=$?
    sed -E 's/^( *var\.CWD +=) .*/\1 "<CWD>"/; s/^( *var\.PID +=) .*/\1 <PID>/' "$T/out" |
        sed "s|$T|<T>|g" >"$exp.out"
    sed -E 's/[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}: \([^)]*\) /TS: /g' "$T/err" |
        sed "s|$T|<T>|g" >"$exp.err"
    echo "p=$rc_p tt=$rc_tt" >"$exp.status"
    echo "debian/$1: p=$rc_p tt=$rc_tt"
}

layout
record none
for snippet in "$repo"/conf-samples/debian/conf-available/*.conf; do
    name=$(basename "$snippet" .conf)
    name=${name#*-}
    layout
    LIGHTTPD_CONFDIR=$T/etc/ "$repo/packaging/debian/lighty-enable-mod" "$name" >/dev/null
    record "$name"
done
