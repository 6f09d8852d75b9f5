//! mod_rewrite and mod_redirect against the real binary: once/repeat,
//! if-not-file, captures of the enclosing condition, loops, and the
//! rewrite-before-redirect order.

mod common;

use common::Server;

const SITE: &[(&str, &[u8])] = &[("alpha.txt", b"alpha\n"), ("dir/b.txt", b"b\n")];

#[test]
fn rewrite_then_redirect_sees_the_new_target() {
    let s = Server::start(
        r#"server.modules = ("mod_redirect", "mod_rewrite")
url.rewrite-once = ("^/rw/(.*)$" => "/alpha.txt?from=$1")
url.redirect = ("^/alpha.txt\?from=(.*)" => "/r/$1", "^/keep" => "")
url.redirect-code = 302
$HTTP["host"] =~ "^(www)\.(.*)$" { url.redirect = ("^/h/(.*)" => "http://%2/$1?%1") }"#,
        SITE,
    );
    let r = s.get("/rw/hello");
    assert_eq!(r.status, 302);
    assert_eq!(r.header("Location"), Some("/r/hello"));
    assert_eq!(r.header("Content-Length"), Some("0"));
    assert_eq!(s.get("/keep").status, 404);
    let req = "GET /h/x%20y HTTP/1.1\r\nHost: www.example.org\r\nConnection: close\r\n\r\n";
    let r = common::parse(&s.raw(req.as_bytes()))
        .pop()
        .expect("response");
    assert_eq!(r.header("Location"), Some("http://example.org/x%20y?www"));
}

#[test]
fn repeat_if_not_file_and_loops() {
    let s = Server::start(
        r#"server.modules = ("mod_rewrite")
url.rewrite-repeat = ("^/strip/(.*)$" => "/$1", "^/loop(.*)$" => "/loop/$1")
url.rewrite-if-not-file = ("^/(.*)$" => "/alpha.txt?orig=$1")
url.rewrite-once = ("^/bad$" => "nope")"#,
        SITE,
    );
    assert_eq!(s.get("/strip/strip/dir/b.txt").text(), "b\n");
    assert_eq!(
        s.get("/missing").text(),
        "alpha\n",
        "if-not-file for a missing path"
    );
    assert_eq!(s.get("/dir").text(), "alpha\n", "and for a directory");
    assert_eq!(s.get("/dir/b.txt").text(), "b\n");
    // Endless loop and a result without '/': connection closed, no response.
    assert!(s.raw(b"GET /loop HTTP/1.1\r\nHost: x\r\n\r\n").is_empty());
    assert!(s.raw(b"GET /bad HTTP/1.1\r\nHost: x\r\n\r\n").is_empty());
}

#[test]
fn url_conditions_see_the_rewritten_path() {
    let s = Server::start(
        r#"server.modules = ("mod_rewrite", "mod_access")
url.rewrite-once = ("^/public/(.*)$" => "/private/$1")
$HTTP["url"] =^ "/private/" { url.access-deny = ("") }"#,
        SITE,
    );
    assert_eq!(s.get("/public/x").status, 403);
}
