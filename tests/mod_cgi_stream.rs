//! Streamed backend responses against the real binary
//! (`server.stream-response-body`): a CGI's first bytes reach the client
//! before the program ends (chunked for HTTP/1.1, close-delimited for
//! HTTP/1.0), the default buffers, a flooding CGI with a client that does
//! not read stays bounded in memory and is stopped when the client goes,
//! a proxied backend streams the same way, and `cgi.upgrade` turns a 101
//! answer into a tunnel between client and program.

mod common;
mod gw_support;

use common::Server;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SCRIPTS: &[(&str, &str)] = &[
    (
        "slow.sh",
        "printf 'Content-Type: text/plain\\n\\nfirst\\n'; i=0; \
         while [ ! -e \"$GO\" ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done; \
         printf 'second\\n'",
    ),
    (
        "flood.sh",
        "echo $$ > \"$FLOOD_PID\"; printf 'Content-Type: application/octet-stream\\n\\n'; exec cat /dev/zero",
    ),
    (
        "echo.sh",
        "printf 'Status: 101\\nUpgrade: echo\\n\\n'; echo \"up=${HTTP_UPGRADE-none}\"; \
         while read -r l; do echo \"got $l\"; done; echo closed",
    ),
    (
        "noup.sh",
        "printf 'Status: 101\\nUpgrade: echo\\n\\n'; echo \"up=${HTTP_UPGRADE-none}\"; \
         while read -r l; do echo \"got $l\"; done; echo closed",
    ),
    (
        "length.sh",
        "echo $$ > \"$FLOOD_PID.len\"; printf 'Content-Length: 6\\n\\nfirst\\nextra'; sleep 30",
    ),
    (
        "stall.sh",
        "printf 'Content-Type: text/plain\\n\\nsome\\n'; exec sleep 30",
    ),
];

fn server(mode: Option<u8>) -> Server {
    let stream = mode
        .map(|m| format!("server.stream-response-body = {m}\n"))
        .unwrap_or_default();
    let s = Server::start(
        &format!(
            "server.modules = (\"mod_cgi\", \"mod_setenv\")\ncgi.assign = (\".sh\" => \"\")\n\
             setenv.add-environment = (\"FLOOD_PID\" => \"@DIR@/flood.pid\", \"GO\" => \"@DIR@/go\")\n\
             $HTTP[\"url\"] =~ \"^/cgi/stall\" {{ cgi.limits = (\"read-timeout\" => 1) }}\n\
             $HTTP[\"url\"] =~ \"^/cgi/echo\" {{ cgi.upgrade = \"enable\" }}\n{stream}"
        ),
        &[],
    );
    std::fs::create_dir_all(s.docroot.join("cgi")).expect("mkdir");
    for (name, body) in SCRIPTS {
        let p = s.docroot.join("cgi").join(name);
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).expect("write");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    s
}

/// Let slow.sh (which waits up to 20 s for it) finish.
fn go(s: &Server) {
    std::fs::write(s.dir.join("go"), "").expect("go file");
}

/// A flag a backend thread waits on (up to 20 s) before it finishes.
#[derive(Clone, Default)]
struct Gate(Arc<AtomicBool>);

impl Gate {
    fn open(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    fn wait(&self) {
        common::wait_for(Duration::from_secs(20), || self.0.load(Ordering::SeqCst));
    }
}

/// The first part of a streamed response has `first\n` and nothing of
/// the part the program only sends later (when released).
fn assert_first_part_only(early: &[u8]) {
    let text = String::from_utf8_lossy(early);
    assert!(text.contains("first\n"), "{text:?}");
    assert!(!text.contains("second"), "{text:?}");
}

/// Read until `needle` shows up (or the timeout); what arrived.
fn read_until(c: &mut TcpStream, needle: &[u8], limit: Duration) -> Vec<u8> {
    let end = Instant::now() + limit;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while Instant::now() < end && !got.windows(needle.len()).any(|w| w == needle) {
        c.set_read_timeout(Some(Duration::from_millis(100)))
            .expect("timeout");
        match c.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(_) => {}
        }
    }
    c.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    got
}

/// Decode a chunked body (test data: no extensions, no trailers).
fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = b.windows(2).position(|w| w == b"\r\n") {
        let n = usize::from_str_radix(std::str::from_utf8(&b[..eol]).unwrap_or("x"), 16)
            .expect("chunk size");
        if n == 0 {
            break;
        }
        out.extend_from_slice(&b[eol + 2..eol + 2 + n]);
        b = &b[eol + 4 + n..];
    }
    out
}

fn open(s: &Server, req: &str) -> TcpStream {
    let mut c = s.connect();
    c.write_all(req.as_bytes()).expect("send");
    c
}

#[test]
fn http11_streams_chunked_before_the_program_ends() {
    let s = server(Some(2));
    let mut c = open(&s, "GET /cgi/slow.sh HTTP/1.1\r\nHost: t\r\n\r\n");
    // the program waits for the go file: what arrives before is streamed
    let early = read_until(&mut c, b"first\n", Duration::from_secs(20));
    assert_first_part_only(&early);
    go(&s);
    let text = String::from_utf8_lossy(&early).to_string();
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(text.contains("Transfer-Encoding: chunked\r\n"), "{text}");
    assert!(!text.contains("Content-Length"), "{text}");
    let mut all = early;
    all.extend(read_until(&mut c, b"0\r\n\r\n", Duration::from_secs(20)));
    let r = common::parse(&all).pop().expect("a response");
    assert_eq!(dechunk(&r.body), b"first\nsecond\n");
    // keep-alive holds: a second request on the same connection works (the
    // program waits again, so its answer is streamed too)
    std::fs::remove_file(s.dir.join("go")).expect("no go file");
    c.write_all(b"GET /cgi/slow.sh HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .expect("send");
    let mut all = read_until(&mut c, b"first\n", Duration::from_secs(20));
    assert_first_part_only(&all);
    go(&s);
    all.extend(common::read_to_close(&mut c));
    let r = common::parse(&all).pop().expect("second response");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Connection"), Some("close"));
    assert_eq!(dechunk(&r.body), b"first\nsecond\n");
}

#[test]
fn http10_streams_until_close() {
    let s = server(Some(1));
    let mut c = open(&s, "GET /cgi/slow.sh HTTP/1.0\r\n\r\n");
    let early = read_until(&mut c, b"first\n", Duration::from_secs(20));
    assert_first_part_only(&early);
    go(&s);
    let mut all = early;
    all.extend(common::read_to_close(&mut c));
    let text = String::from_utf8_lossy(&all).to_string();
    assert!(text.contains("Connection: close\r\n"), "{text}");
    assert!(!text.contains("Transfer-Encoding"), "{text}");
    assert!(text.ends_with("\r\n\r\nfirst\nsecond\n"), "{text}");
}

#[test]
fn default_buffers_the_whole_response() {
    let s = server(None);
    let mut c = open(&s, "GET /cgi/slow.sh HTTP/1.1\r\nHost: t\r\n\r\n");
    // the program has printed "first" and waits for the go file: nothing
    // may arrive yet
    let early = read_until(&mut c, b"first\n", Duration::from_millis(1500));
    assert!(
        early.is_empty(),
        "sent before the program ended: {:?}",
        String::from_utf8_lossy(&early)
    );
    go(&s);
    let all = read_until(&mut c, b"second\n", Duration::from_secs(20));
    let r = common::parse(&all).pop().expect("a response");
    assert_eq!(r.header("Content-Length"), Some("13"));
    assert_eq!(r.text(), "first\nsecond\n");
}

fn rss_kib(pid: i32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

#[test]
fn flood_with_a_slow_reader_stays_bounded_and_stops() {
    let s = server(Some(2));
    let base = rss_kib(s.pid());
    let mut c = open(&s, "GET /cgi/flood.sh HTTP/1.1\r\nHost: t\r\n\r\n");
    // the client reads nothing for a while: the CGI must block, not the
    // server's memory grow
    std::thread::sleep(Duration::from_millis(1500));
    let grown = rss_kib(s.pid()).saturating_sub(base);
    assert!(grown < 16 * 1024, "server RSS grew by {grown} KiB");
    // then it reads a good amount: the stream keeps flowing
    let mut got = 0usize;
    let mut buf = vec![0u8; 65536];
    let end = Instant::now() + Duration::from_secs(30);
    while got < 8 << 20 && Instant::now() < end {
        match c.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(_) => break,
        }
    }
    assert!(got >= 8 << 20, "only {got} bytes streamed");
    let grown = rss_kib(s.pid()).saturating_sub(base);
    assert!(grown < 16 * 1024, "server RSS grew by {grown} KiB");
    // the client leaves: the program is stopped
    let pid: i32 = std::fs::read_to_string(s.dir.join("flood.pid"))
        .expect("pid file")
        .trim()
        .parse()
        .expect("pid");
    drop(c);
    let gone = || !std::path::Path::new(&format!("/proc/{pid}")).exists();
    assert!(
        common::wait_for(Duration::from_secs(20), gone),
        "CGI {pid} still runs"
    );
}

#[test]
fn proxy_response_streams_too() {
    let gate = Gate::default();
    let backend_gate = gate.clone();
    let port = gw_support::serve(move |mut conn: TcpStream| {
        let mut buf = [0u8; 4096];
        let _ = conn.read(&mut buf);
        let _ = conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nfirst\n");
        backend_gate.wait();
        let _ = conn.write_all(b"second\n");
    });
    let s = Server::start(
        &format!(
            "server.modules = (\"mod_proxy\")\nserver.stream-response-body = 2\n\
             proxy.server = (\"\" => ((\"host\" => \"127.0.0.1\", \"port\" => {port})))"
        ),
        &[],
    );
    let mut c = open(&s, "GET /x HTTP/1.1\r\nHost: t\r\n\r\n");
    let early = read_until(&mut c, b"first\n", Duration::from_secs(20));
    assert_first_part_only(&early);
    gate.open();
    let mut all = early;
    all.extend(read_until(&mut c, b"0\r\n\r\n", Duration::from_secs(20)));
    let r = common::parse(&all).pop().expect("a response");
    assert_eq!(r.header("Transfer-Encoding"), Some("chunked"));
    assert_eq!(dechunk(&r.body), b"first\nsecond\n");
}

const UPGRADE: &str =
    "GET /cgi/echo.sh HTTP/1.1\r\nHost: t\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n";

#[test]
fn cgi_upgrade_tunnels_both_ways_until_the_client_closes() {
    let s = server(None);
    let mut c = open(&s, UPGRADE);
    let head = read_until(&mut c, b"up=echo\n", Duration::from_secs(20));
    let text = String::from_utf8_lossy(&head).to_string();
    assert!(
        text.starts_with("HTTP/1.1 101 Switching Protocols\r\n"),
        "{text}"
    );
    assert!(text.contains("Upgrade: echo\r\n"), "{text}");
    assert!(text.contains("Connection: upgrade\r\n"), "{text}");
    assert!(!text.contains("Content-Length") && !text.contains("Transfer-Encoding"));
    c.write_all(b"one\n").expect("send");
    let got = read_until(&mut c, b"got one\n", Duration::from_secs(20));
    assert!(
        got.ends_with(b"got one\n"),
        "{:?}",
        String::from_utf8_lossy(&got)
    );
    // many lines in one go: all of them come back, in order
    let lines: String = (0..3000).map(|i| format!("line {i}\n")).collect();
    c.write_all(lines.as_bytes()).expect("send");
    let got = read_until(&mut c, b"got line 2999\n", Duration::from_secs(30));
    let want: String = (0..3000).map(|i| format!("got line {i}\n")).collect();
    assert_eq!(String::from_utf8_lossy(&got), want);
    // the client closes its side: the program sees EOF, the answer ends
    c.shutdown(std::net::Shutdown::Write).expect("shutdown");
    let rest = common::read_to_close(&mut c);
    assert_eq!(String::from_utf8_lossy(&rest), "closed\n");
}

#[test]
fn without_cgi_upgrade_nothing_switches() {
    let s = server(None);
    // the same program outside the cgi.upgrade block: its stdin is closed
    let mut c = open(&s, &UPGRADE.replace("/cgi/echo.sh", "/cgi/noup.sh"));
    let all = read_until(&mut c, b"closed\n", Duration::from_secs(20));
    let text = String::from_utf8_lossy(&all).to_string();
    assert!(
        text.starts_with("HTTP/1.1 101 Switching Protocols\r\n"),
        "{text}"
    );
    assert!(!text.contains("Connection: upgrade"), "{text}");
    assert!(text.contains("Content-Length: 15\r\n"), "{text}");
    assert!(text.ends_with("\r\n\r\nup=none\nclosed\n"), "{text}");
}

#[test]
fn content_length_ends_the_output_and_stops_the_program() {
    for mode in [None, Some(2)] {
        let s = server(mode);
        let start = Instant::now();
        let mut c = open(&s, "GET /cgi/length.sh HTTP/1.1\r\nHost: t\r\n\r\n");
        let r = common::read_response(&mut c, false).expect("a response");
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "{mode:?}: waited for the program (it sleeps 30 s)"
        );
        assert_eq!(r.header("Content-Length"), Some("6"), "{mode:?}");
        assert_eq!(r.text(), "first\n", "{mode:?}");
        let pid: i32 = std::fs::read_to_string(s.dir.join("flood.pid.len"))
            .expect("pid file")
            .trim()
            .parse()
            .expect("pid");
        let gone = || !std::path::Path::new(&format!("/proc/{pid}")).exists();
        assert!(
            common::wait_for(Duration::from_secs(20), gone),
            "{mode:?}: CGI {pid} still runs"
        );
    }
}

#[test]
fn proxy_upgrade_tunnels_to_the_backend() {
    let port = gw_support::serve(|mut conn: TcpStream| {
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            if conn.read(&mut byte).unwrap_or(0) == 0 {
                return;
            }
            head.push(byte[0]);
        }
        let head = String::from_utf8_lossy(&head).to_string();
        if !head.contains("\r\nUpgrade: echo\r\n")
            || !head.contains("Connection: close, upgrade\r\n")
        {
            let _ = conn.write_all(b"HTTP/1.1 400 No\r\nContent-Length: 0\r\n\r\n");
            return;
        }
        let _ = conn.write_all(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n",
        );
        let mut buf = [0u8; 4096];
        loop {
            match conn.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if conn.write_all(&buf[..n]).is_err() {
                        return;
                    }
                }
            }
        }
        let _ = conn.write_all(b"backend saw EOF\n");
    });
    let s = Server::start(
        &format!(
            "server.modules = (\"mod_proxy\")\n\
             proxy.server = (\"\" => ((\"host\" => \"127.0.0.1\", \"port\" => {port})))\n\
             proxy.header = (\"upgrade\" => \"enable\")"
        ),
        &[],
    );
    let mut c = open(
        &s,
        "GET /ws HTTP/1.1\r\nHost: t\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n",
    );
    let head = read_until(&mut c, b"\r\n\r\n", Duration::from_secs(20));
    let text = String::from_utf8_lossy(&head).to_string();
    assert!(
        text.starts_with("HTTP/1.1 101 Switching Protocols\r\n"),
        "{text}"
    );
    assert!(text.contains("Connection: upgrade\r\n"), "{text}");
    c.write_all(b"ping 1\n").expect("send");
    let got = read_until(&mut c, b"ping 1\n", Duration::from_secs(20));
    assert_eq!(got, b"ping 1\n");
    let big = vec![b'x'; 300_000];
    c.write_all(&big).expect("send");
    let got = read_until(&mut c, &[b'x'; 64], Duration::from_secs(1));
    let mut total = got.len();
    let end = Instant::now() + Duration::from_secs(30);
    let mut buf = [0u8; 65536];
    while total < big.len() && Instant::now() < end {
        match c.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => total += n,
        }
    }
    assert_eq!(total, big.len(), "the echo came back whole");
    c.shutdown(std::net::Shutdown::Write).expect("shutdown");
    let rest = common::read_to_close(&mut c);
    assert_eq!(String::from_utf8_lossy(&rest), "backend saw EOF\n");
    // without the option the Upgrade is not forwarded: the backend says 400
    let s = Server::start(
        &format!(
            "server.modules = (\"mod_proxy\")\n\
             proxy.server = (\"\" => ((\"host\" => \"127.0.0.1\", \"port\" => {port})))"
        ),
        &[],
    );
    let mut c = open(
        &s,
        "GET /ws HTTP/1.1\r\nHost: t\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n",
    );
    let r = common::read_response(&mut c, false).expect("a response");
    assert_eq!(r.status, 400);
}

#[test]
fn large_buffered_output_spills_to_files() {
    let s = server(None);
    let p = s.docroot.join("cgi/big.sh");
    std::fs::write(
        &p,
        "#!/bin/sh\nprintf 'Content-Type: application/octet-stream\\n\\n'; head -c 100000000 /dev/zero\n",
    )
    .expect("write");
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let base = rss_kib(s.pid());
    let mut c = open(
        &s,
        "GET /cgi/big.sh HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    let head = read_until(&mut c, b"\r\n\r\n", Duration::from_secs(60));
    let text = String::from_utf8_lossy(&head).to_string();
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(text.contains("Content-Length: 100000000\r\n"), "{text}");
    let grown = rss_kib(s.pid()).saturating_sub(base);
    assert!(grown < 16 * 1024, "server RSS grew by {grown} KiB");
    let mut total = head.len()
        - head
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map_or(0, |p| p + 4);
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match c.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => total += n,
        }
    }
    assert_eq!(total, 100_000_000);
}

#[test]
fn fastcgi_response_streams_and_ends_at_end_request() {
    let gate = Gate::default();
    let backend_gate = gate.clone();
    let port = gw_support::serve(move |mut conn: TcpStream| {
        if gw_support::fcgi_read(&mut conn).is_none() {
            return;
        }
        let first = gw_support::fcgi_record(6, b"Content-Type: text/plain\r\n\r\nfirst\n");
        let _ = conn.write_all(&first);
        backend_gate.wait();
        let mut rest = gw_support::fcgi_record(6, b"second\n");
        rest.extend(gw_support::fcgi_record(6, b""));
        rest.extend(gw_support::fcgi_record(3, &[0; 8]));
        let _ = conn.write_all(&rest);
    });
    let s = Server::start(
        &format!(
            "server.modules = (\"mod_fastcgi\")\nserver.stream-response-body = 1\n\
             fastcgi.server = (\"/app\" => ((\"host\" => \"127.0.0.1\", \"port\" => {port}, \"check-local\" => \"disable\")))"
        ),
        &[],
    );
    let mut c = open(&s, "GET /app HTTP/1.1\r\nHost: t\r\n\r\n");
    let early = read_until(&mut c, b"first\n", Duration::from_secs(20));
    assert_first_part_only(&early);
    gate.open();
    let mut all = early;
    all.extend(read_until(&mut c, b"0\r\n\r\n", Duration::from_secs(20)));
    let r = common::parse(&all).pop().expect("a response");
    assert_eq!(r.header("Transfer-Encoding"), Some("chunked"));
    assert_eq!(dechunk(&r.body), b"first\nsecond\n");
}

#[test]
fn proxy_flood_with_a_slow_reader_stays_bounded() {
    let port = gw_support::serve(|mut conn: TcpStream| {
        let mut buf = [0u8; 4096];
        let _ = conn.read(&mut buf);
        let _ =
            conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n");
        let block = vec![0u8; 1 << 16];
        for _ in 0..800 {
            if conn.write_all(&block).is_err() {
                return;
            }
        }
    });
    let s = Server::start(
        &format!(
            "server.modules = (\"mod_proxy\")\nserver.stream-response-body = 2\n\
             proxy.server = (\"\" => ((\"host\" => \"127.0.0.1\", \"port\" => {port})))"
        ),
        &[],
    );
    let base = rss_kib(s.pid());
    let mut c = open(&s, "GET /x HTTP/1.1\r\nHost: t\r\n\r\n");
    std::thread::sleep(Duration::from_millis(1500));
    let grown = rss_kib(s.pid()).saturating_sub(base);
    assert!(grown < 16 * 1024, "server RSS grew by {grown} KiB");
    let mut total = 0usize;
    let mut tail = Vec::new();
    let mut buf = vec![0u8; 1 << 16];
    let end = Instant::now() + Duration::from_secs(60);
    while Instant::now() < end && !tail.ends_with(b"\r\n0\r\n\r\n") {
        match c.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                total += n;
                tail.extend_from_slice(&buf[..n]);
                tail.drain(..tail.len().saturating_sub(16));
            }
        }
    }
    // 800 blocks of 64 KiB, chunked: the whole body plus framing arrived
    assert!(tail.ends_with(b"\r\n0\r\n\r\n"), "no last chunk");
    assert!(total > 800 * 65536, "only {total} bytes");
}

#[test]
fn a_silent_program_is_cut_off_by_its_read_timeout_mid_stream() {
    let s = server(Some(2));
    let mut c = open(&s, "GET /cgi/stall.sh HTTP/1.1\r\nHost: t\r\n\r\n");
    let early = read_until(&mut c, b"some\n", Duration::from_secs(20));
    assert!(
        early.windows(5).any(|w| w == b"some\n"),
        "{:?}",
        String::from_utf8_lossy(&early)
    );
    let start = Instant::now();
    let rest = common::read_to_close(&mut c);
    assert!(start.elapsed() < Duration::from_secs(8), "not cut off");
    // the body ends (last chunk) and the connection closes
    assert!(
        rest.ends_with(b"0\r\n\r\n"),
        "{:?}",
        String::from_utf8_lossy(&rest)
    );
}
