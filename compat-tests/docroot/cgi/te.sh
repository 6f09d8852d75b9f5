#!/bin/sh
# Answers with its own Transfer-Encoding: chunked; QUERY_STRING picks the body.
# The pauses let a streaming server send the head before the body arrives.
printf 'Content-Type: text/plain\r\n'
[ "$QUERY_STRING" = ok ] && printf 'Content-Length: 99\r\n'
printf 'Transfer-Encoding: chunked\r\n\r\n'
sleep 0.3
case "$QUERY_STRING" in
ok) printf '5;ext=1\r\nhello\r\n'; sleep 0.2
    printf '7\r\n, world\r\n0\r\nX-Trailer: t\r\n\r\n' ;;
badsize) printf '5\r\nhello\r\nZZ\r\nmore\r\n0\r\n\r\n' ;;
badcrlf) printf '5\r\nhello\r\n'; sleep 0.2; printf '3\r\nabcXX0\r\n\r\n' ;;
ext) printf '5\r\nhello\r\n'; sleep 0.2; printf '3;%02000d' 0 ;;
huge) printf '5\r\nhello\r\nfffffffffffffffffff\r\nabc' ;;
trunc) printf '5\r\nhello\r\n'; sleep 0.2; printf '10\r\nabc' ;;
noend) printf '5\r\nhello\r\n' ;;
excess) printf '5\r\nhello\r\n0\r\n\r\nEXTRA' ;;
esac
