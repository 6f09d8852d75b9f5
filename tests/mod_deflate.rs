//! mod_deflate against the real binary.

mod common;

use common::Server;
use std::io::Read;

fn req(s: &Server, path: &str, headers: &str) -> common::Response {
    let raw = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{headers}\r\n");
    common::parse(&s.raw(raw.as_bytes()))
        .pop()
        .expect("response")
}

#[test]
fn gzip_negotiation_vary_and_etag() {
    let text = "lorem ipsum dolor sit amet ".repeat(100);
    let files: Vec<(&str, &[u8])> = vec![
        ("big.txt", text.as_bytes()),
        ("small.txt", b"tiny"),
        ("img.bin", text.as_bytes()),
    ];
    let s = Server::start(
        "server.modules = (\"mod_deflate\")\ndeflate.mimetypes = (\"text/\")\ndeflate.allowed-encodings = (\"gzip\", \"deflate\")",
        &files,
    );
    let r = req(&s, "/big.txt", "Accept-Encoding: deflate, gzip\r\n");
    assert_eq!(r.header("Content-Encoding"), Some("gzip"));
    assert_eq!(r.header("Vary"), Some("Accept-Encoding"));
    let etag = r.header("ETag").expect("etag").to_string();
    assert!(etag.ends_with("-gzip\""), "{etag}");
    assert_eq!(
        r.header("Content-Length"),
        Some(r.body.len().to_string().as_str())
    );
    let mut plain = String::new();
    flate2::read::GzDecoder::new(&r.body[..])
        .read_to_string(&mut plain)
        .expect("gunzip");
    assert_eq!(plain, text);
    let r = req(
        &s,
        "/big.txt",
        &format!("Accept-Encoding: gzip\r\nIf-None-Match: {etag}\r\n"),
    );
    assert_eq!(r.status, 304);
    assert_eq!(
        req(&s, "/big.txt", "Accept-Encoding: deflate\r\n").header("Content-Encoding"),
        Some("deflate")
    );
    assert_eq!(
        req(&s, "/big.txt", "Accept-Encoding: GZIP\r\n").header("Content-Encoding"),
        None
    );
    assert_eq!(req(&s, "/big.txt", "").header("Content-Encoding"), None);
    assert_eq!(
        req(&s, "/small.txt", "Accept-Encoding: gzip\r\n").header("Content-Encoding"),
        None
    );
    assert_eq!(
        req(&s, "/img.bin", "Accept-Encoding: gzip\r\n").header("Content-Encoding"),
        None
    );
    let head = s.raw(b"HEAD /big.txt HTTP/1.0\r\nAccept-Encoding: gzip\r\n\r\n");
    assert!(!String::from_utf8_lossy(&head).contains("Content-Encoding"));
}

#[test]
fn nothing_without_allowed_encodings() {
    let text = "x".repeat(5000);
    let s = Server::start(
        "server.modules = (\"mod_deflate\")\ndeflate.mimetypes = (\"text/\")",
        &[("a.txt", text.as_bytes())],
    );
    assert_eq!(
        req(&s, "/a.txt", "Accept-Encoding: gzip\r\n").header("Content-Encoding"),
        None
    );
}
