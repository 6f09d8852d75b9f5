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

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

/// A hap-PROXY server: CGI prints what it sees, the access log records %h.
fn hap_server(extra: &str) -> Server {
    let s = Server::start(
        &format!(
            r#"server.modules = ("mod_extforward", "mod_access", "mod_cgi", "mod_accesslog")
cgi.assign = (".sh" => "")
accesslog.filename = "@DIR@/access.log"
accesslog.format = "%h %s"
server.max-read-idle = 2
{extra}"#
        ),
        &[("a.txt", b"a")],
    );
    let p = s.docroot.join("env.sh");
    let body = "#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\n'\n\
        echo \"addr=$REMOTE_ADDR port=$REMOTE_PORT uid=$PP2_UNIQUE_ID v=$SSL_CLIENT_VERIFY u=$REMOTE_USER a=$AUTH_TYPE\"\n";
    std::fs::write(&p, body).expect("write");
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    s
}

const HAP: &str = r#"extforward.forwarder = ("127.0.0.1" => "trust")
extforward.hap-PROXY = "enable"
$HTTP["remoteip"] == "192.0.2.7" { url.access-deny = ("a.txt") }"#;

fn get(s: &Server, preamble: &[u8], path: &str) -> Vec<u8> {
    let req = format!("GET {path} HTTP/1.0\r\n\r\n");
    s.raw(&[preamble, req.as_bytes()].concat())
}

fn v2(cmd: u8, fam: u8, body: &[u8]) -> Vec<u8> {
    let mut v = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    v.extend_from_slice(&[0x20 | cmd, fam]);
    v.extend_from_slice(&(body.len() as u16).to_be_bytes());
    v.extend_from_slice(body);
    v
}

fn status(raw: &[u8]) -> u16 {
    common::parse(raw).pop().map_or(0, |r| r.status)
}

#[test]
fn hap_proxy_v1_and_v2_set_the_client_address() {
    let s = hap_server(HAP);
    let v1 = b"PROXY TCP4 192.0.2.7 127.0.0.1 40000 80\r\n";
    assert_eq!(status(&get(&s, v1, "/a.txt")), 403, "remoteip condition");
    let out = String::from_utf8_lossy(&get(&s, v1, "/env.sh")).into_owned();
    assert!(out.contains("addr=192.0.2.7 port=40000 "), "{out}");
    let v6 = b"PROXY TCP6 2001:db8::5 ::1 5 6\r\n";
    let out = String::from_utf8_lossy(&get(&s, v6, "/env.sh")).into_owned();
    assert!(out.contains("addr=2001:db8::5 port=5 "), "{out}");
    // v2 with a unique-id TLV; LOCAL keeps the real peer.
    let mut body = vec![198, 51, 100, 9, 127, 0, 0, 1, 0x1f, 0x90, 0, 80];
    body.extend_from_slice(&[0x05, 0, 4, b'u', b'i', b'd', b'1']);
    let out = String::from_utf8_lossy(&get(&s, &v2(1, 0x11, &body), "/env.sh")).into_owned();
    assert!(
        out.contains("addr=198.51.100.9 port=8080 uid=uid1 v= "),
        "{out}"
    );
    let out = String::from_utf8_lossy(&get(&s, &v2(0, 0, &[]), "/env.sh")).into_owned();
    assert!(out.contains("addr=127.0.0.1 "), "{out}");
    // Keep-alive: the address holds for every request of the connection.
    let mut c = s.connect();
    c.write_all(b"PROXY TCP4 192.0.2.7 127.0.0.1 1 2\r\nGET /env.sh HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("send");
    std::thread::sleep(Duration::from_millis(300));
    c.write_all(b"GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .expect("send");
    let all = common::read_to_close(&mut c);
    let codes: Vec<u16> = common::parse(&all).iter().map(|r| r.status).collect();
    assert_eq!(codes, [200, 403]);
    let log = std::fs::read_to_string(s.dir.join("access.log")).unwrap_or_default();
    assert!(
        log.contains("192.0.2.7 403\n") && log.contains("198.51.100.9 200\n"),
        "{log}"
    );
}

#[test]
fn hap_proxy_rejects_bad_headers_by_closing() {
    let s = hap_server(HAP);
    let mut huge = v2(1, 0x11, &[0; 12]);
    huge[14] = 0x10; // 4 KiB of claimed TLVs
    huge.extend_from_slice(&[0; 64]);
    for bad in [
        &b"GET /a.txt HTTP/1.0\r\n\r\n"[..],
        b"PROXY TCP4 192.0.2.7 127.0.0.1 0 80\r\n",
        b"PROXY TCP9 x\r\n",
        &[b'P'; 300][..],
        &huge,
        b"\x00\xff\xfe garbage\r\n\r\n",
    ] {
        let out = s.raw(bad);
        assert!(
            out.is_empty(),
            "{:?} got {:?}",
            bad,
            String::from_utf8_lossy(&out)
        );
    }
    // Truncated header then EOF, or silence: closed, bounded by the read timeout.
    let mut c = s.connect();
    c.write_all(b"PROXY TCP4 192.0.2.7").expect("send");
    let t = Instant::now();
    let mut buf = [0u8; 64];
    assert_eq!(c.read(&mut buf).unwrap_or(0), 0);
    assert!(t.elapsed() < Duration::from_secs(8), "{:?}", t.elapsed());
    // A slow sender that completes the header in pieces is served.
    let mut c = s.connect();
    for piece in [
        &b"PROXY TCP4 19"[..],
        b"2.0.2.7 127.0.0.1 1 2\r",
        b"\nGET /a.txt HTTP/1.0\r\n\r\n",
    ] {
        c.write_all(piece).expect("send");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(status(&common::read_to_close(&mut c)), 403);
    // The server still answers.
    assert_eq!(status(&get(&s, b"PROXY UNKNOWN\r\n", "/a.txt")), 200);
}

#[test]
fn hap_proxy_only_for_trusted_peers_and_matching_sockets() {
    // Untrusted peer: plain HTTP, no header expected.
    let s = hap_server(
        r#"extforward.forwarder = ("10.1.1.1" => "trust")
extforward.hap-PROXY = "enable""#,
    );
    assert_eq!(status(&get(&s, b"", "/a.txt")), 200);
    // Enabled only on another listener: this one speaks plain HTTP.
    let other = common::free_port();
    let s = hap_server(&format!(
        r#"extforward.forwarder = ("127.0.0.1" => "trust")
$SERVER["socket"] == "127.0.0.1:{other}" {{ extforward.hap-PROXY = "enable" }}"#
    ));
    assert_eq!(status(&get(&s, b"", "/a.txt")), 200);
    let c = std::net::TcpStream::connect(("127.0.0.1", other)).expect("second listener");
    drop(c);
    let mut c = std::net::TcpStream::connect(("127.0.0.1", other)).expect("connect");
    c.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    c.write_all(b"PROXY TCP4 192.0.2.9 127.0.0.1 1 2\r\nGET /env.sh HTTP/1.0\r\n\r\n")
        .expect("send");
    let out = String::from_utf8_lossy(&common::read_to_close(&mut c)).into_owned();
    assert!(out.contains("addr=192.0.2.9 "), "{out}");
}

#[test]
fn hap_proxy_ssl_client_verify() {
    let s = hap_server(&format!(
        "{HAP}\nextforward.hap-PROXY-ssl-client-verify = \"enable\""
    ));
    let mut body = vec![198, 51, 100, 9, 127, 0, 0, 1, 0, 1, 0, 80];
    let ssl = [&[0x03, 0, 0, 0, 0][..], &[0x22, 0, 5], b"alice"].concat();
    body.push(0x20);
    body.extend_from_slice(&(ssl.len() as u16).to_be_bytes());
    body.extend_from_slice(&ssl);
    let out = String::from_utf8_lossy(&get(&s, &v2(1, 0x11, &body), "/env.sh")).into_owned();
    assert!(
        out.contains("v=SUCCESS u=alice a=SSL_CLIENT_VERIFY"),
        "{out}"
    );
    let out = String::from_utf8_lossy(&get(&s, b"PROXY UNKNOWN\r\n", "/env.sh")).into_owned();
    assert!(out.contains("v=NONE u= "), "{out}");
}
