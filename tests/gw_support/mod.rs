//! Tiny backends for the gateway tests: a thread on 127.0.0.1 that accepts
//! connections and answers each with a closure (FastCGI, SCGI or HTTP
//! speaking), plus the wire helpers those closures need.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

/// A backend listening on 127.0.0.1:`port`, one thread per connection.
pub fn serve<F>(handler: F) -> u16
where
    F: Fn(TcpStream) + Send + Sync + 'static + Clone,
{
    let l = TcpListener::bind("127.0.0.1:0").expect("bind backend");
    let port = l.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(conn) = conn else { continue };
            let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
            let h = handler.clone();
            std::thread::spawn(move || h(conn));
        }
    });
    port
}

/// A port nothing listens on, held by the returned socket: bound (no other
/// listener can take it meanwhile) but not listening (connects are refused).
pub fn dead_port() -> (std::os::fd::OwnedFd, u16) {
    use nix::sys::socket::{
        bind, getsockname, socket, AddressFamily, SockFlag, SockType, SockaddrIn,
    };
    use std::os::fd::AsRawFd;
    let fd = socket(
        AddressFamily::Inet,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .expect("socket");
    bind(fd.as_raw_fd(), &SockaddrIn::new(127, 0, 0, 1, 0)).expect("bind");
    let addr: SockaddrIn = getsockname(fd.as_raw_fd()).expect("getsockname");
    (fd, addr.port())
}

fn read_exact(s: &mut TcpStream, n: usize) -> Option<Vec<u8>> {
    let mut v = vec![0; n];
    s.read_exact(&mut v).ok()?;
    Some(v)
}

/// A FastCGI request as the backend sees it.
#[derive(Debug, Default)]
pub struct FcgiRequest {
    pub role: u8,
    pub params: HashMap<String, String>,
    pub stdin: Vec<u8>,
}

/// Read BEGIN_REQUEST, PARAMS and STDIN up to the empty STDIN record.
pub fn fcgi_read(s: &mut TcpStream) -> Option<FcgiRequest> {
    let mut req = FcgiRequest::default();
    let mut params = Vec::new();
    loop {
        let h = read_exact(s, 8)?;
        let len = usize::from(u16::from_be_bytes([h[4], h[5]]));
        let body = read_exact(s, len + usize::from(h[6]))?;
        let content = &body[..len];
        match h[1] {
            1 => req.role = content[1],
            4 => params.extend_from_slice(content),
            5 if len == 0 => break,
            5 => req.stdin.extend_from_slice(content),
            _ => {}
        }
        if req.role == 2 && h[1] == 4 && len == 0 {
            break; // authorizers get no STDIN
        }
    }
    let mut p = &params[..];
    while !p.is_empty() {
        let (klen, rest) = fcgi_len(p)?;
        let (vlen, rest) = fcgi_len(rest)?;
        let k = String::from_utf8_lossy(rest.get(..klen)?).into_owned();
        let v = String::from_utf8_lossy(rest.get(klen..klen + vlen)?).into_owned();
        req.params.insert(k, v);
        p = &rest[klen + vlen..];
    }
    Some(req)
}

fn fcgi_len(p: &[u8]) -> Option<(usize, &[u8])> {
    if *p.first()? & 0x80 == 0 {
        Some((usize::from(p[0]), &p[1..]))
    } else {
        let b = p.get(..4)?;
        Some((
            (u32::from_be_bytes([b[0] & 0x7f, b[1], b[2], b[3]])) as usize,
            &p[4..],
        ))
    }
}

/// One FastCGI record.
pub fn fcgi_record(kind: u8, content: &[u8]) -> Vec<u8> {
    let mut v = vec![1, kind, 0, 1];
    v.extend_from_slice(&(content.len() as u16).to_be_bytes());
    v.extend_from_slice(&[0, 0]);
    v.extend_from_slice(content);
    v
}

/// STDOUT records with `out`, then END_REQUEST.
pub fn fcgi_reply(s: &mut TcpStream, out: &[u8]) {
    let mut v = Vec::new();
    for part in out.chunks(1000) {
        v.extend(fcgi_record(6, part));
    }
    v.extend(fcgi_record(6, b""));
    v.extend(fcgi_record(3, &[0; 8]));
    let _ = s.write_all(&v);
}

/// Environment pairs in the order received.
pub type Env = Vec<(String, String)>;

/// An SCGI request: the environment and the body.
pub fn scgi_read(s: &mut TcpStream) -> Option<(Env, Vec<u8>)> {
    let mut len = 0usize;
    loop {
        let b = read_exact(s, 1)?[0];
        if b == b':' {
            break;
        }
        len = len * 10 + usize::from(b.checked_sub(b'0')?);
    }
    let data = read_exact(s, len + 1)?;
    let mut fields = data[..len].split(|&c| c == 0);
    let mut env = Vec::new();
    while let (Some(k), Some(v)) = (fields.next(), fields.next()) {
        if k.is_empty() {
            break;
        }
        env.push((
            String::from_utf8_lossy(k).into_owned(),
            String::from_utf8_lossy(v).into_owned(),
        ));
    }
    let cl: usize = env
        .iter()
        .find(|(k, _)| k == "CONTENT_LENGTH")?
        .1
        .parse()
        .ok()?;
    let body = read_exact(s, cl)?;
    Some((env, body))
}

/// An HTTP request head (until the blank line) and its Content-Length body.
pub fn http_read(s: &mut TcpStream) -> Option<(String, Vec<u8>)> {
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        head.extend(read_exact(s, 1)?);
        if head.len() > 65536 {
            return None;
        }
    }
    let text = String::from_utf8_lossy(&head).into_owned();
    let cl = text
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let body = read_exact(s, cl)?;
    Some((text, body))
}

/// The query string parameter `name` of a target.
pub fn query_of(target: &str) -> &str {
    target.split_once('?').map_or("", |(_, q)| q)
}
