//! mod_accesslog against the real binary: the default format, custom
//! formats and conditional log files.

mod common;

use common::Server;
use std::time::{Duration, Instant};

fn read_lines(path: &std::path::Path, n: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let lines: Vec<String> = text.lines().map(str::to_string).collect();
        if lines.len() >= n || Instant::now() > deadline {
            return lines;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn default_format_lines() {
    let s = Server::start(
        "server.modules = (\"mod_accesslog\")\naccesslog.filename = \"@DIR@/access.log\"",
        &[("alpha.txt", b"alpha\n")],
    );
    s.raw(b"GET /alpha.txt?x=1 HTTP/1.0\r\nHost: Example.ORG\r\nReferer: http://r/\r\nUser-Agent: t \"q\"\r\n\r\n");
    s.raw(b"GET /missing HTTP/1.0\r\n\r\n");
    let lines = read_lines(&s.dir.join("access.log"), 2);
    assert_eq!(lines.len(), 2, "{lines:?}");
    let (head, rest) = lines[0].split_once(" [").expect("timestamp");
    assert_eq!(head, "127.0.0.1 example.org -");
    let (_, rest) = rest.split_once("] ").expect("timestamp end");
    assert_eq!(
        rest,
        "\"GET /alpha.txt?x=1 HTTP/1.0\" 200 6 \"http://r/\" \"t \\\"q\\\"\""
    );
    assert!(lines[1].starts_with("127.0.0.1 - - ["), "{}", lines[1]);
    assert!(
        lines[1].ends_with("\"GET /missing HTTP/1.0\" 404 341 \"-\" \"-\""),
        "{}",
        lines[1]
    );
}

#[test]
fn custom_format_and_conditions() {
    let s = Server::start(
        "server.modules = (\"mod_accesslog\")\naccesslog.filename = \"@DIR@/a.log\"\naccesslog.format = \"%s|%m|%U|%q|%{X-Test}i|%{Content-Type}o|%k|%X\"\n$HTTP[\"url\"] =^ \"/other\" { accesslog.filename = \"@DIR@/b.log\" }",
        &[("alpha.txt", b"alpha\n")],
    );
    let mut c = s.connect();
    use std::io::Write;
    c.write_all(b"GET /alpha.txt HTTP/1.1\r\nHost: x\r\nX-Test: yes\r\n\r\n")
        .expect("send");
    common::read_response(&mut c, false).expect("first");
    c.write_all(b"HEAD /alpha.txt?z HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .expect("send");
    common::read_response(&mut c, true).expect("second");
    s.get("/other");
    let a = read_lines(&s.dir.join("a.log"), 2);
    assert_eq!(
        a,
        [
            "200|GET|/alpha.txt||yes|text/plain|0|+",
            "200|HEAD|/alpha.txt|z|-|text/plain|1|-"
        ]
    );
    assert_eq!(read_lines(&s.dir.join("b.log"), 1).len(), 1);
}
