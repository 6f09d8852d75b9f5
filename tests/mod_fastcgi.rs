//! mod_fastcgi against the real binary with a FastCGI backend thread:
//! environment, request bodies, LF-only heads, large bodies, authorizers,
//! and hostile backends (garbage heads, early EOF, truncated records,
//! stalls, refused connections) giving lighttpd's 500/502/503/504.

mod common;
mod gw_support;

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::Server;
use gw_support::{dead_port, fcgi_read, fcgi_record, fcgi_reply, serve};

fn param<'a>(q: &'a str, key: &str) -> Option<&'a str> {
    q.split('&')
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
}

/// The test backend: behaviour chosen by the query string.
fn backend(mut s: TcpStream) {
    let Some(req) = fcgi_read(&mut s) else { return };
    let q = req.params.get("QUERY_STRING").cloned().unwrap_or_default();
    if req.role == 2 {
        let out: &[u8] = if q.contains("auth-ok") {
            b"Status: 200\r\nVariable-X-Auth: granted\r\n\r\nignored body"
        } else {
            b"Status: 403\r\nContent-Type: text/plain\r\n\r\ndenied"
        };
        return fcgi_reply(&mut s, out);
    }
    if let Some(name) = param(&q, "env") {
        let v = req
            .params
            .get(name)
            .cloned()
            .unwrap_or_else(|| "<unset>".into());
        return fcgi_reply(
            &mut s,
            format!("Content-Type: text/plain\r\n\r\n{v}").as_bytes(),
        );
    }
    match q.as_str() {
        "echo" => {
            let mut out = b"Status: 200\r\n\r\n".to_vec();
            out.extend_from_slice(&req.stdin);
            fcgi_reply(&mut s, &out)
        }
        "lf" => fcgi_reply(&mut s, b"Status: 201\nX-A: b\n\nbody"),
        "big" => {
            let mut out = b"Content-Type: application/octet-stream\r\n\r\n".to_vec();
            out.extend(std::iter::repeat(b'z').take(300_000));
            fcgi_reply(&mut s, &out)
        }
        "garbage" => fcgi_reply(&mut s, b"this is no header line\r\n\r\nx"),
        "chunked" => fcgi_reply(
            &mut s,
            b"Status: 200\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-T: 1\r\n\r\n",
        ),
        "chunked-cut" => fcgi_reply(&mut s, b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"),
        "chunked-bad" => fcgi_reply(
            &mut s,
            b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nZZ\r\nx\r\n0\r\n\r\n",
        ),
        "chunked-excess" => {
            let _ = s.write_all(&fcgi_record(
                6,
                b"Transfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n",
            ));
            fcgi_reply(&mut s, b"excess")
        }
        "eof" => {
            let _ = s.write_all(&fcgi_record(6, b"Status: 200\r\nX-Partial: 1\r\n"));
        }
        "truncated" => {
            // a record header promising 65535 bytes, then only a few
            let _ = s.write_all(&[1, 6, 0, 1, 0xff, 0xff, 0, 0, b'S', b't']);
        }
        "stderr" => {
            let _ = s.write_all(&fcgi_record(7, b"a warning"));
            fcgi_reply(&mut s, b"\r\nafter stderr")
        }
        "stall" => std::thread::sleep(Duration::from_secs(20)),
        "xsend-ok" | "xsend-outside" | "xsend-missing" => {
            let root = req.params.get("DOCUMENT_ROOT").cloned().unwrap_or_default();
            let file = match q.as_str() {
                "xsend-ok" => format!("{root}/secret/file.txt"),
                "xsend-missing" => format!("{root}/secret/none.txt"),
                _ => format!("{root}/real.fcgi"),
            };
            let out = format!("X-Sendfile: {file}\r\n\r\nbackend body");
            fcgi_reply(&mut s, out.as_bytes())
        }
        _ => fcgi_reply(&mut s, b"Status: 404\r\n\r\nnope"),
    }
}

fn start(extra: &str) -> Server {
    let port = serve(backend);
    let conf = format!(
        r#"server.modules = ("mod_fastcgi")
fastcgi.server = ( "/app" => (( "host" => "127.0.0.1", "port" => {port}, "check-local" => "disable", "read-timeout" => 1 )),
                   ".fcgi" => ( "local" => ( "host" => "127.0.0.1", "port" => {port} )),
                   "/xs" => (( "host" => "127.0.0.1", "port" => {port}, "check-local" => "disable",
                               "x-sendfile" => "enable", "x-sendfile-docroot" => ( "@DIR@/www/secret" ) )) )
{extra}"#
    );
    Server::start(
        &conf,
        &[("real.fcgi", b""), ("secret/file.txt", b"the secret")],
    )
}

#[test]
fn environment_reaches_the_backend() {
    let s = start("");
    assert_eq!(s.get("/app?env=SCRIPT_NAME").text(), "/app");
    assert_eq!(s.get("/app/x/y?env=PATH_INFO").text(), "/x/y");
    assert_eq!(s.get("/app/x/y?env=SCRIPT_NAME").text(), "/app");
    assert_eq!(
        s.get("/app/p?env=REQUEST_URI").text(),
        "/app/p?env=REQUEST_URI"
    );
    assert_eq!(s.get("/app?env=REQUEST_METHOD").text(), "GET");
    assert_eq!(s.get("/app?env=HTTP_HOST").text(), "test");
    assert_eq!(s.get("/app?env=GATEWAY_INTERFACE").text(), "CGI/1.1");
    let r = s.get("/app?env=CONTENT_LENGTH");
    assert_eq!((r.status, r.text().as_str()), (200, "0"));
}

#[test]
fn check_local_needs_the_file() {
    let s = start("");
    let r = s.get("/real.fcgi?env=SCRIPT_FILENAME");
    assert_eq!(r.status, 200);
    assert!(r.text().ends_with("/www/real.fcgi"), "{}", r.text());
    assert_eq!(s.get("/missing.fcgi?env=SCRIPT_NAME").status, 404);
}

#[test]
fn post_body_lf_heads_and_large_responses() {
    let s = start("");
    let body = "k=v&".repeat(5000);
    let req = format!(
        "POST /app?echo HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let r = common::parse(&s.raw(req.as_bytes()))
        .pop()
        .expect("response");
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), body);
    let r = s.get("/app?lf");
    assert_eq!(
        (r.status, r.header("X-A"), r.text().as_str()),
        (201, Some("b"), "body")
    );
    let r = s.get("/app?big");
    assert_eq!(r.body.len(), 300_000);
    assert_eq!(r.header("Content-Length"), Some("300000"));
    assert_eq!(s.get("/app?stderr").text(), "after stderr");
}

#[test]
fn a_chunked_answer_is_decoded_as_lighttpd() {
    let s = start("");
    let get = |q: &str| format!("GET /app?{q} HTTP/1.1\r\nHost: t\r\n\r\n");
    let mut c = s.connect();
    c.write_all(get("chunked").as_bytes()).expect("send");
    let r = common::read_response(&mut c, false).expect("response");
    assert_eq!((r.status, r.text().as_str()), (200, "hello"));
    assert_eq!(
        (r.header("Content-Length"), r.header("X-T")),
        (Some("5"), Some("1\r"))
    );
    // ended before the last chunk: what arrived, keep-alive stays
    c.write_all(get("chunked-cut").as_bytes()).expect("send");
    let r = common::read_response(&mut c, false).expect("response");
    assert_eq!((r.text().as_str(), r.header("Connection")), ("hello", None));
    // bytes after the last chunk are dropped; unlike the other backends,
    // FastCGI reads on to its end of request and keeps the connection
    c.write_all(get("chunked-excess").as_bytes()).expect("send");
    let r = common::read_response(&mut c, false).expect("response");
    assert_eq!((r.text().as_str(), r.header("Connection")), ("ab", None));
    // malformed: what decoded before it, keep-alive stays
    c.write_all(get("chunked-bad").as_bytes()).expect("send");
    let r = common::read_response(&mut c, false).expect("response");
    assert_eq!((r.text().as_str(), r.header("Connection")), ("hello", None));
}

#[test]
fn hostile_backends_give_lighttpds_statuses() {
    let s = start("");
    assert_eq!(s.get("/app?garbage").status, 502);
    assert_eq!(s.get("/app?eof").status, 500);
    assert_eq!(s.get("/app?truncated").status, 500);
    let t = Instant::now();
    assert_eq!(s.get("/app?stall").status, 504);
    assert!(t.elapsed() < Duration::from_secs(8), "read-timeout 1 s");
    // the server keeps working
    assert_eq!(s.get("/app?env=REQUEST_METHOD").text(), "GET");
}

#[test]
fn refused_backend_is_503() {
    let (_held, dead) = dead_port();
    let conf = format!(
        r#"server.modules = ("mod_fastcgi")
fastcgi.server = ( "/" => (( "host" => "127.0.0.1", "port" => {dead}, "check-local" => "disable" )) )"#
    );
    let s = Server::start(&conf, &[]);
    assert_eq!(s.get("/x.php").status, 503);
    assert_eq!(s.get("/x.php").status, 503, "disabled for disable-time");
}

#[test]
fn authorizer_allows_denies_and_sets_variables() {
    let port = serve(backend);
    let conf = format!(
        r#"server.modules = ("mod_fastcgi")
fastcgi.server = ( "/secret" => ( "auth" => ( "host" => "127.0.0.1", "port" => {port}, "check-local" => "disable", "mode" => "authorizer" )),
                   "/both" => ( "auth" => ( "host" => "127.0.0.1", "port" => {port}, "check-local" => "disable", "mode" => "authorizer" ),
                                "resp" => ( "host" => "127.0.0.1", "port" => {port}, "check-local" => "disable" )) )"#
    );
    let s = Server::start(&conf, &[("secret/file.txt", b"the secret")]);
    let r = s.get("/secret/file.txt?auth-ok");
    assert_eq!((r.status, r.text().as_str()), (200, "the secret"));
    let r = s.get("/secret/file.txt?no");
    assert_eq!((r.status, r.text().as_str()), (403, "denied"));
    assert_eq!(s.get("/both?auth-ok&env=X_AUTH").text(), "granted");
    assert_eq!(s.get("/both?nope&env=X_AUTH").status, 403);
}

#[test]
fn x_sendfile_serves_allowed_files_only() {
    let s = start("");
    let r = s.get("/xs?xsend-ok");
    assert_eq!((r.status, r.text().as_str()), (200, "the secret"));
    assert_eq!(r.header("Content-Length"), Some("10"));
    assert_eq!(r.header("X-Sendfile"), None);
    assert_eq!(s.get("/xs?xsend-outside").status, 403);
    assert_eq!(s.get("/xs?xsend-missing").status, 404);
    // without x-sendfile the header is just passed on
    let r = s.get("/app?xsend-ok");
    assert_eq!(r.text(), "backend body");
}

#[test]
fn authorizer_docroot_serves_the_restarted_request() {
    let port = serve(backend);
    let conf = format!(
        r#"server.modules = ("mod_fastcgi")
fastcgi.server = ( "/" => ( "auth" => ( "host" => "127.0.0.1", "port" => {port}, "check-local" => "disable",
                                        "mode" => "authorizer", "docroot" => "@DIR@/alt" )) )"#
    );
    let s = Server::start(
        &conf,
        &[
            ("f.txt", b"main docroot"),
            ("../alt/f.txt", b"authorizer docroot"),
        ],
    );
    let r = s.get("/f.txt?auth-ok");
    assert_eq!((r.status, r.text().as_str()), (200, "authorizer docroot"));
    assert_eq!(s.get("/f.txt?denied").status, 403);
}
