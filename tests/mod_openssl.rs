//! mod_openssl: the real binary serving TLS listeners (certificates made
//! with the `openssl` CLI), spoken to with a rustls client over 127.0.0.1.

#[path = "common/any_cert.rs"]
mod any_cert;
mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use any_cert::AnyCert;
use common::{parse, Response, Server};
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, StreamOwned};

/// A self-signed certificate for `cn`: `<name>.pem` (cert + key),
/// `<name>.crt`, `<name>.key` in `dir`.
fn make_cert(dir: &Path, name: &str, cn: &str) {
    make_cert_with(dir, name, &format!("/CN={cn}"), &[]);
}

fn make_cert_with(dir: &Path, name: &str, subject: &str, extra: &[&str]) {
    let key = dir.join(format!("{name}.key"));
    let crt = dir.join(format!("{name}.crt"));
    let status = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "30", "-subj", subject])
        .args(extra)
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&crt)
        .stderr(std::process::Stdio::null())
        .status()
        .expect("the openssl CLI is needed to make test certificates");
    assert!(status.success(), "openssl req failed");
    let mut pem = std::fs::read(&crt).expect("crt");
    pem.extend(std::fs::read(&key).expect("key"));
    std::fs::write(dir.join(format!("{name}.pem")), pem).expect("pem");
}

/// The DER of the first certificate in a PEM file.
fn cert_der(path: &Path) -> Vec<u8> {
    use rustls::pki_types::pem::PemObject;
    CertificateDer::pem_file_iter(path)
        .expect("pem")
        .next()
        .expect("a cert")
        .expect("cert")
        .to_vec()
}

type Tls = StreamOwned<ClientConnection, TcpStream>;

/// A TLS connection to the server with SNI `name`, handshake done.
fn tls_connect(port: u16, name: &str) -> Tls {
    tls_connect_as(port, name, None)
}

/// [`tls_connect`], presenting the certificate and key of `client` (PEM files).
fn tls_connect_as(port: u16, name: &str, client: Option<(&Path, &Path)>) -> Tls {
    use rustls::pki_types::pem::PemObject;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCert(provider)));
    let config = match client {
        Some((crt, key)) => {
            let chain = CertificateDer::pem_file_iter(crt)
                .expect("crt")
                .collect::<Result<Vec<_>, _>>()
                .expect("certs");
            let key = rustls::pki_types::PrivateKeyDer::from_pem_file(key).expect("key");
            builder
                .with_client_auth_cert(chain, key)
                .expect("client auth")
        }
        None => builder.with_no_client_auth(),
    };
    let sni = ServerName::try_from(name.to_string()).expect("name");
    let conn = ClientConnection::new(Arc::new(config), sni).expect("client");
    let tcp = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    tcp.set_read_timeout(Some(common::TIMEOUT))
        .expect("timeout");
    let mut tls = StreamOwned::new(conn, tcp);
    while tls.conn.is_handshaking() {
        tls.conn.complete_io(&mut tls.sock).expect("handshake");
    }
    tls
}

/// The certificate the server presented.
fn presented(tls: &Tls) -> Vec<u8> {
    tls.conn.peer_certificates().expect("certs")[0].to_vec()
}

/// One response read from a keep-alive TLS stream (Content-Length body).
fn read_one(tls: &mut Tls) -> Response {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16384];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map_or(0, |v| v.trim().parse().expect("length"));
            if buf.len() >= end + 4 + len {
                return parse(&buf[..end + 4 + len]).pop().expect("response");
            }
        }
        let n = tls.read(&mut chunk).expect("read");
        assert!(n > 0, "closed early after {} bytes", buf.len());
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn request(tls: &mut Tls, path: &str, host: &str) -> Response {
    let req = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n");
    tls.write_all(req.as_bytes()).expect("send");
    read_one(tls)
}

fn tls_server(extra: &str, files: &[(&str, &[u8])]) -> Server {
    let conf = format!(
        "server.modules += (\"mod_openssl\", \"mod_setenv\")\nssl.engine = \"enable\"\n\
         ssl.pemfile = \"@DIR@/a.pem\"\n{extra}"
    );
    // the certificates go into the test directory before the server reads them
    let dir = common::temp_dir("tlscerts");
    make_cert(&dir, "a", "a.test");
    make_cert(&dir, "b", "b.test");
    let conf = conf.replace("@DIR@", &dir.display().to_string());
    let mut s = Server::start(&conf, files);
    std::fs::rename(&dir, s.dir.join("certs")).expect("move certs");
    s.docroot = s.dir.join("www");
    s
}

#[test]
fn get_keepalive_scheme_and_redirect() {
    let s = tls_server(
        "$HTTP[\"scheme\"] == \"https\" { setenv.add-response-header = (\"X-Scheme\" => \"https\") }\n\
         server.feature-flags = (\"server.absolute-dir-redirect\" => \"enable\")",
        &[("index.html", b"hello tls\n"), ("sub/x.txt", b"x")],
    );
    let mut tls = tls_connect(s.port, "a.test");
    let first = request(&mut tls, "/index.html", "a.test");
    assert_eq!(first.status, 200);
    assert_eq!(first.text(), "hello tls\n");
    assert_eq!(first.header("X-Scheme"), Some("https"));
    let second = request(&mut tls, "/sub", "a.test");
    assert_eq!(second.status, 301);
    let loc = second.header("Location").expect("location");
    assert!(loc.starts_with("https://a.test"), "{loc}");
}

#[test]
fn large_file_arrives_intact() {
    let big: Vec<u8> = (0..3 * 1024 * 1024 + 17)
        .map(|i| (i * 7 % 251) as u8)
        .collect();
    let s = tls_server("", &[("big.bin", &big)]);
    let mut tls = tls_connect(s.port, "a.test");
    let r = request(&mut tls, "/big.bin", "a.test");
    assert_eq!(r.status, 200);
    assert!(r.body == big, "body differs ({} bytes)", r.body.len());
    // the connection is still usable afterwards
    assert_eq!(
        request(&mut tls, "/big.bin", "a.test").body.len(),
        big.len()
    );
}

#[test]
fn sni_selects_the_host_certificate() {
    let s = tls_server(
        "$HTTP[\"host\"] == \"b.test\" { ssl.pemfile = \"@DIR@/b.pem\" }",
        &[("index.html", b"x")],
    );
    let certs = s.dir.join("certs");
    let a = cert_der(&certs.join("a.crt"));
    let b = cert_der(&certs.join("b.crt"));
    assert_ne!(a, b);
    let mut tls_b = tls_connect(s.port, "b.test");
    assert!(presented(&tls_b) == b, "b.test got another certificate");
    assert_eq!(request(&mut tls_b, "/index.html", "b.test").status, 200);
    let tls_a = tls_connect(s.port, "a.test");
    assert!(presented(&tls_a) == a, "a.test got another certificate");
    let tls_other = tls_connect(s.port, "other.test");
    assert!(presented(&tls_other) == a);
}

#[test]
fn plain_http_on_a_tls_port_is_closed_without_reply() {
    let s = tls_server("", &[("index.html", b"x")]);
    let reply = s.raw(b"GET /index.html HTTP/1.0\r\n\r\n");
    assert!(reply.is_empty(), "got {reply:?}");
}

#[test]
fn stalled_handshake_is_dropped_after_the_read_timeout() {
    let s = tls_server("server.max-read-idle = 1", &[("index.html", b"x")]);
    let mut c = s.connect();
    c.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    // the start of a ClientHello record, then nothing
    c.write_all(&[0x16, 0x03, 0x01, 0x01, 0x00, 0x01])
        .expect("send");
    let t0 = Instant::now();
    let mut buf = [0u8; 64];
    let n = c.read(&mut buf).expect("closed, not timed out");
    assert_eq!(n, 0);
    let waited = t0.elapsed();
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(7),
        "{waited:?}"
    );
}

/// `lighttpd -tt` of a config with `ssl.pemfile = <pem>`: status and stderr.
fn check_config(pem: &str) -> (i32, String) {
    let dir = common::temp_dir("tlstt");
    let conf = dir.join("t.conf");
    std::fs::write(
        &conf,
        format!(
            "server.document-root = \"{}\"\nserver.port = 8443\nserver.modules += (\"mod_openssl\")\n\
             ssl.engine = \"enable\"\nssl.pemfile = \"{pem}\"\n",
            dir.display()
        ),
    )
    .expect("conf");
    let out = Command::new(env!("CARGO_BIN_EXE_lighttpd"))
        .arg("-tt")
        .arg("-f")
        .arg(&conf)
        .output()
        .expect("run");
    let _ = std::fs::remove_dir_all(&dir);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bad_pemfiles_fail_the_config_test() {
    let dir = common::temp_dir("tlsbad");
    make_cert(&dir, "a", "a.test");
    make_cert(&dir, "b", "b.test");
    let (code, err) = check_config("/nonexistent/x.pem");
    assert_eq!(code, 255);
    assert!(
        err.contains("fdevent_load_file() /nonexistent/x.pem: No such file or directory"),
        "{err}"
    );
    assert!(
        err.contains("Initialization of plugins failed. Going down."),
        "{err}"
    );
    let mut mismatch = std::fs::read(dir.join("a.crt")).expect("crt");
    mismatch.extend(std::fs::read(dir.join("b.key")).expect("key"));
    let bad = dir.join("mismatch.pem");
    std::fs::write(&bad, mismatch).expect("write");
    let (code, err) = check_config(&bad.display().to_string());
    assert_eq!(code, 255);
    assert!(
        err.contains("SSL:Private key does not match the certificate public key"),
        "{err}"
    );
    let key_only = dir.join("b.key").display().to_string();
    let (code, err) = check_config(&key_only);
    assert_eq!(code, 255);
    assert!(
        err.contains(&format!(
            "SSL: couldn't read X509 certificate from '{key_only}'"
        )),
        "{err}"
    );
    let good = dir.join("a.pem").display().to_string();
    let (code, err) = check_config(&good);
    assert_eq!(code, 0, "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The `name=value` lines a CGI script printed, as pairs.
fn env_lines(body: &str) -> Vec<(String, String)> {
    body.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn var<'a>(env: &'a [(String, String)], name: &str) -> Option<&'a str> {
    env.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

#[test]
fn cgi_sees_https_and_the_client_certificate() {
    let dir = common::temp_dir("tlsclient");
    make_cert_with(
        &dir,
        "client",
        "/CN=alice/O=Example",
        &["-addext", "basicConstraints=critical,CA:FALSE"],
    );
    let conf = format!(
        "server.modules += (\"mod_cgi\")\ncgi.assign = (\".sh\" => \"/bin/sh\")\n\
         ssl.ca-file = \"{ca}\"\nssl.verifyclient.activate = \"enable\"\n\
         ssl.verifyclient.enforce = \"disable\"\n\
         ssl.verifyclient.username = \"SSL_CLIENT_S_DN_CN\"",
        ca = dir.join("client.crt").display()
    );
    let s = tls_server(
        &conf,
        &[(
            "env.sh",
            b"printf 'Content-Type: text/plain\\r\\n\\r\\n'\nenv\n",
        )],
    );
    let with_cert = Some((dir.join("client.crt"), dir.join("client.key")));
    let with_cert = with_cert.as_ref().map(|(c, k)| (c.as_path(), k.as_path()));
    let mut tls = tls_connect_as(s.port, "a.test", with_cert);
    let r = request(&mut tls, "/env.sh", "a.test");
    assert_eq!(r.status, 200, "{}", r.text());
    let env = env_lines(&r.text());
    assert_eq!(var(&env, "HTTPS"), Some("on"));
    assert_eq!(var(&env, "REQUEST_SCHEME"), Some("https"));
    assert_eq!(var(&env, "SERVER_PORT"), Some(s.port.to_string().as_str()));
    assert!(
        matches!(var(&env, "SSL_PROTOCOL"), Some("TLSv1.3" | "TLSv1.2")),
        "{env:?}"
    );
    assert!(
        var(&env, "SSL_CIPHER").is_some_and(|c| c.starts_with("TLS_")),
        "{env:?}"
    );
    assert_eq!(var(&env, "SSL_CLIENT_VERIFY"), Some("SUCCESS"));
    assert_eq!(
        var(&env, "SSL_CLIENT_S_DN"),
        Some("CN = alice, O = Example")
    );
    assert_eq!(var(&env, "SSL_CLIENT_S_DN_O"), Some("Example"));
    assert_eq!(var(&env, "REMOTE_USER"), Some("alice"));
    assert_eq!(var(&env, "AUTH_TYPE"), Some("SSL_CLIENT_VERIFY"));
    let mut anon = tls_connect(s.port, "a.test");
    let env = env_lines(&request(&mut anon, "/env.sh", "a.test").text());
    assert_eq!(var(&env, "SSL_CLIENT_VERIFY"), Some("NONE"));
    assert_eq!(var(&env, "REMOTE_USER"), None);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn idle_keepalive_close_sends_close_notify() {
    let s = tls_server("server.max-keep-alive-idle = 1", &[("index.html", b"x")]);
    let mut tls = tls_connect(s.port, "a.test");
    assert_eq!(request(&mut tls, "/index.html", "a.test").status, 200);
    let mut buf = [0u8; 16];
    // rustls reports a TCP close without close_notify as UnexpectedEof
    match tls.read(&mut buf) {
        Ok(0) => {}
        other => panic!("expected a clean TLS close, got {other:?}"),
    }
}

#[test]
fn tls_on_a_unix_socket_is_never_served_in_clear_text() {
    let sock = common::temp_dir("tlsunix").join("s.sock");
    let s = tls_server(
        &format!(
            "$SERVER[\"socket\"] == \"{}\" {{ ssl.engine = \"enable\" ssl.pemfile = \"@DIR@/a.pem\" }}",
            sock.display()
        ),
        &[("index.html", b"secret")],
    );
    let deadline = Instant::now() + common::TIMEOUT;
    let mut c = loop {
        match std::os::unix::net::UnixStream::connect(&sock) {
            Ok(c) => break c,
            Err(e) if Instant::now() > deadline => panic!("connect: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    };
    c.set_read_timeout(Some(common::TIMEOUT)).expect("timeout");
    // (the server may already have closed: the write can fail)
    let _ = c.write_all(b"GET /index.html HTTP/1.0\r\n\r\n");
    let mut reply = Vec::new();
    let _ = c.read_to_end(&mut reply);
    assert!(reply.is_empty(), "{}", String::from_utf8_lossy(&reply));
    drop(s);
    let _ = std::fs::remove_dir_all(sock.parent().expect("dir"));
}
