//! mod_extforward against the real binary: the forwarded client address
//! reaches conditions, CGI and the access log; untrusted peers are ignored.

mod common;

use common::Server;

fn req(s: &Server, headers: &str) -> common::Response {
    let raw = format!("GET /a.txt HTTP/1.0\r\n{headers}\r\n");
    common::parse(&s.raw(raw.as_bytes()))
        .pop()
        .expect("response")
}

#[test]
fn trusted_proxy_sets_client_address_and_scheme() {
    let s = Server::start(
        r#"server.modules = ("mod_extforward", "mod_access", "mod_setenv")
extforward.forwarder = ("127.0.0.1" => "trust")
$HTTP["remoteip"] == "192.0.2.7" { url.access-deny = ("") }
$HTTP["scheme"] == "https" { setenv.add-response-header = ("X-Scheme" => "https") }"#,
        &[("a.txt", b"a")],
    );
    assert_eq!(req(&s, "").status, 200);
    assert_eq!(req(&s, "X-Forwarded-For: 192.0.2.7\r\n").status, 403);
    assert_eq!(
        req(&s, "X-Forwarded-For: 192.0.2.7, 10.1.1.1\r\n").status,
        200,
        "rightmost untrusted wins"
    );
    let r = req(
        &s,
        "X-Forwarded-For: 198.51.100.1\r\nX-Forwarded-Proto: https\r\n",
    );
    assert_eq!((r.status, r.header("X-Scheme")), (200, Some("https")));
    assert_eq!(req(&s, "X-Forwarded-For: garbage!!\r\n").status, 200);
}

#[test]
fn forwarded_header_and_untrusted_peers() {
    let s = Server::start(
        r#"server.modules = ("mod_extforward", "mod_access")
extforward.forwarder = ("10.9.9.9" => "trust")
extforward.headers = ("Forwarded")
$HTTP["remoteip"] == "192.0.2.7" { url.access-deny = ("") }"#,
        &[("a.txt", b"a")],
    );
    // 127.0.0.1 is not a trusted proxy: headers are ignored.
    assert_eq!(req(&s, "Forwarded: for=192.0.2.7\r\n").status, 200);
    let s2 = Server::start(
        r#"server.modules = ("mod_extforward", "mod_access")
extforward.forwarder = ("127.0.0.1" => "trust")
extforward.headers = ("Forwarded")
$HTTP["remoteip"] == "192.0.2.7" { url.access-deny = ("") }"#,
        &[("a.txt", b"a")],
    );
    assert_eq!(
        req(&s2, "Forwarded: for=192.0.2.7;proto=https\r\n").status,
        403
    );
    assert_eq!(req(&s2, "Forwarded: for=\"unterminated\r\n").status, 400);
    assert_eq!(req(&s2, "Forwarded: for=_hidden\r\n").status, 200);
}
