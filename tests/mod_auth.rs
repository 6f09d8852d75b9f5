//! mod_auth + mod_authn_file against the real binary.

mod common;

use common::Server;

fn server() -> Server {
    Server::start(
        r#"server.modules = ("mod_auth", "mod_authn_file")
auth.backend = "htpasswd"
auth.backend.htpasswd.userfile = "@DIR@/htpasswd"
auth.require = ("/secret" => ("method" => "basic", "realm" => "R", "require" => "user=bob"))
$HTTP["url"] =^ "/dig" {
  auth.backend = "plain"
  auth.backend.plain.userfile = "@DIR@/plain"
  auth.require = ("/dig" => ("method" => "digest", "realm" => "D", "require" => "valid-user"))
}"#,
        &[
            ("secret.txt", b"s\n"),
            ("dig.txt", b"d\n"),
            (
                "../htpasswd",
                b"bob:$apr1$dtVlxNQL$K7/qYoyFLO/5z1AXnJ1Kk0\n",
            ),
            ("../plain", b"bob:secret\n"),
        ],
    )
}

fn get_auth(s: &Server, path: &str, auth: &str) -> common::Response {
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\nConnection: close\r\n\r\n"
    );
    common::parse(&s.raw(req.as_bytes()))
        .pop()
        .expect("response")
}

#[test]
fn basic_challenge_success_and_failures() {
    let s = server();
    let r = s.get("/secret.txt");
    assert_eq!(r.status, 401);
    assert_eq!(
        r.header("WWW-Authenticate"),
        Some("Basic realm=\"R\", charset=\"UTF-8\"")
    );
    assert_eq!(
        get_auth(&s, "/secret.txt", "Basic Ym9iOnNlY3JldA==").text(),
        "s\n"
    );
    assert_eq!(
        get_auth(&s, "/secret.txt", "Basic Ym9iOndyb25n").status,
        401
    );
    assert_eq!(get_auth(&s, "/secret.txt", "Basic ****").status, 400);
    assert_eq!(get_auth(&s, "/secret.txt", "Basic Ym9i").status, 400);
    assert_eq!(s.get("/dig.txt").status, 401);
}

#[test]
fn digest_challenge_and_bad_credentials() {
    let s = server();
    let r = s.get("/dig.txt");
    let ch = r.header("WWW-Authenticate").expect("challenge");
    assert!(
        ch.starts_with("Digest realm=\"D\", charset=\"UTF-8\", algorithm=MD5, nonce=\""),
        "{ch}"
    );
    // A forged/garbage Authorization never crashes the server.
    for junk in [
        "Digest",
        "Digest username=\"bob\"",
        "Digest realm=\"D\", nonce=\"zz\", uri=\"/dig.txt\", response=\"00\", username=\"bob\"",
        "Digest \"\"\"\"=,,,",
    ] {
        let st = get_auth(&s, "/dig.txt", junk).status;
        assert!(st == 400 || st == 401, "{junk}: {st}");
    }
    assert_eq!(s.get("/dig.txt").status, 401, "server still alive");
}

use std::io::Write;
use std::time::{Duration, Instant};

fn plain_server(extra: &str) -> Server {
    Server::start(
        &format!(
            r#"server.modules = ("mod_auth", "mod_authn_file")
auth.backend = "plain"
auth.backend.plain.userfile = "@DIR@/users"
auth.require = ("/" => ("method" => "basic", "realm" => "R", "require" => "valid-user"))
{extra}"#
        ),
        &[("a.txt", b"a\n"), ("../users", b"alice:secret\n")],
    )
}

/// base64 of `alice:secret`, `alice:wrong`, `alice:new`.
const SECRET: &str = "Basic YWxpY2U6c2VjcmV0";
const WRONG: &str = "Basic YWxpY2U6d3Jvbmc=";
const NEW: &str = "Basic YWxpY2U6bmV3";

#[test]
fn invalid_credentials_are_answered_at_the_next_tick() {
    let s = plain_server("");
    // Each 401 for wrong credentials waits for the next 1 s tick: three
    // in a row span at least two ticks.
    let t = Instant::now();
    for _ in 0..3 {
        let r = get_auth(&s, "/a.txt", WRONG);
        assert_eq!((r.status, r.header("Connection")), (401, Some("close")));
    }
    assert!(
        t.elapsed() >= Duration::from_millis(1800),
        "{:?}",
        t.elapsed()
    );
    // A challenge (no credentials) and a success are not delayed: five of
    // either kind, if delayed, would span four ticks (4 s at least).
    let t = Instant::now();
    for _ in 0..5 {
        assert_eq!(s.get("/a.txt").status, 401);
        assert_eq!(get_auth(&s, "/a.txt", SECRET).status, 200);
    }
    assert!(
        t.elapsed() < Duration::from_millis(3500),
        "{:?}",
        t.elapsed()
    );
    // The parked connection does not block others: right after a tick,
    // a bad request waits ~1 s while a good one is answered at once.
    get_auth(&s, "/a.txt", WRONG);
    let mut parked = s.connect();
    let req = format!("GET /a.txt HTTP/1.1\r\nHost: x\r\nAuthorization: {WRONG}\r\n\r\n");
    parked.write_all(req.as_bytes()).expect("send");
    let t = Instant::now();
    assert_eq!(get_auth(&s, "/a.txt", SECRET).status, 200);
    let quick = t.elapsed();
    let late = common::read_to_close(&mut parked);
    let slow = t.elapsed();
    assert_eq!(common::parse(&late).pop().map(|r| r.status), Some(401));
    // (the good one has up to a tick, 1 s, to beat the parked one)
    assert!(quick < Duration::from_millis(900), "{quick:?}");
    assert!(slow > quick, "{quick:?} {slow:?}");
}

#[test]
fn delay_invalid_creds_can_be_disabled() {
    let s = plain_server(r#"server.feature-flags = ("auth.delay-invalid-creds" => "disable")"#);
    // six delayed answers would span five ticks (5 s at least)
    let t = Instant::now();
    for _ in 0..6 {
        assert_eq!(get_auth(&s, "/a.txt", WRONG).status, 401);
    }
    assert!(
        t.elapsed() < Duration::from_millis(3500),
        "{:?}",
        t.elapsed()
    );
}

#[test]
fn auth_cache_keeps_credentials_for_max_age() {
    let s = plain_server(r#"auth.cache = ("max-age" => "2")"#);
    let users = s.dir.join("users");
    assert_eq!(get_auth(&s, "/a.txt", SECRET).status, 200);
    std::fs::write(&users, "alice:new\n").expect("rewrite users");
    assert_eq!(get_auth(&s, "/a.txt", SECRET).status, 200, "cached");
    assert_eq!(get_auth(&s, "/a.txt", NEW).status, 401, "cache decides");
    // expires after 2 s (polled: the cache is swept at the server's tick)
    assert!(
        common::wait_for(Duration::from_secs(20), || get_auth(&s, "/a.txt", SECRET)
            .status
            == 401),
        "expired"
    );
    assert_eq!(get_auth(&s, "/a.txt", NEW).status, 200);
    // Without auth.cache the file is read every time.
    let s = plain_server("");
    assert_eq!(get_auth(&s, "/a.txt", SECRET).status, 200);
    std::fs::write(s.dir.join("users"), "alice:new\n").expect("rewrite users");
    assert_eq!(get_auth(&s, "/a.txt", NEW).status, 200);
}

#[test]
fn failures_are_logged_as_lighttpd_for_fail2ban() {
    let s = plain_server(
        r#"server.errorlog = "@DIR@/error.log"
server.feature-flags = ("auth.delay-invalid-creds" => "disable")"#,
    );
    assert_eq!(get_auth(&s, "/a.txt?x", WRONG).status, 401);
    let log = s.dir.join("error.log");
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut text = String::new();
    while Instant::now() < deadline && !text.contains("doesn't match") {
        text = std::fs::read_to_string(&log).unwrap_or_default();
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        text.contains(") password doesn't match for /a.txt username: alice IP: 127.0.0.1\n"),
        "{text}"
    );
}
