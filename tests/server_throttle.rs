//! `connection.kbytes-per-second` and `server.kbytes-per-second`: a limited
//! download takes at least the seconds its size needs, other requests are
//! served meanwhile (the loop never waits on a parked connection), and the
//! limits follow conditions.
//!
//! Bounds are generous for a loaded machine: an unlimited response must
//! take less than 1.5 s where the limit would need at least 1.9 s, a
//! limited one at least 1.9 s and at most 20 s.

mod common;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use common::{parse, Server};

const KIB: usize = 1024;
/// An unlimited response takes less (the limits here need 1.9 s at least).
const UNLIMITED: Duration = Duration::from_millis(1500);
/// A limited response takes less.
const TOO_SLOW: Duration = Duration::from_secs(20);

fn file(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 253) as u8).collect()
}

/// GET `path` with Connection: close on its own connection; the body and
/// how long it took.
fn timed_get(s: &Server, path: &str) -> (Vec<u8>, Duration) {
    let t = Instant::now();
    let req = format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    let out = s.raw(req.as_bytes());
    let body = parse(&out).pop().map(|r| r.body).unwrap_or_default();
    (body, t.elapsed())
}

#[test]
fn connection_limit_spreads_a_download_over_seconds_without_blocking_others() {
    let big = file(40 * KIB);
    let s = Server::start(
        "$HTTP[\"url\"] =~ \"^/slow/\" { connection.kbytes-per-second = 16 }",
        &[
            ("slow/big.bin", &big),
            ("fast/big.bin", &big),
            ("a.txt", b"a\n"),
        ],
    );
    std::thread::scope(|sc| {
        let slow = sc.spawn(|| timed_get(&s, "/slow/big.bin"));
        std::thread::sleep(Duration::from_millis(200));
        // meanwhile: answered at once, limits only apply under /slow/
        let (body, took) = timed_get(&s, "/a.txt");
        assert_eq!(
            (body.as_slice(), took < UNLIMITED),
            (&b"a\n"[..], true),
            "{took:?}"
        );
        let (body, took) = timed_get(&s, "/fast/big.bin");
        assert!(body == big && took < UNLIMITED, "{took:?}");
        let (body, took) = slow.join().expect("slow download");
        assert!(body == big, "complete and intact");
        // 16 KiB at once, then 16 KiB per tick once the average allows:
        // the third part leaves two ticks after the first one.
        assert!(took >= Duration::from_millis(1900), "too fast: {took:?}");
        assert!(took < TOO_SLOW, "too slow: {took:?}");
    });
}

#[test]
fn server_limit_is_shared_by_the_connections_of_its_scope() {
    let part = file(24 * KIB);
    let s = Server::start(
        "$HTTP[\"url\"] =~ \"^/slow/\" { server.kbytes-per-second = 16 }",
        &[
            ("slow/a.bin", &part),
            ("slow/b.bin", &part),
            ("fast/c.bin", &part),
        ],
    );
    std::thread::scope(|sc| {
        let a = sc.spawn(|| timed_get(&s, "/slow/a.bin"));
        let b = sc.spawn(|| timed_get(&s, "/slow/b.bin"));
        std::thread::sleep(Duration::from_millis(100));
        let (body, took) = timed_get(&s, "/fast/c.bin");
        assert!(body == part && took < UNLIMITED, "{took:?}");
        let (a, b) = (a.join().expect("a"), b.join().expect("b"));
        assert!(a.0 == part && b.0 == part);
        // 48 KiB and the heads through 16 KiB a second: three ticks at least
        let slowest = a.1.max(b.1);
        assert!(
            slowest >= Duration::from_millis(1900),
            "too fast: {slowest:?}"
        );
        assert!(slowest < TOO_SLOW, "too slow: {slowest:?}");
    });
}

#[test]
fn a_backend_lowers_the_limit_with_x_lighttpd_kbytes_per_second() {
    let script = b"#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\nX-LIGHTTPD-KBytes-per-second: 16\\r\\n\\r\\n'\nhead -c 40960 /dev/zero\n";
    let s = Server::start(
        "server.modules += (\"mod_cgi\")\ncgi.assign = (\".sh\" => \"/bin/sh\")",
        &[("lim.sh", script)],
    );
    let t = Instant::now();
    let out = s.raw(b"GET /lim.sh HTTP/1.0\r\n\r\n");
    let took = t.elapsed();
    let r = parse(&out).pop().expect("response");
    assert_eq!(r.body.len(), 40960);
    assert_eq!(r.header("X-LIGHTTPD-KBytes-per-second"), None, "never sent");
    assert!(took >= Duration::from_millis(1900), "too fast: {took:?}");
    assert!(took < TOO_SLOW, "too slow: {took:?}");
}

#[test]
fn graceful_shutdown_lifts_the_limits() {
    let big = file(200 * KIB);
    let mut s = Server::start("connection.kbytes-per-second = 4", &[("big.bin", &big)]);
    let mut c = s.connect();
    c.write_all(b"GET /big.bin HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .expect("send");
    // the download is under way (its head and first bytes are here) before
    // the stop signal, which then must not cut it
    let mut got = vec![0u8; 4096];
    let n = c.read(&mut got).expect("first part");
    got.truncate(n);
    let t = Instant::now();
    common::signal(s.pid(), libc::SIGINT);
    // 200 KiB at 4 KiB/s would take 50 s: the rest goes out at once
    got.extend(common::read_to_close(&mut c));
    let took = t.elapsed();
    let body = parse(&got).pop().map(|r| r.body).unwrap_or_default();
    assert!(body == big, "complete after the stop signal");
    assert!(took < Duration::from_secs(15), "{took:?}");
    assert_eq!(common::wait_exit(&mut s.child), Some(0));
}
