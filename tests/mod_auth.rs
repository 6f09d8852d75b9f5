//! mod_auth + mod_authn_file against the real binary.

mod common;

use common::Server;

fn server() -> Server {
    Server::start(
        r#"server.modules = ("mod_auth", "mod_authn_file")
auth.backend = "htpasswd"
auth.backend.htpasswd.userfile = "@DIR@/htpasswd"
auth.require = ("/secret" => ("method" => "basic", "realm" => "R", "require" => "user=bob"))
$HTTP["url"] =^ "/dig" {
  auth.backend = "plain"
  auth.backend.plain.userfile = "@DIR@/plain"
  auth.require = ("/dig" => ("method" => "digest", "realm" => "D", "require" => "valid-user"))
}"#,
        &[
            ("secret.txt", b"s\n"),
            ("dig.txt", b"d\n"),
            (
                "../htpasswd",
                b"bob:$apr1$dtVlxNQL$K7/qYoyFLO/5z1AXnJ1Kk0\n",
            ),
            ("../plain", b"bob:secret\n"),
        ],
    )
}

fn get_auth(s: &Server, path: &str, auth: &str) -> common::Response {
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\nConnection: close\r\n\r\n"
    );
    common::parse(&s.raw(req.as_bytes()))
        .pop()
        .expect("response")
}

#[test]
fn basic_challenge_success_and_failures() {
    let s = server();
    let r = s.get("/secret.txt");
    assert_eq!(r.status, 401);
    assert_eq!(
        r.header("WWW-Authenticate"),
        Some("Basic realm=\"R\", charset=\"UTF-8\"")
    );
    assert_eq!(
        get_auth(&s, "/secret.txt", "Basic Ym9iOnNlY3JldA==").text(),
        "s\n"
    );
    assert_eq!(
        get_auth(&s, "/secret.txt", "Basic Ym9iOndyb25n").status,
        401
    );
    assert_eq!(get_auth(&s, "/secret.txt", "Basic ****").status, 400);
    assert_eq!(get_auth(&s, "/secret.txt", "Basic Ym9i").status, 400);
    assert_eq!(s.get("/dig.txt").status, 401);
}

#[test]
fn digest_challenge_and_bad_credentials() {
    let s = server();
    let r = s.get("/dig.txt");
    let ch = r.header("WWW-Authenticate").expect("challenge");
    assert!(
        ch.starts_with("Digest realm=\"D\", charset=\"UTF-8\", algorithm=MD5, nonce=\""),
        "{ch}"
    );
    // A forged/garbage Authorization never crashes the server.
    for junk in [
        "Digest",
        "Digest username=\"bob\"",
        "Digest realm=\"D\", nonce=\"zz\", uri=\"/dig.txt\", response=\"00\", username=\"bob\"",
        "Digest \"\"\"\"=,,,",
    ] {
        let st = get_auth(&s, "/dig.txt", junk).status;
        assert!(st == 400 || st == 401, "{junk}: {st}");
    }
    assert_eq!(s.get("/dig.txt").status, 401, "server still alive");
}
