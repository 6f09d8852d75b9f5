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

fn text() -> String {
    "lorem ipsum dolor sit amet, consectetur adipiscing elit ".repeat(80)
}

#[cfg(feature = "zstd")]
fn unzstd(data: &[u8]) -> Vec<u8> {
    zstd::stream::decode_all(data).expect("unzstd")
}

#[cfg(not(feature = "zstd"))]
fn unzstd(_: &[u8]) -> Vec<u8> {
    unreachable!("built without zstd")
}

#[cfg(feature = "brotli")]
fn unbrotli(data: &[u8]) -> Vec<u8> {
    let mut plain = Vec::new();
    brotli::Decompressor::new(data, 4096)
        .read_to_end(&mut plain)
        .expect("unbrotli");
    plain
}

#[cfg(not(feature = "brotli"))]
fn unbrotli(_: &[u8]) -> Vec<u8> {
    unreachable!("built without brotli")
}

#[test]
fn brotli_and_zstd_when_the_client_takes_them() {
    let text = text();
    let s = Server::start(
        "server.modules = (\"mod_deflate\")\ndeflate.mimetypes = (\"text/\")\n\
         deflate.allowed-encodings = ()",
        &[("big.txt", text.as_bytes())],
    );
    let all = "Accept-Encoding: gzip, deflate, br, zstd\r\n";
    let r = req(&s, "/big.txt", all);
    if cfg!(feature = "zstd") {
        assert_eq!(
            r.header("Content-Encoding"),
            Some("zstd"),
            "() prefers zstd"
        );
        assert!(r.header("ETag").is_some_and(|e| e.ends_with("-zstd\"")));
        assert_eq!(unzstd(&r.body), text.as_bytes());
    }
    let r = req(&s, "/big.txt", "Accept-Encoding: gzip, br\r\n");
    if cfg!(feature = "brotli") {
        assert_eq!(r.header("Content-Encoding"), Some("br"));
        assert_eq!(r.header("Vary"), Some("Accept-Encoding"));
        assert_eq!(
            r.header("Content-Length"),
            Some(r.body.len().to_string().as_str())
        );
        assert_eq!(unbrotli(&r.body), text.as_bytes());
        let etag = r.header("ETag").expect("etag").to_string();
        assert!(etag.ends_with("-br\""), "{etag}");
        let r = req(
            &s,
            "/big.txt",
            &format!("Accept-Encoding: br\r\nIf-None-Match: {etag}\r\n"),
        );
        assert_eq!(r.status, 304);
    }
    // config order beats the client's: gzip listed first wins
    let s = Server::start(
        "server.modules = (\"mod_deflate\")\ndeflate.mimetypes = (\"text/\")\n\
         deflate.allowed-encodings = (\"gzip\", \"br\", \"zstd\")",
        &[("big.txt", text.as_bytes())],
    );
    assert_eq!(
        req(&s, "/big.txt", all).header("Content-Encoding"),
        Some("gzip")
    );
    let r = req(&s, "/big.txt", "Accept-Encoding: zstd\r\n");
    let want = cfg!(feature = "zstd").then_some("zstd");
    assert_eq!(r.header("Content-Encoding"), want);
}

#[test]
fn cache_dir_keeps_compressed_copies_named_by_etag() {
    let text = text();
    let s = Server::start(
        "server.modules = (\"mod_deflate\")\ndeflate.mimetypes = (\"text/\")\n\
         deflate.allowed-encodings = (\"gzip\")\ndeflate.cache-dir = \"@DIR@/cache/\"",
        &[("sub/big.txt", text.as_bytes())],
    );
    let cache = s.dir.join("cache");
    assert!(cache.is_dir(), "cache-dir created at startup");
    let r = req(&s, "/sub/big.txt", "Accept-Encoding: gzip\r\n");
    assert_eq!(r.header("Content-Encoding"), Some("gzip"));
    let etag = r.header("ETag").expect("etag");
    let inner = &etag[1..etag.len() - 1];
    let copy = cache.join(format!(
        "{}/sub/big.txt-{inner}",
        s.docroot.display().to_string().trim_start_matches('/')
    ));
    let stored = std::fs::read(&copy).expect("cached copy");
    assert_eq!(stored, r.body, "the copy is what was sent");
    // a second request is served from the copy: replace it to prove it
    let mut fake = Vec::new();
    {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(&mut fake, flate2::Compression::fast());
        gz.write_all(b"from the cache").expect("gzip");
        gz.finish().expect("gzip");
    }
    std::fs::write(&copy, &fake).expect("replace copy");
    let r = req(&s, "/sub/big.txt", "Accept-Encoding: gzip\r\n");
    assert_eq!(r.body, fake);
    assert_eq!(
        r.header("Content-Length"),
        Some(fake.len().to_string().as_str())
    );
    // a changed file has a new ETag, so a new copy (polled: the server's
    // stat cache may keep the old one for a tick)
    std::fs::write(s.docroot.join("sub/big.txt"), text.repeat(2)).expect("rewrite");
    let mut plain = String::new();
    let fresh = common::wait_for(std::time::Duration::from_secs(20), || {
        let r = req(&s, "/sub/big.txt", "Accept-Encoding: gzip\r\n");
        plain.clear();
        flate2::read::GzDecoder::new(&r.body[..])
            .read_to_string(&mut plain)
            .is_ok()
            && plain == text.repeat(2)
    });
    assert!(fresh, "{plain}");
}

#[test]
fn version_lists_the_encoders() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_lighttpd"))
        .arg("-V")
        .output()
        .expect("run -V");
    let text = String::from_utf8_lossy(&out.stdout);
    let sign = |on: bool| if on { '+' } else { '-' };
    assert!(text.contains("\t+ zlib support\n"), "{text}");
    assert!(text.contains(&format!(
        "\t{} zstd support\n",
        sign(cfg!(feature = "zstd"))
    )));
    assert!(text.contains(&format!(
        "\t{} brotli support\n",
        sign(cfg!(feature = "brotli"))
    )));
}
