//! mod_ssi against the real binary: directives, nested includes, headers,
//! conditional requests, and hostile pages (loops, fan-out, huge files,
//! overlong and unterminated directives) staying bounded.

mod common;

use common::Server;
use std::time::{Duration, Instant};

const SSI: &str = "server.modules = (\"mod_ssi\")\nssi.extension = (\".shtml\")";

/// GET with a 60 s read timeout (for pages waiting on commands).
fn request_slowly(port: u16, path: &str) -> Vec<u8> {
    let mut c = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    c.set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    let req = format!("GET {path} HTTP/1.0\r\n\r\n");
    std::io::Write::write_all(&mut c, req.as_bytes()).expect("send");
    common::read_to_close(&mut c)
}

fn start(extra: &str, files: &[(&str, &[u8])]) -> Server {
    Server::start(&format!("{SSI}\n{extra}"), files)
}

#[test]
fn directives_produce_the_page() {
    let page = b"<!--#set var=\"v\" value=\"a<b\" -->[<!--#echo var=\"v\" -->]\
[<!--#echo var=\"DOCUMENT_NAME\" -->][<!--#echo var=\"DOCUMENT_URI\" -->]\
[<!--#echo var=\"QUERY_STRING\" -->][<!--#include file=\"part.txt\" -->]\
[<!--#include virtual=\"/sub/part.txt\" -->][<!--#fsize file=\"part.txt\" -->]\
<!--#if expr=\"$v = 'a<b' && !($QUERY_STRING = '')\" -->[yes]<!--#else -->[no]<!--#endif -->\
<!--#printenv -->";
    let s = start(
        "",
        &[
            ("p.shtml", page),
            ("part.txt", b"PART"),
            ("sub/part.txt", b"SUB"),
        ],
    );
    let r = s.get("/p.shtml?q=1");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Content-Type"), Some("text/html"));
    assert_eq!(r.header("ETag"), None);
    assert_eq!(r.header("Last-Modified"), None);
    let body = r.text();
    assert!(
        body.starts_with("[a<b][p.shtml][/p.shtml][q=1][PART][SUB][4][yes]v=a&#x3C;b\n"),
        "{body}"
    );
    assert!(body.contains("\nREQUEST_METHOD=GET\n"), "{body}");
    assert_eq!(
        r.header("Content-Length"),
        Some(r.body.len().to_string().as_str())
    );
}

#[test]
fn files_without_the_extension_are_static() {
    let s = start("", &[("p.html", b"<!--#echo var=\"x\" -->")]);
    assert_eq!(s.get("/p.html").text(), "<!--#echo var=\"x\" -->");
}

#[test]
fn content_type_and_conditional_requests() {
    let s = start(
        "ssi.content-type = \"text/plain\"\nssi.conditional-requests = \"enable\"",
        &[("p.shtml", b"x<!--#echo var=\"DOCUMENT_URI\" -->")],
    );
    let r = s.get("/p.shtml");
    assert_eq!(r.header("Content-Type"), Some("text/plain"));
    assert_eq!(r.text(), "x/p.shtml");
    let etag = r.header("ETag").expect("etag").to_string();
    assert!(r.header("Last-Modified").is_some());
    let req = format!(
        "GET /p.shtml HTTP/1.1\r\nHost: t\r\nIf-None-Match: {etag}\r\nConnection: close\r\n\r\n"
    );
    let again = common::parse(&s.raw(req.as_bytes()))
        .pop()
        .expect("response");
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());
}

#[test]
fn exec_runs_the_shell_unless_disabled() {
    let page: &[u8] = b"a<!--#exec cmd=\"echo $((6*7))\" -->b";
    let on = start("", &[("e.shtml", page)]);
    assert_eq!(on.get("/e.shtml").text(), "a42\nb");
    let off = start("ssi.exec = \"disable\"", &[("e.shtml", page)]);
    assert_eq!(off.get("/e.shtml").text(), "ab");
}

#[test]
fn exec_does_not_block_other_requests() {
    let s = start("", &[("fast.txt", b"fast")]);
    // the command says it runs, then waits (8 s at most: the exec time
    // limit is 10 s) for the go file
    let (started, go) = (s.dir.join("started"), s.dir.join("go"));
    let cmd = format!(
        "touch {}; i=0; while [ ! -e {} ] && [ $i -lt 160 ]; do sleep 0.05; i=$((i+1)); done; echo late",
        started.display(),
        go.display()
    );
    let page = format!("[<!--#exec cmd=\"{cmd}\" -->][<!--#exec cmd=\"echo second\" -->]");
    std::fs::write(s.docroot.join("slow.shtml"), page).expect("write");
    let port = s.port;
    let slow = std::thread::spawn(move || request_slowly(port, "/slow.shtml"));
    assert!(common::wait_for(Duration::from_secs(20), || started.exists()));
    // answered while the command runs (a blocked server would answer only
    // after the command gave up waiting, 8 s later)
    let t = Instant::now();
    assert_eq!(s.get("/fast.txt").text(), "fast");
    assert!(t.elapsed() < Duration::from_secs(6), "{:?}", t.elapsed());
    std::fs::write(&go, "").expect("go");
    let body = slow.join().expect("join");
    let r = common::parse(&body).pop().expect("response");
    assert_eq!(r.text(), "[late\n][second\n]");
}

#[test]
fn exec_is_killed_after_its_time_limit() {
    let s = start(
        "",
        &[(
            "hang.shtml",
            b"a<!--#exec cmd=\"echo part; exec sleep 60\" -->b",
        )],
    );
    let t = Instant::now();
    let mut c = std::net::TcpStream::connect(("127.0.0.1", s.port)).expect("connect");
    c.set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    std::io::Write::write_all(&mut c, b"GET /hang.shtml HTTP/1.0\r\n\r\n").expect("send");
    // (read by hand: how the answer ended says what went wrong if it did)
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let end = loop {
        match std::io::Read::read(&mut c, &mut buf) {
            Ok(0) => break "EOF".to_string(),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => break e.to_string(),
        }
    };
    let alive = std::path::Path::new(&format!("/proc/{}", s.pid())).exists();
    let r = common::parse(&got).pop().unwrap_or_else(|| {
        panic!(
            "no response after {:?} ({end}; {got:?}; server alive: {alive})",
            t.elapsed()
        )
    });
    assert_eq!(r.text(), "apart\nb");
    let took = t.elapsed();
    assert!(
        took >= Duration::from_secs(9) && took < Duration::from_secs(40),
        "{took:?}"
    );
}

#[test]
fn nested_includes_follow_recursion_max() {
    let files: &[(&str, &[u8])] = &[
        ("a.shtml", b"A(<!--#include virtual=\"b.shtml\" -->)"),
        ("b.shtml", b"B<!--#echo var=\"DOCUMENT_NAME\" -->"),
    ];
    let raw = start("", files);
    assert_eq!(
        raw.get("/a.shtml").text(),
        "A(B<!--#echo var=\"DOCUMENT_NAME\" -->)"
    );
    let nested = start("ssi.recursion-max = 2", files);
    assert_eq!(nested.get("/a.shtml").text(), "A(Bb.shtml)");
}

#[test]
fn include_loops_and_fan_out_stay_bounded() {
    let a = "<!--#include virtual=\"b.shtml\" -->".repeat(4);
    let b = "<!--#include virtual=\"a.shtml\" -->".repeat(4);
    let s = start(
        "ssi.recursion-max = 25",
        &[
            ("a.shtml", a.as_bytes()),
            ("b.shtml", b.as_bytes()),
            ("self.shtml", b"x<!--#include virtual=\"self.shtml\" -->y"),
        ],
    );
    assert_eq!(
        s.get("/self.shtml").text(),
        "x(error: include directives create an infinite loop)y"
    );
    let t = Instant::now();
    let r = s.get("/a.shtml");
    assert_eq!(r.status, 200);
    assert!(t.elapsed() < Duration::from_secs(20));
    assert!(
        r.text().contains(
            "(error: include directives recurse deeper than pre-defined ssi.recursion-max)"
        ) || r.body.is_empty()
    );
    // the server still answers
    assert_eq!(s.get("/self.shtml").status, 200);
}

#[test]
fn hostile_pages_do_not_break_the_server() {
    let mut big = Vec::new();
    for i in 0..20_000 {
        big.extend_from_slice(
            format!("line {i} <!--#echo var=\"DOCUMENT_URI\" --> < <!- x\n").as_bytes(),
        );
    }
    let mut long = b"<!--#echo var=\"".to_vec();
    long.extend(std::iter::repeat_n(b'x', 20_000));
    long.extend_from_slice(b"\" -->end");
    let s = start(
        "",
        &[
            ("big.shtml", &big),
            ("long.shtml", &long),
            ("open.shtml", b"text <!--#echo var=\"x"),
            (
                "bad.shtml",
                b"<!--#if expr=\"((((\" -->hidden<!--#endif -->shown<!--#endif --><!--#else -->",
            ),
        ],
    );
    let r = s.get("/big.shtml");
    let want: usize = (0..20_000)
        .map(|i| format!("line {i} /big.shtml < <!- x\n").len())
        .sum();
    assert_eq!(r.body.len(), want);
    let r = s.get("/long.shtml");
    assert!(r
        .text()
        .starts_with("<!-- [an error occurred: directive too long] "));
    assert!(r.text().ends_with("end"));
    assert_eq!(s.get("/open.shtml").text(), "text <!--#echo var=\"x");
    assert_eq!(s.get("/bad.shtml").text(), "shown");
}

#[test]
fn configs_loading_mod_ssi_pass_the_preflight() {
    let dir = common::temp_dir("ssi-tt");
    let conf = dir.join("l.conf");
    std::fs::write(
        &conf,
        format!(
            "server.document-root = \"{}\"\nserver.port = 1\n{SSI}\nssi.recursion-max = 3\n",
            dir.display()
        ),
    )
    .expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_lighttpd"))
        .args(["-tt", "-f"])
        .arg(&conf)
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn exec_that_never_stops_writing_is_cut_at_the_output_cap() {
    let s = start("", &[("flood.shtml", b"a<!--#exec cmd=\"yes\" -->b")]);
    let t = Instant::now();
    let r = common::parse(&request_slowly(s.port, "/flood.shtml"))
        .pop()
        .expect("response");
    let body = r.body;
    assert!(
        t.elapsed() < Duration::from_millis(9500),
        "cut at the cap, not the time limit (10 s): {:?}",
        t.elapsed()
    );
    assert_eq!(body.len(), 16 * 1024 * 1024 + 2);
    assert!(body.starts_with(b"ay\ny\n") && body.ends_with(b"y\nb"));
}

#[test]
fn fifos_are_never_opened_blocking() {
    let s = start(
        "",
        &[(
            "fifo.shtml",
            b"[<!--#include file=\"pipe\" -->][<!--#include virtual=\"/pipe.shtml\" -->]\
[<!--#fsize file=\"pipe\" -->]",
        )],
    );
    for name in ["pipe", "pipe.shtml"] {
        let made = std::process::Command::new("mkfifo")
            .arg(s.docroot.join(name))
            .status()
            .expect("mkfifo");
        assert!(made.success());
    }
    let t = Instant::now();
    let r = common::parse(&request_slowly(s.port, "/fifo.shtml"))
        .pop()
        .expect("response");
    assert!(t.elapsed() < Duration::from_secs(20), "{:?}", t.elapsed());
    assert_eq!(r.status, 200);
    assert!(r.text().starts_with("[][]["), "{}", r.text());
    // the server still answers
    assert_eq!(s.get("/fifo.shtml").status, 200);
}

#[test]
fn a_huge_recursion_max_still_bounds_the_nesting_depth() {
    let s = start(
        "ssi.recursion-max = 30000",
        &[
            ("a.shtml", b"a<!--#include virtual=\"b.shtml\" -->"),
            ("b.shtml", b"b<!--#include virtual=\"a.shtml\" -->"),
        ],
    );
    let r = common::parse(&request_slowly(s.port, "/a.shtml"))
        .pop()
        .expect("response");
    let text = r.text();
    assert!(text.starts_with("abab"), "{text}");
    assert!(text.ends_with("ssi.recursion-max)"), "{text}");
    let pages = text.split("(error").next().unwrap_or_default();
    assert_eq!(pages.len(), 65, "the page and 64 nested levels: {text}");
    assert_eq!(s.get("/a.shtml").status, 200);
}
