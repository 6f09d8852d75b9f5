#!/bin/sh
# One write holds the head and the start of the chunked body; the rest follows a pause.
h='Status: 200\r\nTransfer-Encoding: chunked\r\n\r\n'
case "$QUERY_STRING" in
data) printf "${h}5\r\nhel"; sleep 0.3; printf 'lo\r\n0\r\nX-T: 1\r\n\r\n' ;;
cr) printf "${h}5\r\nhello\r"; sleep 0.3; printf '\n0\r\n\r\n' ;;
line) printf "${h}5\r\nhello\r\n1"; sleep 0.3; printf '\r\n!\r\n0\r\n\r\n' ;;
trailers) printf "Trailer: X-T\r\n${h}5\r\nhello\r\n0\r\nX-T: 1\r\nX-U: 2\r\n\r\n" ;;
esac
