use super::*;
use crate::config::value::Array;

/// An in-memory user database: bob / secret.
struct Db;

impl UserDb for Db {
    fn basic(&self, require: &Require, user: &str, pw: &str) -> bool {
        user == "bob" && pw == "secret" && require.allows(user)
    }
    fn ha1(&self, algo: u8, user: &str, realm: &str, userhash: bool) -> Option<(Vec<u8>, String)> {
        let name = if userhash {
            (user == hex(&hash(algo, &[b"bob:", realm.as_bytes()]))).then_some("bob")?
        } else {
            (user == "bob").then_some("bob")?
        };
        Some((
            hash(algo, &[name.as_bytes(), b":", realm.as_bytes(), b":secret"]),
            name.into(),
        ))
    }
    fn has_digest(&self) -> bool {
        true
    }
}

fn fields(pairs: &[(&str, &str)]) -> Array {
    Array {
        items: pairs
            .iter()
            .map(|(k, v)| (Some(k.to_string()), Value::Str(v.to_string())))
            .collect(),
    }
}

fn require(method: &str, rule: &str, extra: &[(&str, &str)]) -> Require {
    let mut f = vec![
        ("method", method),
        ("realm", "Secure Area"),
        ("require", rule),
    ];
    f.extend_from_slice(extra);
    parse_require("/protected/", &fields(&f)).expect("valid require")
}

#[test]
fn require_parsing_and_errors() {
    let r = require("basic", "user=bob|user=carol|group=g", &[]);
    assert_eq!((r.users.len(), r.groups.len(), r.valid_user), (2, 1, false));
    assert_eq!(r.algorithms, MD5 | SESS);
    assert!(r.allows("carol") && !r.allows("eve"));
    assert!(require("digest", "valid-user", &[]).allows("anyone"));
    let r = require(
        "digest",
        "valid-user",
        &[("algorithm", "SHA-256|md5"), ("userhash", "enable")],
    );
    assert_eq!(r.algorithms, SHA256 | MD5 | SESS);
    assert!(r.userhash);
    let err = |f: &[(&str, &str)]| parse_require("/", &fields(f)).unwrap_err();
    assert!(err(&[("realm", "r"), ("require", "valid-user")]).contains("method field is missing"));
    assert!(err(&[
        ("method", "ntlm"),
        ("realm", "r"),
        ("require", "valid-user")
    ])
    .contains("unknown method ntlm"));
    assert!(
        err(&[("method", "basic"), ("require", "valid-user")]).contains("realm field is missing")
    );
    assert!(err(&[("method", "basic"), ("realm", "r")]).contains("require field is missing"));
    assert!(
        err(&[("method", "basic"), ("realm", "r"), ("require", "bob")]).contains("missing '='")
    );
    assert!(
        err(&[("method", "basic"), ("realm", "r"), ("require", "user=")]).contains("missing token")
    );
    assert!(err(&[
        ("method", "basic"),
        ("realm", "r"),
        ("require", "user=a|valid-user=x")
    ])
    .contains("can not be combined"));
    assert!(
        err(&[("method", "basic"), ("realm", "r"), ("require", "uid=a")])
            .contains("invalid/unsupported")
    );
    assert!(err(&[
        ("method", "basic"),
        ("realm", "r"),
        ("require", "valid-user"),
        ("algorithm", "sha1")
    ])
    .contains("invalid algorithm"));
    assert!(err(&[
        ("method", "basic"),
        ("realm", "r"),
        ("require", "valid-user"),
        ("colour", "x")
    ])
    .contains("the field is unknown"));
}

#[test]
fn algorithms() {
    assert_eq!(parse_algorithm("MD5"), Some(MD5));
    assert_eq!(parse_algorithm("md5-SESS"), Some(MD5 | SESS));
    assert_eq!(parse_algorithm("SHA-256"), Some(SHA256));
    assert_eq!(parse_algorithm("SHA-512-256-sess"), Some(SHA512_256 | SESS));
    assert_eq!(parse_algorithm(""), Some(MD5));
    assert_eq!(parse_algorithm("-sess"), None);
    assert_eq!(parse_algorithm("SHA-1"), None);
}

#[test]
fn basic_flows() {
    let r = require("basic", "valid-user", &[]);
    let b = |h: &str| check_basic(&r, Some(h), &Db, Client::default());
    assert!(matches!(b("Basic Ym9iOnNlY3JldA=="), Outcome::Ok { ref user, .. } if user == "bob"));
    assert!(matches!(b("basic Ym9iOnNlY3JldA=="), Outcome::Ok { .. }));
    assert_eq!(
        check_basic(&r, None, &Db, Client::default()),
        Outcome::Unauthorized {
            challenges: vec!["Basic realm=\"Secure Area\", charset=\"UTF-8\"".into()],
            close: false
        }
    );
    assert!(matches!(
        b("Bearer xyz"),
        Outcome::Unauthorized { close: false, .. }
    ));
    assert!(matches!(
        b("Basic Ym9iOndyb25n"),
        Outcome::Unauthorized { close: true, .. }
    ));
    assert_eq!(b("Basic !!!"), Outcome::BadRequest);
    assert_eq!(b("Basic Ym9i"), Outcome::BadRequest, "no colon");
    let long = format!("Basic {}", "A".repeat(1364));
    assert!(matches!(
        b(&long),
        Outcome::Unauthorized { close: false, .. }
    ));
    let only_carol = require("basic", "user=carol", &[]);
    assert!(matches!(
        check_basic(
            &only_carol,
            Some("Basic Ym9iOnNlY3JldA=="),
            &Db,
            Client::default()
        ),
        Outcome::Unauthorized { close: true, .. }
    ));
}

#[test]
fn digest_header_parsing_is_robust() {
    let dp = parse_digest(
        r#"username="bob", realm="a \"q\" b",nonce=abc , uri="/x?y=1", qop=auth, nc=00000001, cnonce="c", response="ff", bogus="x,y""#,
    );
    assert_eq!(dp.username.as_deref(), Some("bob"));
    assert_eq!(dp.realm.as_deref(), Some(r#"a \"q\" b"#));
    assert_eq!(dp.nonce.as_deref(), Some("abc"));
    assert_eq!(dp.uri.as_deref(), Some("/x?y=1"));
    assert_eq!(dp.qop.as_deref(), Some("auth"));
    assert_eq!(dp.response.as_deref(), Some("ff"));
    // Unterminated quotes, missing '=', junk: never panic, stop parsing.
    for junk in [
        "username=\"bob",
        "username",
        "=,=,=",
        "\"\"\"",
        "username*=x,,,,",
        "nonce=\\",
        "realm=\"\\",
    ] {
        let _ = parse_digest(junk);
    }
    assert_eq!(parse_digest("realm x").realm, None);
}

fn client_header(algo_name: &str, algo: u8, nonce: &str, uri: &str, user_field: &str) -> String {
    let ha1 = hash(algo, &[b"bob:Secure Area:secret"]);
    let dp = DigestParams {
        nonce: Some(nonce.into()),
        uri: Some(uri.into()),
        qop: Some("auth".into()),
        nc: Some("00000001".into()),
        cnonce: Some("0a4f113b".into()),
        ..DigestParams::default()
    };
    let resp = hex(&digest_response(algo, &ha1, &dp, "GET"));
    format!(
        "Digest {user_field}, realm=\"Secure Area\", nonce=\"{nonce}\", uri=\"{uri}\", algorithm={algo_name}, qop=auth, nc=00000001, cnonce=\"0a4f113b\", response=\"{resp}\""
    )
}

fn digest(req: &Require, header: Option<&str>, target: &str, now: i64) -> Outcome {
    let input = DigestInput {
        header,
        client: Client::default(),
        method: "GET",
        target_orig: target,
        now,
    };
    check_digest(req, &input, &Db, &mut || 0x1234)
}

#[test]
fn digest_round_trips() {
    let now = 1_700_000_000;
    let req = require("digest", "valid-user", &[("algorithm", "MD5|SHA-256")]);
    let ch = digest_challenges(&req, now, None, &mut || 7);
    assert_eq!(ch.len(), 2);
    assert!(ch[0].starts_with(
        "Digest realm=\"Secure Area\", charset=\"UTF-8\", algorithm=SHA-256, nonce=\""
    ));
    assert!(ch[1].contains("algorithm=MD5") && ch[1].ends_with("qop=\"auth\""));
    let nonce = make_nonce(now, MD5, None, 7);
    assert!(nonce.starts_with("6553f100:") && nonce.len() == 9 + 32);
    let h = client_header("MD5", MD5, &nonce, "/protected/x", "username=\"bob\"");
    assert_eq!(
        digest(&req, Some(&h), "/protected/x", now + 5),
        Outcome::Ok {
            user: "bob".into(),
            auth_type: "Digest",
            info: None
        }
    );
    // uri mismatch, wrong realm, stale nonce, aging nonce.
    assert_eq!(
        digest(&req, Some(&h), "/protected/y", now),
        Outcome::BadRequest
    );
    let stale = digest(&req, Some(&h), "/protected/x", now + 601);
    assert!(
        matches!(stale, Outcome::Unauthorized { ref challenges, .. } if challenges.len() == 1 && challenges[0].ends_with("stale=true"))
    );
    assert!(
        matches!(digest(&req, Some(&h), "/protected/x", now + 550), Outcome::Ok { info: Some(ref i), .. } if i.starts_with("nextnonce=\""))
    );
    assert!(matches!(
        digest(&req, Some(&h), "/protected/x", now - 1),
        Outcome::Unauthorized { .. }
    ));
    // SHA-256 and -sess, userhash.
    let n2 = make_nonce(now, SHA256, None, 9);
    let h2 = client_header("SHA-256", SHA256, &n2, "/p", "username=\"bob\"");
    assert!(matches!(
        digest(&req, Some(&h2), "/p", now),
        Outcome::Ok { .. }
    ));
    let h3 = client_header("MD5-sess", MD5 | SESS, &nonce, "/p", "username=\"bob\"");
    assert!(matches!(
        digest(&req, Some(&h3), "/p", now),
        Outcome::Ok { .. }
    ));
    let uh = hex(&hash(MD5, &[b"bob:Secure Area"]));
    let h4 = client_header(
        "MD5",
        MD5,
        &nonce,
        "/p",
        &format!("username=\"{uh}\", userhash=true"),
    );
    assert!(
        matches!(digest(&req, Some(&h4), "/p", now), Outcome::Ok { ref user, .. } if user == "bob")
    );
    let h5 = client_header("MD5", MD5, &nonce, "/p", "username*=UTF-8''bob");
    assert!(matches!(
        digest(&req, Some(&h5), "/p", now),
        Outcome::Ok { .. }
    ));
}

#[test]
fn digest_failures() {
    let now = 1_700_000_000;
    let req = require("digest", "user=bob", &[]);
    let nonce = make_nonce(now, MD5, None, 1);
    let bad = client_header("MD5", MD5, &nonce, "/p", "username=\"bob\"")
        .replace("response=\"", "response=\"0");
    assert_eq!(
        digest(&req, Some(&bad), "/p", now),
        Outcome::BadRequest,
        "response length"
    );
    let h = client_header("MD5", MD5, &nonce, "/p", "username=\"eve\"");
    assert!(matches!(
        digest(&req, Some(&h), "/p", now),
        Outcome::Unauthorized { close: true, .. }
    ));
    let h = client_header("SHA-256", SHA256, &nonce, "/p", "username=\"bob\"");
    assert!(
        matches!(
            digest(&req, Some(&h), "/p", now),
            Outcome::Unauthorized { close: false, .. }
        ),
        "algorithm not allowed"
    );
    assert_eq!(
        digest(&req, Some("Digest username=\"bob\""), "/p", now),
        Outcome::BadRequest
    );
    assert_eq!(
        digest(
            &req,
            Some("Digest username=bob, username*=x, realm=a, nonce=b, uri=c, response=d"),
            "/p",
            now
        ),
        Outcome::BadRequest
    );
    let auth_int = client_header("MD5", MD5, &nonce, "/p", "username=\"bob\"")
        .replace("qop=auth,", "qop=auth-int,");
    assert_eq!(
        digest(&req, Some(&auth_int), "/p", now),
        Outcome::BadRequest
    );
    assert!(matches!(
        digest(&req, Some("Basic x"), "/p", now),
        Outcome::Unauthorized { close: false, .. }
    ));
    let wrong_pw = client_header("MD5", MD5, &nonce, "/p", "username=\"bob\"")
        .replace("Secure Area\", nonce", "Other\", nonce");
    assert!(
        matches!(
            digest(&req, Some(&wrong_pw), "/p", now),
            Outcome::Unauthorized { close: false, .. }
        ),
        "realm mismatch"
    );
}

#[test]
fn nonce_secret_detects_forgery() {
    let now = 1_700_000_000;
    let req = require("digest", "valid-user", &[("nonce_secret", "s3cret")]);
    let good = make_nonce(now, MD5, Some("s3cret"), 0xabcdef);
    assert_eq!(good.split(':').count(), 3);
    assert_eq!(check_nonce(&req, &good, MD5, now + 10), NonceCheck::Fresh);
    let forged = make_nonce(now, MD5, Some("guess"), 0xabcdef);
    assert_eq!(check_nonce(&req, &forged, MD5, now), NonceCheck::Forged);
    let plain = make_nonce(now, MD5, None, 1);
    assert_eq!(check_nonce(&req, &plain, MD5, now), NonceCheck::Malformed);
    assert_eq!(check_nonce(&req, "zz", MD5, now), NonceCheck::Stale);
    assert_eq!(check_nonce(&req, "", MD5, now), NonceCheck::Stale);
    assert_eq!(
        check_nonce(&req, "ffffffffffffffffff:1", MD5, now),
        NonceCheck::Stale
    );
}
