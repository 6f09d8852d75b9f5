//! mod_accesslog against the real binary: the default format, custom
//! formats and conditional log files.

mod common;

use common::Server;
use std::time::{Duration, Instant};

fn read_lines(path: &std::path::Path, n: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(20);
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

/// The field after `name=` in a `name=value name=value` line.
fn field<'a>(line: &'a str, name: &str) -> &'a str {
    line.split(' ')
        .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
        .unwrap_or_else(|| panic!("{name} missing in {line}"))
}

#[test]
fn sub_second_times_and_byte_counts() {
    use std::os::unix::fs::PermissionsExt;
    let s = Server::start(
        r#"server.modules = ("mod_accesslog", "mod_cgi")
cgi.assign = (".sh" => "")
accesslog.filename = "@DIR@/t.log"
accesslog.format = "T=%T ms=%{ms}T D=%D us=%{us}T ns=%{ns}T b=%b O=%O I=%I X=%X s=%{sec}t bms=%{begin:msec}t ems=%{end:msec}t f=%{msec_frac}t p=%p A=%A f2=%f""#,
        &[("alpha.txt", b"alpha\n"), ("big.bin", &[b'x'; 4 << 20])],
    );
    let p = s.docroot.join("slow.sh");
    std::fs::write(
        &p,
        "#!/bin/sh\nsleep 0.3\nprintf 'Content-Type: text/plain\\r\\n\\r\\nok'\n",
    )
    .expect("write");
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    assert_eq!(s.get("/slow.sh").status, 200);
    s.raw(b"POST /alpha.txt HTTP/1.0\r\nContent-Length: 5\r\n\r\nabcde");
    s.raw(b"HEAD /alpha.txt HTTP/1.0\r\n\r\n");
    // A client that goes away mid-response: the entry says X.
    {
        let mut c = s.connect();
        use std::io::Write;
        c.write_all(b"GET /big.bin HTTP/1.0\r\n\r\n").expect("send");
    }
    let lines = read_lines(&s.dir.join("t.log"), 4);
    assert_eq!(lines.len(), 4, "{lines:?}");
    let slow = &lines[0];
    let num = |n: &str| field(slow, n).parse::<i64>().unwrap_or(-2);
    assert!((300..10_000).contains(&num("ms")), "{slow}");
    assert!((300_000..10_000_000).contains(&num("D")), "{slow}");
    assert_eq!(num("D"), num("us"), "{slow}");
    assert!(
        num("ns") > 300_000_000 && num("ns") <= num("us") * 1000,
        "{slow}"
    );
    assert!((0..=10).contains(&num("T")), "{slow}");
    assert!(num("ems") - num("bms") >= 300, "{slow}");
    assert!(
        num("bms") >= before - 1 && num("s") >= before / 1000,
        "{slow}"
    );
    assert_eq!(field(slow, "f").len(), 3, "{slow}");
    assert!(num("O") > num("b") + 50 && num("b") == 2, "{slow}");
    assert_eq!(field(slow, "X"), "-");
    assert_eq!(field(slow, "p"), s.port.to_string());
    assert_eq!(field(slow, "A"), "127.0.0.1");
    assert!(field(slow, "f2").ends_with("/slow.sh"), "{slow}");
    let post = &lines[1];
    // lighttpd counts what was read: the head (47 bytes); the static
    // handler does not read the body.
    assert_eq!(field(post, "I"), "47", "{post}");
    assert_eq!(field(post, "b"), "6");
    let head = &lines[2];
    assert_eq!(field(head, "b"), "0", "{head}");
    assert!(field(head, "O").parse::<u32>().unwrap_or(0) > 100, "{head}");
    assert_eq!(field(&lines[3], "X"), "X", "{}", lines[3]);
}

#[test]
fn bad_request_and_error_page_fields() {
    let s = Server::start(
        r#"server.modules = ("mod_accesslog")
accesslog.filename = "@DIR@/e.log"
accesslog.format = "r=%r|I=%I|f=%f|b=%b|C=%C|%{c1}C""#,
        &[("alpha.txt", b"alpha\n")],
    );
    s.raw(b"GARBAGE\r\n\r\n");
    s.raw(b"GET /missing HTTP/1.0\r\nCookie: c0=1; c1=v1 ; c2=3\r\n\r\n");
    s.raw(b"GET /%41%0a.txt HTTP/1.0\r\n\r\n");
    let lines = read_lines(&s.dir.join("e.log"), 3);
    assert_eq!(
        lines,
        [
            "r=  |I=11|f=-|b=345|C=|",
            "r=GET /missing HTTP/1.0|I=53|f=-|b=341|C=|v1",
            "r=GET /%41%0a.txt HTTP/1.0|I=28|f=-|b=345|C=|",
        ]
    );
}

/// As lighttpd: every configured log file is opened when the server starts
/// (a conditional one no request uses exists at once); one that cannot be
/// opened stops the start, but not `-tt`, which opens nothing.
#[test]
fn log_files_open_at_startup() {
    let s = Server::start(
        "server.modules = (\"mod_accesslog\")\naccesslog.filename = \"@DIR@/access.log\"\n\
         $HTTP[\"host\"] == \"unused.example\" { accesslog.filename = \"@DIR@/never.log\" }",
        &[],
    );
    assert!(s.dir.join("never.log").is_file());
    assert!(s.dir.join("access.log").is_file());

    let dir = common::temp_dir("alog-open");
    let port = common::free_port();
    let conf = format!(
        "server.document-root = \"{d}\"\nserver.bind = \"127.0.0.1\"\nserver.port = {port}\n\
         server.modules = (\"mod_accesslog\")\n\
         $HTTP[\"host\"] == \"x\" {{ accesslog.filename = \"{d}/no/such/dir/a.log\" }}\n",
        d = dir.display()
    );
    let err = Server::try_start_conf(dir.clone(), dir.clone(), port, &conf, &["-D"])
        .err()
        .expect("the server must not start");
    assert!(
        err.contains("exit status: 255")
            && err.contains("/no/such/dir/a.log' failed")
            && err.contains("Configuration of plugins failed. Going down."),
        "{err}"
    );
    let check = std::process::Command::new(env!("CARGO_BIN_EXE_lighttpd"))
        .arg("-tt")
        .arg("-f")
        .arg(dir.join("lighttpd.conf"))
        .output()
        .expect("run -tt");
    assert!(check.status.success(), "{check:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// SIGHUP (log rotation) reopens every log file at once, as lighttpd: the
/// rotated-away files are recreated before any request logs to them.
#[test]
fn sighup_reopens_every_log_file() {
    let s = Server::start(
        "server.modules = (\"mod_accesslog\")\naccesslog.filename = \"@DIR@/access.log\"\n\
         $HTTP[\"host\"] == \"unused.example\" { accesslog.filename = \"@DIR@/never.log\" }",
        &[],
    );
    for name in ["access.log", "never.log"] {
        std::fs::rename(s.dir.join(name), s.dir.join(format!("{name}.1"))).expect("rotate");
    }
    common::signal(s.pid(), libc::SIGHUP);
    let deadline = Instant::now() + Duration::from_secs(10);
    let reopened = || s.dir.join("access.log").is_file() && s.dir.join("never.log").is_file();
    while !reopened() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(reopened(), "log files not recreated after SIGHUP");
}
