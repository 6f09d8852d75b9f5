#!/usr/bin/env python3
"""Small HTTP/1.1 clients for bench/compare.sh (127.0.0.1 only, bounded).

  client.py idle PORT N HOLD PATH READY_FILE
      Open N keep-alive connections, make one GET PATH on each and read the
      whole response, write the count to READY_FILE, keep them all idle for
      HOLD seconds (the caller measures the server's RSS), then close.
  client.py seq PORT K PATH
      K GETs of PATH one after another on one keep-alive connection.

BROWSER=1 in the environment sends the header lines a browser sends
(about 450 bytes of head) instead of only Host.
"""

import os
import socket
import sys
import time

BROWSER_FIELDS = (
    b"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n"
    b"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
    b"Accept-Language: en-US,en;q=0.5\r\n"
    b"Accept-Encoding: gzip, deflate, br, zstd\r\n"
    b"Connection: keep-alive\r\n"
    b"Referer: http://bench/index.html\r\n"
    b"Cookie: session=0123456789abcdef; theme=dark\r\n"
    b"Upgrade-Insecure-Requests: 1\r\n"
    b"Sec-Fetch-Dest: document\r\n"
    b"Sec-Fetch-Mode: navigate\r\n"
    b"Priority: u=0, i\r\n"
)
EXTRA = BROWSER_FIELDS if os.environ.get("BROWSER") == "1" else b""

DEADLINE = 120  # seconds for opening connections / sending requests


def connect(port):
    return socket.create_connection(("127.0.0.1", port), timeout=10)


def get(s, path):
    """One GET on socket s; read the head and Content-Length bytes."""
    s.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: bench\r\n" + EXTRA + b"\r\n")
    data = b""
    while b"\r\n\r\n" not in data:
        got = s.recv(65536)
        if not got:
            raise OSError("closed before the head")
        data += got
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        got = s.recv(65536)
        if not got:
            raise OSError("closed in the body")
        body += got


def idle(port, n, hold, path, ready):
    start = time.monotonic()
    socks = []
    while len(socks) < n and time.monotonic() - start < DEADLINE:
        try:
            s = connect(port)
            socks.append(s)
            get(s, path)
        except OSError as e:
            print("connection %d failed: %s" % (len(socks), e), file=sys.stderr)
            break
    with open(ready, "w") as f:
        f.write(str(len(socks)))
    time.sleep(hold)
    for s in socks:
        s.close()


def seq(port, k, path):
    s = connect(port)
    start = time.monotonic()
    for _ in range(k):
        if time.monotonic() - start > DEADLINE:
            break
        get(s, path)
    s.close()


def main():
    a = sys.argv
    if len(a) == 7 and a[1] == "idle":
        idle(int(a[2]), int(a[3]), float(a[4]), a[5], a[6])
    elif len(a) == 5 and a[1] == "seq":
        seq(int(a[2]), int(a[3]), a[4])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
