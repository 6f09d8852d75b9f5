//! Static serving against the real binary: headers and their order, index
//! files, 404/403/301, HEAD, conditional requests, ranges, PATH_INFO,
//! symlinks, error pages and handlers.

mod common;

use common::{parse, read_to_close, Server};
use std::io::Write;

const HELLO: &[u8] = b"Hello, world!\n";

fn site() -> Vec<(&'static str, &'static [u8])> {
    vec![
        ("index.html", b"<p>index</p>\n"),
        ("hello.txt", HELLO),
        ("dir/a.txt", b"a\n"),
        ("noext", b"binary"),
        ("big.txt", &[b'x'; 100_000]),
    ]
}

#[test]
fn serves_index_with_lighttpd_header_order() {
    let s = Server::start(r#"index-file.names = ("index.html")"#, &site());
    let r = s.get("/");
    assert_eq!(r.status_line, "HTTP/1.1 200 OK");
    assert_eq!(r.text(), "<p>index</p>\n");
    assert_eq!(
        r.names(),
        [
            "Content-Type",
            "ETag",
            "Last-Modified",
            "Content-Length",
            "Accept-Ranges",
            "Connection",
            "Date",
            "Server"
        ]
    );
    assert_eq!(r.header("Content-Type"), Some("text/html"));
    assert_eq!(r.header("Server"), Some("lighttpd/1.4.69"));
    assert_eq!(r.header("Connection"), Some("close"));
}

#[test]
fn no_index_names_means_403_and_missing_is_404_page() {
    let s = Server::start("", &site());
    assert_eq!(s.get("/").status, 403);
    let r = s.get("/missing");
    assert_eq!(r.status, 404);
    assert_eq!(r.header("Content-Type"), Some("text/html"));
    assert_eq!(r.header("Content-Length"), Some("341"));
    assert!(r.text().contains("<title>404 Not Found</title>"));
}

#[test]
fn directory_without_slash_redirects_with_query() {
    let s = Server::start("", &site());
    let r = s.get("/dir?x=1");
    assert_eq!(r.status, 301);
    assert_eq!(r.header("Location"), Some("/dir/?x=1"));
    assert_eq!(r.header("Content-Length"), Some("0"));
}

#[test]
fn octet_stream_has_no_validators() {
    let s = Server::start("", &site());
    let r = s.get("/noext");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Content-Type"), Some("application/octet-stream"));
    assert_eq!(r.header("ETag"), None);
    assert_eq!(r.header("Last-Modified"), None);
}

#[test]
fn head_has_length_but_no_body() {
    let s = Server::start("", &site());
    let raw = s.raw(b"HEAD /hello.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    let text = String::from_utf8_lossy(&raw);
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(text.contains("Content-Length: 14\r\n"));
    assert!(
        text.ends_with("\r\n\r\n"),
        "HEAD must not carry a body: {text}"
    );
    let raw = s.raw(b"HEAD /nope HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    let text = String::from_utf8_lossy(&raw);
    assert!(text.contains("Content-Length: 341\r\n") && text.ends_with("\r\n\r\n"));
}

#[test]
fn if_none_match_and_if_modified_since_give_304() {
    let s = Server::start("", &site());
    let first = s.get("/hello.txt");
    let etag = first.header("ETag").expect("etag").to_string();
    let lm = first.header("Last-Modified").expect("lm").to_string();
    let req = format!(
        "GET /hello.txt HTTP/1.1\r\nHost: t\r\nIf-None-Match: {etag}\r\nConnection: close\r\n\r\n"
    );
    let r = parse(&s.raw(req.as_bytes())).pop().expect("response");
    assert_eq!(r.status, 304);
    assert!(r.body.is_empty());
    assert_eq!(r.header("Content-Type"), Some("text/plain"));
    assert_eq!(r.header("Content-Length"), None);
    let req = format!("GET /hello.txt HTTP/1.1\r\nHost: t\r\nIf-Modified-Since: {lm}\r\nConnection: close\r\n\r\n");
    assert_eq!(parse(&s.raw(req.as_bytes()))[0].status, 304);
    let req = format!("POST /hello.txt HTTP/1.1\r\nHost: t\r\nIf-None-Match: {etag}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    assert_eq!(parse(&s.raw(req.as_bytes()))[0].status, 412);
}

#[test]
fn ranges_single_multi_and_unsatisfiable() {
    let s = Server::start("", &site());
    let one = s.raw(
        b"GET /hello.txt HTTP/1.1\r\nHost: t\r\nRange: bytes=0-4\r\nConnection: close\r\n\r\n",
    );
    let r = parse(&one).pop().expect("response");
    assert_eq!(r.status, 206);
    assert_eq!(r.header("Content-Range"), Some("bytes 0-4/14"));
    assert_eq!(r.text(), "Hello");
    let big = s.raw(b"GET /big.txt HTTP/1.1\r\nHost: t\r\nRange: bytes=0-1,500-501\r\nConnection: close\r\n\r\n");
    let r = parse(&big).pop().expect("response");
    assert_eq!(r.status, 206);
    assert_eq!(
        r.header("Content-Type"),
        Some("multipart/byteranges; boundary=fkj49sn38dcn3")
    );
    let body = r.text();
    assert!(body.starts_with(
        "--fkj49sn38dcn3\r\nContent-Type: text/plain\r\nContent-Range: bytes 0-1/100000\r\n\r\nxx"
    ));
    assert!(body.ends_with("\r\n--fkj49sn38dcn3--\r\n"));
    let bad = s.raw(
        b"GET /hello.txt HTTP/1.1\r\nHost: t\r\nRange: bytes=100-\r\nConnection: close\r\n\r\n",
    );
    let r = parse(&bad).pop().expect("response");
    assert_eq!(r.status, 416);
    assert_eq!(r.header("Content-Range"), None);
    let v10 = s.raw(b"GET /hello.txt HTTP/1.0\r\nRange: bytes=0-4\r\n\r\n");
    let r = parse(&v10).pop().expect("response");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Accept-Ranges"), None);
}

#[test]
fn large_file_is_sent_whole() {
    let s = Server::start("", &site());
    let r = s.get("/big.txt");
    assert_eq!(r.status, 200);
    assert_eq!(r.body.len(), 100_000);
    assert!(r.body.iter().all(|&b| b == b'x'));
}

/// Files over the per-turn write limit (256 KiB): the server stops to let
/// other connections write and resumes on its own, with no readiness event
/// to wake it (the socket never filled). Two downloads at once both finish
/// whole and in order.
#[test]
fn files_larger_than_a_write_turn_finish_on_every_connection() {
    let body: Vec<u8> = (0..3 << 20).map(|i: u32| (i % 251) as u8).collect();
    let s = Server::start("", &[("big.bin", &body)]);
    let mut conns: Vec<_> = (0..2).map(|_| s.connect()).collect();
    for c in &mut conns {
        c.write_all(b"GET /big.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
    }
    for c in &mut conns {
        let r = parse(&read_to_close(c)).pop().expect("response");
        assert_eq!(r.status, 200);
        assert!(r.body == body, "body of {} bytes differs", r.body.len());
    }
}

#[test]
fn a_disabled_stat_cache_serves_a_changed_file_at_once() {
    let s = Server::start(
        r#"server.stat-cache-engine = "disable""#,
        &[("f.txt", b"one")],
    );
    let first = s.get("/f.txt");
    assert_eq!(first.body, b"one");
    std::fs::write(s.docroot.join("f.txt"), b"three").unwrap();
    let r = s.get("/f.txt");
    assert_eq!((r.status, r.body.as_slice()), (200, &b"three"[..]));
    // the fields kept for the last file follow its change
    assert_ne!(r.header("ETag"), first.header("ETag"));
    assert_eq!(r.header("Content-Length"), Some("5"));
    assert_eq!(r.header("Content-Type"), Some("text/plain"));
}

#[test]
fn alternating_files_get_their_own_fields() {
    let s = Server::start("", &site());
    let html = s.get("/index.html");
    let text = s.get("/hello.txt");
    let none = s.get("/noext");
    for _ in 0..2 {
        for (path, want) in [
            ("/index.html", &html),
            ("/hello.txt", &text),
            ("/noext", &none),
        ] {
            let r = s.get(path);
            assert_eq!(r.body, want.body, "{path}");
            for name in ["Content-Type", "ETag", "Last-Modified", "Content-Length"] {
                assert_eq!(r.header(name), want.header(name), "{path} {name}");
            }
        }
    }
    assert_eq!(html.header("Content-Type"), Some("text/html"));
    assert_eq!(text.header("Content-Type"), Some("text/plain"));
    assert_ne!(html.header("ETag"), text.header("ETag"));
}

#[test]
fn path_info_serves_the_file_unless_disabled() {
    let s = Server::start("", &site());
    let r = s.get("/hello.txt/extra/path");
    assert_eq!(r.status, 200);
    assert_eq!(r.body, HELLO);
    assert_eq!(s.get("/dir/nothing/more").status, 404);
    let s = Server::start(r#"static-file.disable-pathinfo = "enable""#, &site());
    assert_eq!(s.get("/hello.txt/extra").status, 403);
}

#[test]
fn excluded_extensions_are_403() {
    let s = Server::start(r#"static-file.exclude-extensions = (".txt")"#, &site());
    assert_eq!(s.get("/hello.txt").status, 403);
    assert_eq!(s.get("/index.html").status, 200);
}

#[test]
fn symlinks_refused_when_follow_symlink_disabled() {
    let s = Server::start(r#"server.follow-symlink = "disable""#, &site());
    std::os::unix::fs::symlink(s.docroot.join("hello.txt"), s.docroot.join("link.txt"))
        .expect("symlink");
    assert_eq!(s.get("/link.txt").status, 403);
    assert_eq!(s.get("/hello.txt").status, 200);
}

#[test]
fn methods_and_options() {
    let s = Server::start("", &site());
    let r = parse(&s.raw(b"OPTIONS * HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"))[0].clone();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Allow"), Some("OPTIONS, GET, HEAD, POST"));
    let put =
        b"PUT /hello.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    assert_eq!(parse(&s.raw(put))[0].status, 501);
    let trace = b"TRACE /missing HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    assert_eq!(parse(&s.raw(trace))[0].status, 404);
    let post = b"POST /hello.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc";
    let r = parse(&s.raw(post))[0].clone();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Connection"), Some("close"));
}

#[test]
fn errorfile_prefix_and_error_handlers() {
    let mut files = site();
    files.push(("err/404.html", b"custom 404\n"));
    files.push(("handler.html", b"handled\n"));
    let s = Server::start(
        r#"server.errorfile-prefix = "@DIR@/www/err/"
$HTTP["url"] =^ "/h/" { server.error-handler = "/handler.html" }
$HTTP["url"] =^ "/o/" { server.error-handler-404 = "/handler.html" }"#,
        &files,
    );
    let r = s.get("/missing");
    assert_eq!(r.status, 404);
    assert_eq!(r.text(), "custom 404\n");
    let r = s.get("/h/missing");
    assert_eq!(r.status, 404, "new-style handler keeps the original status");
    assert_eq!(r.text(), "handled\n");
    let r = s.get("/o/missing");
    assert_eq!(
        r.status, 200,
        "old-style handler answers with its own status"
    );
    assert_eq!(r.text(), "handled\n");
}

#[test]
fn server_tag_and_conditional_docroot() {
    let s = Server::start(
        r#"server.tag = ""
$HTTP["host"] == "other" { server.document-root = "@DIR@/www/dir" }"#,
        &site(),
    );
    let r = s.get("/hello.txt");
    assert_eq!(r.header("Server"), None);
    let raw = s.raw(b"GET /a.txt HTTP/1.1\r\nHost: other\r\nConnection: close\r\n\r\n");
    assert_eq!(parse(&raw)[0].text(), "a\n");
}

#[test]
fn dir_listing_lists_dirs_first_and_escapes_names() {
    let mut files = site();
    files.push(("list/b file&<x>.txt", b"x"));
    files.push(("list/.hidden", b"x"));
    files.push(("list/sub/z.txt", b"x"));
    let s = Server::start(r#"dir-listing.activate = "enable""#, &files);
    let r = s.get("/list/");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Content-Type"), Some("text/html"));
    let page = r.text();
    assert!(page.contains("<title>Index of /list/</title>"));
    let sub = page.find("href=\"sub/\"").expect("sub dir row");
    let file = page
        .find("href=\"b%20file%26%3Cx%3E.txt\">b file&#x26;&#x3C;x&#x3E;.txt</a>")
        .expect("escaped file row");
    assert!(sub < file, "directories come first");
    assert!(!page.contains(".hidden"));
    let head = s.raw(b"HEAD /list/ HTTP/1.0\r\n\r\n");
    assert!(String::from_utf8_lossy(&head).ends_with("\r\n\r\n"));
}
