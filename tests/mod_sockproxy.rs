//! mod_sockproxy against the real binary: a `$SERVER["socket"]` listener
//! relays raw bytes (not HTTP) to a backend thread and back, with
//! half-close; a listener without `sockproxy.server` still serves HTTP; a
//! refused backend closes the client connection without a byte.

mod common;
mod gw_support;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

use common::Server;
use gw_support::{dead_port, serve};

/// Greets first (a server-speaks-first protocol), then echoes every byte
/// upper-cased until the client's EOF, then says "bye" and closes.
fn shouting_echo(mut s: TcpStream) {
    let _ = s.write_all(b"hello\0\xff\n");
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if s.write_all(&buf[..n].to_ascii_uppercase()).is_err() {
                    return;
                }
            }
        }
    }
    let _ = s.write_all(b"bye");
}

fn start(backend_port: u16) -> (Server, u16) {
    let other = common::free_port();
    let conf = format!(
        r#"server.modules += ("mod_sockproxy", "mod_accesslog")
accesslog.filename = "@DIR@/access.log"
$SERVER["socket"] == "127.0.0.1:{other}" {{
  sockproxy.server = ("" => (("host" => "127.0.0.1", "port" => {backend_port})))
}}"#
    );
    (Server::start(&conf, &[("a.txt", b"plain http\n")]), other)
}

fn connect(port: u16) -> TcpStream {
    let c = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    c.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    c
}

fn read_n(c: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut v = vec![0; n];
    c.read_exact(&mut v).expect("read");
    v
}

#[test]
fn raw_bytes_relayed_both_ways_with_half_close() {
    let (s, port) = start(serve(shouting_echo));
    let mut c = connect(port);
    // the backend speaks first: the tunnel exists before any client byte
    assert_eq!(read_n(&mut c, 8), b"hello\0\xff\n");
    c.write_all(b"GET / not http\r\n\x01\x02").expect("send");
    assert_eq!(read_n(&mut c, 18), b"GET / NOT HTTP\r\n\x01\x02");
    // a bigger payload than any one buffer, in both directions
    let big: Vec<u8> = (0..300_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    let mut w = c.try_clone().expect("clone");
    let sent = big.clone();
    let writer = std::thread::spawn(move || {
        w.write_all(&sent).expect("send big");
        w.shutdown(Shutdown::Write).expect("half-close");
    });
    let out = common::read_to_close(&mut c);
    writer.join().expect("writer");
    let mut want = big.to_ascii_uppercase();
    want.extend_from_slice(b"bye");
    assert_eq!(out.len(), want.len());
    assert!(out == want, "relayed bytes differ");
    // the plain listener still speaks HTTP
    let r = s.get("/a.txt");
    assert_eq!(r.status, 200);
    assert_eq!(r.body, b"plain http\n");
    let log = std::fs::read_to_string(s.dir.join("access.log")).unwrap_or_default();
    assert!(log.contains("GET /a.txt"), "{log}");
}

#[test]
fn refused_backend_closes_without_a_byte() {
    let (_held, dead) = dead_port();
    let (s, port) = start(dead);
    let mut c = connect(port);
    let _ = c.write_all(b"anything\n");
    assert!(common::read_to_close(&mut c).is_empty());
    assert_eq!(s.get("/a.txt").status, 200);
}
