//! mod_setenv and mod_expire against the real binary.

mod common;

use common::Server;

#[test]
fn response_headers_follow_module_order() {
    let s = Server::start(
        r#"server.modules = ("mod_redirect", "mod_setenv")
url.redirect = ("^/go" => "/alpha.txt")
setenv.add-response-header = ("X-Add" => "yes", "Set-Cookie" => "b=2")
setenv.set-response-header = ("Server" => "mine")"#,
        &[("alpha.txt", b"a")],
    );
    let r = s.get("/alpha.txt");
    assert_eq!(r.header("X-Add"), Some("yes"));
    assert_eq!(r.header("Server"), Some("mine"));
    assert_eq!(
        s.get("/missing").header("X-Add"),
        Some("yes"),
        "error pages get them"
    );
    assert_eq!(
        s.get("/go").header("X-Add"),
        None,
        "redirect listed first finishes before setenv"
    );
}

#[test]
fn expire_by_url_and_version() {
    let s = Server::start(
        r#"server.modules = ("mod_expire")
expire.url = ("/alpha" => "access plus 1 hours")
expire.mimetypes = ("text/" => "access plus 2 minutes")"#,
        &[("alpha.txt", b"a"), ("b.txt", b"b")],
    );
    assert_eq!(
        s.get("/alpha.txt").header("Cache-Control"),
        Some("max-age=3600")
    );
    assert_eq!(s.get("/b.txt").header("Cache-Control"), Some("max-age=120"));
    assert_eq!(s.get("/missing").header("Cache-Control"), None);
    let r = common::parse(&s.raw(b"GET /alpha.txt HTTP/1.0\r\n\r\n"))
        .pop()
        .expect("response");
    assert!(r.header("Expires").is_some_and(|e| e.ends_with(" GMT")));
    assert_eq!(r.header("Cache-Control"), None);
}
