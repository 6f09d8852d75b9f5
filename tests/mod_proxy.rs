//! mod_proxy against the real binary with HTTP backend threads: the
//! request sent upstream (Host, X-Forwarded-*, Forwarded, Connection:
//! close, Content-Length for chunked client bodies), response framing
//! (Content-Length, chunked, until close, HEAD), URL remapping, balancing,
//! and hostile backends (bad status lines, huge heads, short bodies,
//! duplicate Content-Length, stalls, refused connections).

mod common;
mod gw_support;

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::Server;
use gw_support::{dead_port, http_read, serve};

/// How long backends hold a connection they do not close or answer: far
/// beyond the bounds the tests assert (the server must not wait for it).
const HOLD: Duration = Duration::from_secs(20);

fn respond(s: &mut TcpStream, data: &[u8]) {
    let _ = s.write_all(data);
}

fn backend(tag: &'static str) -> impl Fn(TcpStream) + Send + Sync + Clone + 'static {
    move |mut s: TcpStream| {
        let Some((head, body)) = http_read(&mut s) else {
            return;
        };
        let target = head.split(' ').nth(1).unwrap_or("").to_string();
        let path = target.split('?').next().unwrap_or("");
        match path {
            "/echo" | "/new/echo" => {
                let mut out = head.into_bytes();
                out.extend_from_slice(&body);
                let mut resp = format!(
                    "HTTP/1.1 200 Whatever\r\nX-Backend: {tag}\r\nContent-Length: {}\r\n\r\n",
                    out.len()
                )
                .into_bytes();
                resp.extend(out);
                respond(&mut s, &resp);
            }
            "/chunked" => {
                respond(&mut s, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
                std::thread::sleep(HOLD); // keeps the connection open
            }
            "/keep" => {
                respond(&mut s, b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nkeep");
                std::thread::sleep(HOLD);
            }
            "/trickle" => {
                let resp = b"HTTP/1.1 200 OK\r\nX-T: 1\r\nContent-Length: 2\r\n\r\nok";
                for piece in resp.chunks(3) {
                    respond(&mut s, piece);
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
            "/short" => respond(
                &mut s,
                b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b",
            ),
            "/dup-cl" => respond(
                &mut s,
                b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\n1234567",
            ),
            "/lf" => respond(&mut s, b"HTTP/1.0 200 OK\nX-Lf: yes\n\nlf body"),
            "/eof" => respond(&mut s, b"HTTP/1.1 200 OK\r\n\r\nuntil close"),
            "/bad-status" => respond(&mut s, b"HTTP/1.1 abc\r\n\r\n"),
            "/no-status" => respond(&mut s, b"Content-Type: text/plain\r\n\r\nx"),
            "/huge-head" => {
                let mut out = b"HTTP/1.1 200 OK\r\n".to_vec();
                for i in 0..3000 {
                    out.extend(format!("X-Filler-{i}: {}\r\n", "v".repeat(20)).bytes());
                }
                out.extend(b"\r\n");
                respond(&mut s, &out)
            }
            "/stall" => std::thread::sleep(HOLD),
            "/redirect" => respond(
                &mut s,
                b"HTTP/1.1 302 Found\r\nLocation: /new/place\r\nContent-Length: 0\r\n\r\n",
            ),
            "/head" => respond(&mut s, b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n"),
            _ => respond(
                &mut s,
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\n\r\nnope",
            ),
        }
    }
}

fn start(extra: &str) -> Server {
    let port = serve(backend("A"));
    let conf = format!(
        r#"server.modules = ("mod_proxy")
proxy.server = ( "" => (( "host" => "127.0.0.1", "port" => {port}, "read-timeout" => 1 )) )
{extra}"#
    );
    Server::start(&conf, &[])
}

fn request(s: &Server, req: &str) -> common::Response {
    common::parse(&s.raw(req.as_bytes()))
        .pop()
        .expect("a response")
}

#[test]
fn request_head_sent_upstream() {
    let s = start(r#"proxy.forwarded = ( "for" => 1, "proto" => 1, "host" => 1 )"#);
    let r = request(
        &s,
        "GET /echo?q=1 HTTP/1.1\r\nHost: front.example\r\nX-Forwarded-For: 10.0.0.9\r\nProxy: evil\r\nTE: trailers\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(r.status, 200);
    let up = r.text();
    assert!(
        up.starts_with("GET /echo?q=1 HTTP/1.1\r\nHost: front.example\r\n"),
        "{up}"
    );
    assert!(
        up.contains("\r\nX-Forwarded-For: 10.0.0.9, 127.0.0.1\r\n"),
        "{up}"
    );
    assert!(
        up.contains("\r\nX-Forwarded-Host: front.example\r\n"),
        "{up}"
    );
    assert!(up.contains("\r\nX-Forwarded-Proto: http\r\n"), "{up}");
    assert!(
        up.contains("Forwarded: for=\"10.0.0.9\", for=127.0.0.1;proto=http;host=\"front.example\""),
        "{up}"
    );
    assert!(!up.contains("Proxy: evil"), "httpoxy: {up}");
    assert!(up.ends_with("\r\nConnection: close\r\n\r\n"), "{up}");
    assert_eq!(r.header("X-Backend"), Some("A"));
    let body = "0123456789";
    let r = request(
        &s,
        &format!("POST /echo HTTP/1.1\r\nHost: h\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\na\r\n{body}\r\n0\r\n\r\n"),
    );
    let up = r.text();
    assert!(up.contains("\r\nContent-Length: 10\r\n"), "{up}");
    assert!(!up.contains("Transfer-Encoding"), "{up}");
    assert!(up.ends_with(body), "{up}");
}

#[test]
fn response_framing() {
    let s = start("");
    let t = Instant::now();
    let r = s.get("/chunked");
    assert_eq!((r.status, r.text().as_str()), (200, "hello world"));
    assert_eq!(r.header("Content-Length"), Some("11"));
    let r = s.get("/keep");
    assert_eq!(r.text(), "keep");
    assert!(
        t.elapsed() < Duration::from_secs(8),
        "framed bodies do not wait for the close: {:?}",
        t.elapsed()
    );
    let r = s.get("/lf");
    assert_eq!(
        (r.status, r.header("X-Lf"), r.text().as_str()),
        (200, Some("yes"), "lf body")
    );
    assert_eq!(s.get("/eof").text(), "until close");
    let r = s.get("/trickle");
    assert_eq!(
        (r.status, r.header("X-T"), r.text().as_str()),
        (200, Some("1"), "ok")
    );
    assert_eq!(
        s.get("/dup-cl").text(),
        "12345",
        "the first Content-Length frames"
    );
    let r = request(
        &s,
        "HEAD /head HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
    );
    assert_eq!((r.status, r.header("Content-Length")), (200, Some("9")));
    let r = s.get("/missing");
    assert_eq!(
        (r.status, r.text().as_str()),
        (404, "nope"),
        "backend error bodies pass through"
    );
}

#[test]
fn hostile_backends() {
    let s = start("");
    assert_eq!(s.get("/bad-status").status, 502);
    assert_eq!(s.get("/no-status").status, 502);
    assert_eq!(s.get("/huge-head").status, 502);
    // a short body is sent as received, and the connection closed
    let raw = s.raw(b"GET /short HTTP/1.1\r\nHost: h\r\n\r\n");
    let text = String::from_utf8_lossy(&raw);
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(text.contains("Connection: close\r\n"), "{text}");
    assert!(text.ends_with("only ten b"), "{text}");
    let t = Instant::now();
    assert_eq!(s.get("/stall").status, 504);
    assert!(t.elapsed() < Duration::from_secs(8), "read-timeout 1 s");
    assert_eq!(s.get("/echo").status, 200, "still serving");
}

#[test]
fn refused_backend_is_503() {
    let (_held, dead) = dead_port();
    let conf = format!(
        r#"server.modules = ("mod_proxy")
proxy.server = ( "/" => (( "host" => "127.0.0.1", "port" => {dead} )) )"#
    );
    let s = Server::start(&conf, &[]);
    assert_eq!(s.get("/x").status, 503);
}

#[test]
fn urlpath_and_location_remapping() {
    let s = start(r#"proxy.header = ( "map-urlpath" => ( "/app/" => "/" ) )"#);
    let r = s.get("/app/echo");
    assert!(
        r.text().starts_with("GET /echo HTTP/1.1\r\n"),
        "{}",
        r.text()
    );
    let r = s.get("/app/redirect");
    assert_eq!(
        (r.status, r.header("Location")),
        (302, Some("/app/new/place"))
    );
}

#[test]
fn round_robin_and_failover() {
    let a = serve(backend("A"));
    let b = serve(backend("B"));
    let (_held, dead) = dead_port();
    let conf = format!(
        r#"server.modules = ("mod_proxy")
proxy.balance = "round-robin"
proxy.server = ( "" => ( ( "host" => "127.0.0.1", "port" => {a} ), ( "host" => "127.0.0.1", "port" => {dead} ), ( "host" => "127.0.0.1", "port" => {b} ) ) )
proxy.replace-http-host = "enable""#
    );
    let s = Server::start(&conf, &[]);
    let seen: Vec<String> = (0..6)
        .map(|_| {
            let r = s.get("/echo");
            assert_eq!(r.status, 200, "a dead backend is retried elsewhere");
            r.header("X-Backend").unwrap_or("").to_string()
        })
        .collect();
    assert!(
        seen.contains(&"A".to_string()) && seen.contains(&"B".to_string()),
        "{seen:?}"
    );
}

fn open_fds(pid: i32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

#[test]
fn large_bodies_both_ways_and_no_fd_leaks() {
    let s = start("");
    let body = vec![b'b'; 2 << 20];
    let mut req = format!(
        "POST /echo HTTP/1.1\r\nHost: h\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(&body);
    let r = request(&s, &String::from_utf8_lossy(&req));
    assert_eq!(r.status, 200);
    assert!(
        r.body.ends_with(&body[..1000]) && r.body.len() > body.len(),
        "{}",
        r.body.len()
    );
    let before = open_fds(s.pid());
    for _ in 0..5 {
        for path in [
            "/bad-status",
            "/short",
            "/huge-head",
            "/echo",
            "/eof",
            "/chunked",
        ] {
            s.get(path);
        }
    }
    let after = open_fds(s.pid());
    assert!(after <= before + 1, "fds before {before}, after {after}");
}

#[test]
fn backend_not_reading_the_body_hits_write_timeout() {
    let sink = serve(|mut s: TcpStream| {
        let mut first = [0u8; 16];
        let _ = std::io::Read::read(&mut s, &mut first);
        std::thread::sleep(HOLD);
    });
    let conf = format!(
        r#"server.modules = ("mod_proxy")
proxy.server = ( "" => (( "host" => "127.0.0.1", "port" => {sink}, "write-timeout" => 1 )) )"#
    );
    let s = Server::start(&conf, &[]);
    let body = vec![b'w'; 16 << 20];
    let mut c = s.connect();
    let head = format!(
        "POST /up HTTP/1.1\r\nHost: h\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    c.write_all(head.as_bytes()).expect("head");
    c.write_all(&body).expect("body");
    let t = Instant::now();
    let r = common::parse(&common::read_to_close(&mut c))
        .pop()
        .expect("response");
    assert_eq!(r.status, 504);
    assert!(t.elapsed() < Duration::from_secs(8), "write-timeout 1 s");
}
