//! mod_cgi against the real binary: environment, request bodies, Status
//! and Location heads, NPH, local redirects, garbage, timeouts.

mod common;

use common::Server;
use std::os::unix::fs::PermissionsExt;

const SCRIPTS: &[(&str, &str)] = &[
    (
        "env.sh",
        "printf 'Content-Type: text/plain\\r\\n\\r\\n'; env",
    ),
    (
        "post.sh",
        "printf 'Status: 201\\nX-Len: %s\\n\\n' \"$CONTENT_LENGTH\"; cat",
    ),
    ("redir.sh", "printf 'Location: /alpha.txt\\n\\n'"),
    ("ext.sh", "printf 'Location: http://example.org/\\n\\n'"),
    ("self.sh", "printf 'Location: /cgi/self.sh?again\\n\\n'"),
    ("loop.sh", "printf 'Location: /cgi/loop2.sh\\n\\n'"),
    ("loop2.sh", "printf 'Location: /cgi/loop.sh\\n\\n'"),
    (
        "nph.sh",
        "printf 'HTTP/1.1 418 Teapot\\r\\nX: y\\r\\n\\r\\nstout'",
    ),
    ("bad.sh", "printf 'Status: 99x\\n\\n'"),
    ("plain.sh", "echo hello world"),
    ("silent.sh", "exit 0"),
    ("hang.sh", "sleep 30"),
    ("endless_head.sh", "exec yes 'X-Endless: head'"),
    ("badlen.sh", "printf 'Content-Length: 1x\\n\\nabc'"),
];

fn server(extra: &str) -> Server {
    let s = Server::start(
        &format!("server.modules = (\"mod_cgi\", \"mod_setenv\")\ncgi.assign = (\".sh\" => \"\")\n{extra}"),
        &[("alpha.txt", b"alpha\n")],
    );
    std::fs::create_dir_all(s.docroot.join("cgi")).expect("mkdir");
    for (name, body) in SCRIPTS {
        let p = s.docroot.join("cgi").join(name);
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).expect("write");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    s
}

fn req(s: &Server, raw: &str) -> common::Response {
    common::parse(&s.raw(raw.as_bytes()))
        .pop()
        .expect("a response")
}

#[test]
fn environment_is_lighttpds() {
    let s = server("setenv.add-environment = (\"my-var\" => \"v1\")");
    let r = req(&s, "GET /cgi/env.sh/extra?q=1 HTTP/1.0\r\nHost: h:1\r\nProxy: evil\r\nContent-Type: x/y\r\n\r\n");
    let env = r.text();
    let has = |line: &str| env.lines().any(|l| l == line);
    for line in [
        "QUERY_STRING=q=1",
        "REQUEST_URI=/cgi/env.sh/extra?q=1",
        "SCRIPT_NAME=/cgi/env.sh",
        "PATH_INFO=/extra",
        "REDIRECT_STATUS=200",
        "GATEWAY_INTERFACE=CGI/1.1",
        "SERVER_PROTOCOL=HTTP/1.0",
        "SERVER_NAME=h",
        "REMOTE_ADDR=127.0.0.1",
        "HTTP_HOST=h:1",
        "CONTENT_TYPE=x/y",
        "CONTENT_LENGTH=0",
        "MY_VAR=v1",
    ] {
        assert!(has(line), "missing {line} in\n{env}");
    }
    assert!(!env.contains("HTTP_PROXY"), "httpoxy");
    assert!(has(&format!("SERVER_PORT={}", s.port)));
    assert!(has(&format!(
        "SCRIPT_FILENAME={}/cgi/env.sh",
        s.docroot.display()
    )));
}

#[test]
fn bodies_statuses_and_heads() {
    let s = server("");
    let r = req(
        &s,
        "POST /cgi/post.sh HTTP/1.0\r\nContent-Length: 5\r\n\r\nhello",
    );
    assert_eq!(
        (r.status, r.header("X-Len"), r.text().as_str()),
        (201, Some("5"), "hello")
    );
    let big = "x".repeat(300_000);
    let r = req(
        &s,
        &format!(
            "POST /cgi/post.sh HTTP/1.0\r\nContent-Length: {}\r\n\r\n{big}",
            big.len()
        ),
    );
    assert_eq!(r.body.len(), big.len(), "large bodies go through the pipe");
    let r = req(&s, "GET /cgi/redir.sh HTTP/1.0\r\n\r\n");
    assert_eq!((r.status, r.header("Location")), (302, Some("/alpha.txt")));
    let r = req(&s, "GET /cgi/nph.sh HTTP/1.0\r\n\r\n");
    assert_eq!(
        (r.status_line.as_str(), r.text().as_str()),
        ("HTTP/1.0 418 ", "stout")
    );
    assert_eq!(req(&s, "GET /cgi/bad.sh HTTP/1.0\r\n\r\n").status, 502);
    assert_eq!(
        req(&s, "GET /cgi/plain.sh HTTP/1.0\r\n\r\n").text(),
        "hello world\n"
    );
    assert_eq!(req(&s, "GET /cgi/silent.sh HTTP/1.0\r\n\r\n").status, 500);
}

#[test]
fn local_redirects() {
    let s = server("cgi.local-redir = \"enable\"");
    let r = req(&s, "GET /cgi/redir.sh HTTP/1.0\r\n\r\n");
    assert_eq!((r.status, r.text().as_str()), (200, "alpha\n"));
    assert_eq!(req(&s, "GET /cgi/ext.sh HTTP/1.0\r\n\r\n").status, 302);
    assert_eq!(
        req(&s, "GET /cgi/self.sh HTTP/1.0\r\n\r\n").status,
        302,
        "same path is not redirected"
    );
    assert_eq!(req(&s, "GET /cgi/loop.sh HTTP/1.0\r\n\r\n").status, 500);
}

#[test]
fn read_timeout_gives_504_and_kills() {
    let s = server("cgi.limits = (\"read-timeout\" => 1)");
    let t = std::time::Instant::now();
    assert_eq!(req(&s, "GET /cgi/hang.sh HTTP/1.0\r\n\r\n").status, 504);
    assert!(
        t.elapsed() < std::time::Duration::from_secs(8),
        "{:?}",
        t.elapsed()
    );
    // The server keeps serving.
    assert_eq!(req(&s, "GET /cgi/plain.sh HTTP/1.0\r\n\r\n").status, 200);
}

#[test]
fn endless_head_is_502_quickly() {
    let s = server("");
    let t = std::time::Instant::now();
    assert_eq!(
        req(&s, "GET /cgi/endless_head.sh HTTP/1.0\r\n\r\n").status,
        502
    );
    assert!(
        t.elapsed() < std::time::Duration::from_secs(8),
        "{:?}",
        t.elapsed()
    );
}

#[test]
fn invalid_content_length_is_not_passed_on() {
    let s = server("");
    let raw = s.raw(
        b"GET /cgi/badlen.sh HTTP/1.1\r\nHost: h\r\n\r\nGET /alpha.txt HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
    );
    let rs = common::parse(&raw);
    assert_eq!(rs.len(), 2, "{}", String::from_utf8_lossy(&raw));
    assert_eq!(
        (rs[0].header("Content-Length"), rs[0].text().as_str()),
        (Some("3"), "abc")
    );
    assert_eq!(rs[1].text(), "alpha\n");
}
