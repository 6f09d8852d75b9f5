//! Connection behaviour against the real binary: keep-alive, pipelining,
//! half-closed clients, HTTP/1.0, limits (413, 431) and idle timeouts.

mod common;

use std::io::Write;
use std::net::Shutdown;
use std::time::{Duration, Instant};

use common::{parse, read_response, read_to_close, Server};

fn files() -> Vec<(&'static str, &'static [u8])> {
    vec![("a.txt", b"aaa\n"), ("b.txt", b"bb\n")]
}

#[test]
fn keep_alive_serves_several_requests_on_one_connection() {
    let s = Server::start("", &files());
    let mut c = s.connect();
    for (path, body) in [("/a.txt", "aaa\n"), ("/b.txt", "bb\n"), ("/a.txt", "aaa\n")] {
        write!(c, "GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").expect("send");
        let r = read_response(&mut c, false).expect("response");
        assert_eq!(r.status, 200);
        assert_eq!(r.text(), body);
        assert_eq!(r.header("Connection"), None);
    }
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let s = Server::start("", &files());
    let raw = s.raw(
        b"GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\nHEAD /b.txt HTTP/1.1\r\nHost: t\r\n\r\n\r\nGET /b.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    let text = String::from_utf8_lossy(&raw);
    assert_eq!(text.matches("HTTP/1.1 200 OK").count(), 3, "{text}");
    let first = text.find("aaa\n").expect("first body");
    let last = text.rfind("bb\n").expect("last body");
    assert!(first < last);
    assert!(text.ends_with("bb\n"));
}

/// More pipelined requests than one round of the state machine takes:
/// the rest are answered in the next rounds without waiting for another
/// readiness event (none comes for bytes already read).
#[test]
fn a_long_pipeline_is_answered_whole() {
    let s = Server::start("", &files());
    let mut c = s.connect();
    c.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let burst = "GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n".repeat(100);
    c.write_all(burst.as_bytes()).expect("send");
    for i in 0..100 {
        let r = read_response(&mut c, false).unwrap_or_else(|| panic!("response {i}"));
        assert_eq!(
            (r.status, r.text().as_str()),
            (200, "aaa\n"),
            "response {i}"
        );
    }
}

/// A client that waits for each answer turns off the server's reads right
/// after responses (they never find the next request: crate::read_ahead);
/// requests after that, whole, pipelined or in pieces, still get answers.
#[test]
fn requests_after_reads_ahead_stop_paying_off_are_answered() {
    let s = Server::start("", &files());
    let mut c = s.connect();
    c.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let one = "GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n";
    for i in 0..300 {
        c.write_all(one.as_bytes()).expect("send");
        let r = read_response(&mut c, false).unwrap_or_else(|| panic!("response {i}"));
        assert_eq!(r.status, 200, "response {i}");
    }
    c.write_all(one.repeat(2).as_bytes()).expect("send pair");
    for i in 0..2 {
        let r = read_response(&mut c, false).unwrap_or_else(|| panic!("pipelined {i}"));
        assert_eq!(r.text(), "aaa\n");
    }
    let (head, tail) = one.split_at(10);
    c.write_all(head.as_bytes()).expect("send head");
    std::thread::sleep(Duration::from_millis(50));
    c.write_all(tail.as_bytes()).expect("send tail");
    let r = read_response(&mut c, false).expect("split request answered");
    assert_eq!(r.text(), "aaa\n");
}

#[test]
fn half_closed_client_still_gets_its_answer() {
    let s = Server::start("", &files());
    let mut c = s.connect();
    c.write_all(b"GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n")
        .expect("send");
    c.shutdown(Shutdown::Write).expect("shutdown");
    let r = parse(&read_to_close(&mut c));
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].text(), "aaa\n");
}

#[test]
fn http10_keep_alive_is_echoed_and_default_closes() {
    let s = Server::start("", &files());
    let mut c = s.connect();
    c.write_all(b"GET /a.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        .expect("send");
    let r = read_response(&mut c, false).expect("response");
    assert_eq!(r.status_line, "HTTP/1.0 200 OK");
    assert_eq!(r.header("Connection"), Some("keep-alive"));
    c.write_all(b"GET /b.txt HTTP/1.0\r\n\r\n").expect("send");
    let rest = parse(&read_to_close(&mut c));
    assert_eq!(rest[0].header("Connection"), Some("close"));
    assert_eq!(rest[0].text(), "bb\n");
}

#[test]
fn max_keep_alive_requests_closes_after_the_limit() {
    let s = Server::start("server.max-keep-alive-requests = 2", &files());
    let mut c = s.connect();
    c.write_all(b"GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n")
        .expect("send");
    assert_eq!(
        read_response(&mut c, false)
            .expect("1")
            .header("Connection"),
        None
    );
    c.write_all(b"GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n")
        .expect("send");
    assert_eq!(
        read_response(&mut c, false)
            .expect("2")
            .header("Connection"),
        None
    );
    c.write_all(b"GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n")
        .expect("send");
    let r = parse(&read_to_close(&mut c));
    assert_eq!(r[0].header("Connection"), Some("close"));
}

#[test]
fn idle_keep_alive_connection_is_closed() {
    let s = Server::start("server.max-keep-alive-idle = 1", &files());
    let mut c = s.connect();
    c.write_all(b"GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n")
        .expect("send");
    read_response(&mut c, false).expect("response");
    let t = Instant::now();
    let rest = read_to_close(&mut c);
    assert!(rest.is_empty());
    let waited = t.elapsed();
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(9),
        "{waited:?}"
    );
}

/// Open sockets of a process (its listeners and connections).
fn sockets_of(pid: i32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| {
            d.flatten()
                .filter(|e| {
                    std::fs::read_link(e.path())
                        .is_ok_and(|t| t.to_string_lossy().starts_with("socket:"))
                })
                .count()
        })
        .unwrap_or(0)
}

/// A client that got its `Connection: close` answer but keeps its side
/// open: the server reads and drops what comes for lighttpd's 5 s, then
/// closes its socket.
fn open_a_lingering_close(s: &Server) -> (std::net::TcpStream, usize) {
    let before = sockets_of(s.pid());
    let mut c = s.connect();
    c.write_all(b"GET /a.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .expect("send");
    read_response(&mut c, false).expect("response");
    assert!(
        common::wait_for(Duration::from_secs(2), || sockets_of(s.pid()) > before),
        "connection not seen"
    );
    (c, before)
}

#[test]
fn a_lingering_close_lasts_five_seconds() {
    let s = Server::start("", &files());
    let (mut c, before) = open_a_lingering_close(&s);
    let t = Instant::now();
    std::thread::sleep(Duration::from_secs(3));
    c.write_all(b"late bytes").expect("still read and dropped");
    assert!(
        common::wait_for(Duration::from_secs(10), || sockets_of(s.pid()) == before),
        "never closed"
    );
    let waited = t.elapsed();
    assert!(
        waited >= Duration::from_secs(4) && waited < Duration::from_secs(9),
        "{waited:?}"
    );
}

#[test]
fn a_lingering_close_does_not_hold_up_a_graceful_shutdown() {
    let mut s = Server::start("", &files());
    let (_c, _) = open_a_lingering_close(&s);
    let t = Instant::now();
    common::signal(s.pid(), libc::SIGINT);
    assert_eq!(common::wait_exit(&mut s.child), Some(0));
    let waited = t.elapsed();
    assert!(waited < Duration::from_millis(1500), "{waited:?}");
}

#[test]
fn slow_head_hits_max_read_idle() {
    let s = Server::start("server.max-read-idle = 1", &files());
    let mut c = s.connect();
    c.write_all(b"GET /a.txt HTTP/1.1\r\n").expect("send");
    let t = Instant::now();
    assert!(read_to_close(&mut c).is_empty());
    // (the read timeout, 10 s, would end it otherwise)
    assert!(t.elapsed() < Duration::from_secs(9), "{:?}", t.elapsed());
}

#[test]
fn limits_give_413_and_431() {
    let s = Server::start("server.max-request-size = 1", &files());
    let big = b"POST /a.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 2048\r\n\r\n";
    let r = parse(&s.raw(big));
    assert_eq!(r[0].status, 413);
    assert_eq!(r[0].header("Connection"), Some("close"));
    let mut req = b"GET /a.txt HTTP/1.1\r\nHost: t\r\nX-Big: ".to_vec();
    req.extend(std::iter::repeat_n(b'y', 9000));
    req.extend_from_slice(b"\r\n\r\n");
    assert_eq!(parse(&s.raw(&req))[0].status, 431);
}

#[test]
fn garbage_gets_400_with_http10_status_line() {
    let s = Server::start("", &files());
    let raw = s.raw(b"\x01\x02garbage\r\n\r\n");
    let text = String::from_utf8_lossy(&raw);
    assert!(text.starts_with("HTTP/1.0 400 Bad Request\r\n"), "{text}");
    assert!(text.contains("Connection: close\r\n"));
}

#[test]
fn many_connections_are_served_concurrently() {
    let s = Server::start("", &files());
    let mut conns: Vec<_> = (0..50).map(|_| s.connect()).collect();
    for c in &mut conns {
        c.write_all(b"GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n")
            .expect("send");
    }
    for c in &mut conns {
        assert_eq!(read_response(c, false).expect("response").text(), "aaa\n");
    }
}

#[test]
fn connection_limit_pauses_accepting_until_a_slot_frees() {
    let s = Server::start("server.max-connections = 2", &files());
    let mut held: Vec<_> = (0..2).map(|_| s.connect()).collect();
    for c in &mut held {
        c.write_all(b"GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n")
            .expect("send");
        read_response(c, false).expect("response");
    }
    let mut waiting = s.connect();
    waiting
        .set_read_timeout(Some(Duration::from_millis(700)))
        .expect("timeout");
    waiting
        .write_all(b"GET /b.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .expect("send");
    assert!(
        read_response(&mut waiting, false).is_none(),
        "third client must wait"
    );
    drop(held.pop());
    waiting
        .set_read_timeout(Some(common::TIMEOUT))
        .expect("timeout");
    assert_eq!(
        read_response(&mut waiting, false).expect("served").text(),
        "bb\n"
    );
}

/// A server with a CGI script that echoes its request body.
fn echo_server() -> Server {
    let s = Server::start(
        "server.modules = (\"mod_cgi\")\ncgi.assign = (\".sh\" => \"\")",
        &files(),
    );
    let p = s.docroot.join("echo.sh");
    std::fs::write(
        &p,
        "#!/bin/sh\nprintf 'Content-Type: text/plain\\nX-Len: %s\\n\\n' \"$CONTENT_LENGTH\"\ncat\n",
    )
    .expect("write");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    s
}

#[test]
fn expect_100_continue_is_sent_before_the_body_is_read() {
    let s = echo_server();
    let mut c = s.connect();
    c.write_all(
        b"POST /echo.sh HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
    )
    .expect("send head");
    let interim = read_response(&mut c, true).expect("interim response");
    assert_eq!(interim.status_line, "HTTP/1.1 100 Continue");
    c.write_all(b"hello").expect("send body");
    let r = read_response(&mut c, false).expect("final response");
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "hello");
    // The body was consumed: the connection stays usable.
    c.write_all(b"GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n")
        .expect("send");
    assert_eq!(read_response(&mut c, false).expect("next").text(), "aaa\n");
}

#[test]
fn chunked_and_large_bodies_reach_the_handler_intact() {
    let s = echo_server();
    let chunked = b"POST /echo.sh HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n4;ext=1\r\ndefg\r\n0\r\nTrailer: x\r\n\r\n";
    let r = parse(&s.raw(chunked)).pop().expect("response");
    assert_eq!(r.header("X-Len"), Some("7"));
    assert_eq!(r.text(), "abcdefg");
    let bad = b"POST /echo.sh HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\nabc\r\n0\r\n\r\n";
    let r = parse(&s.raw(bad)).pop().expect("response");
    assert_eq!(r.status, 400);
    let body: Vec<u8> = (0..300_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    let mut req = format!(
        "POST /echo.sh HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(&body);
    let r = parse(&s.raw(&req)).pop().expect("response");
    assert_eq!(r.body.len(), body.len());
    assert!(r.body == body, "echoed body differs");
}
