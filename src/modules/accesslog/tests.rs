use super::*;

fn entry() -> Entry<'static> {
    Entry {
        remote_addr: "127.0.0.1",
        local_addr: "127.0.0.1",
        local_port: "8080",
        remote_port: Some(5555),
        bytes_out: 1234,
        head_len: 200,
        bytes_in: 99,
        start: 1_700_000_000,
        end: 1_700_000_002,
        start_ns: 1_700_000_000_250_000_000,
        end_ns: 1_700_000_002_000_000_001,
        env: &[],
        filename: "/srv/www/index.html",
        protocol: "HTTP/1.1",
        method: "GET",
        request_headers: vec![
            ("Host", "example.org"),
            ("User-Agent", "curl \"8\""),
            ("Cookie", "a=1; sid=xyz  ; b=2"),
        ],
        response_headers: vec![
            ("Content-Type", "text/html"),
            ("Set-Cookie", "x"),
            ("Set-Cookie", "y"),
        ],
        keepalive_count: 2,
        query: "q=1",
        target_orig: Some("/index.html?q=1"),
        target: "/index.html?q=1",
        status: 200,
        server_name: "example.org",
        host: "example.org",
        conn_status: b'+',
        raw_head: None,
    }
}

fn text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).expect("ASCII line")
}

fn line(fmt: &str) -> String {
    text(render(
        &parse_format(fmt).expect("valid format"),
        &entry(),
        false,
    ))
}

#[test]
fn every_specifier() {
    let table = [
        (
            "%h %a %A %p %{remote}p %{local}p",
            "127.0.0.1 127.0.0.1 127.0.0.1 8080 5555 8080",
        ),
        ("%l %u %% %>s %<s %s", "- - % 200 200 200"),
        ("%b %B %O %I", "1034 1034 1234 99"),
        (
            "%r|%m|%H|%U|%q",
            "GET /index.html?q=1 HTTP/1.1|GET|HTTP/1.1|/index.html|q=1",
        ),
        (
            "%{User-Agent}i %{X-None}i %{set-cookie}o",
            "curl \\\"8\\\" - x, y",
        ),
        ("%{sid}C|%{none}C|%C", "xyz||"),
        (
            "%v %V %f %k %X %P.",
            "example.org example.org /srv/www/index.html 2 + .",
        ),
        (
            "%T %{ms}T %D %{us}T %{ns}T %{s}T",
            "2 1751 1750001 1750001 1750000001 2",
        ),
        (
            "%{sec}t %{begin:msec}t %{msec_frac}t %{begin:usec_frac}t",
            "1700000002 1700000000250 001 250000",
        ),
        (
            "%{begin:sec}t %{usec}t %{begin:nsec}t %{nsec_frac}t",
            "1700000000 1700000002000001 1700000000250000000 000000001",
        ),
        ("%e %{REMOTE_USER}e", "- -"),
    ];
    for (fmt, want) in table {
        assert_eq!(line(fmt), want, "{fmt}");
    }
}

#[test]
fn times_and_bytes_edge_cases() {
    let fields = parse_format("%D|%b|%O|%I|%{ms_frac}t").err();
    assert!(fields.is_some(), "ms_frac is not a token");
    let mut e = entry();
    e.end_ns = e.start_ns;
    (e.bytes_out, e.head_len, e.bytes_in) = (0, 0, 0);
    let f = parse_format("%D|%b|%O|%I").expect("ok");
    assert_eq!(
        text(render(&f, &e, false)),
        "-1|-|-|-",
        "nothing sent, clock still"
    );
    e.bytes_out = 150;
    e.head_len = 150;
    assert_eq!(
        text(render(&f, &e, false)),
        "-1|0|150|-",
        "a head without body"
    );
    // A fraction that rounds up to a whole second stays in its width.
    e.end_ns = 1_700_000_002_999_999_999;
    let f = parse_format("%{msec_frac}t %{usec_frac}t").expect("ok");
    assert_eq!(text(render(&f, &e, false)), "999 999999");
}

#[test]
fn clf_timestamp_shape() {
    let t = line("%t");
    assert!(
        t.starts_with('[') && t.ends_with(']') && t.len() == "[14/Nov/2023:22:13:22 +0000]".len(),
        "{t}"
    );
    assert!(t.contains("/Nov/2023:"), "{t}");
    assert_eq!(line("%{%Y-%m-%d}t").len(), 10);
}

#[test]
fn format_errors() {
    for bad in [
        "%",
        "%{x",
        "%{}i",
        "%Z",
        "%t %t",
        "%{nonsense}t",
        "%t %{%Y}t",
        "%{minutes}T",
        "%{other}p",
    ] {
        assert!(parse_format(bad).is_err(), "{bad}");
    }
    assert!(parse_format("%t %{msec_frac}t").is_ok());
    assert!(parse_format("%{canonical}p %{s}T %{nsec}T").is_ok());
    assert_eq!(
        parse_format("%C").expect("ok"),
        vec![Field::Nothing],
        "blank cookie"
    );
    assert_eq!(
        parse_format("a%%b%lc").expect("ok"),
        vec![Field::Literal("a%b-c".into())]
    );
}

#[test]
fn escaping_default_and_json() {
    let mut s = Vec::new();
    escape(&mut s, b"a\"b\\c\n\x01\x07\x0b\x7f\xc3\xa9\xff", false);
    assert_eq!(s, b"a\\\"b\\\\c\\n\\x01\\a\\v\\x7F\\xC3\\xA9\\xFF");
    // JSON: the same short escapes (\a \v too, as lighttpd), \u00HH below
    // 0x20, bytes from 0x7f copied as they are.
    let mut s = Vec::new();
    escape(&mut s, b"a\"\n\x01\x07\x0b\x1f\x7f\xc3\xa9\xff", true);
    assert_eq!(s, b"a\\\"\\n\\u0001\\a\\v\\u001F\x7f\xc3\xa9\xff");
    assert_eq!(unescape("a\\tb\\n\\\"\\q\\"), "a\tb\n\"q");
}

#[test]
fn bad_requests_log_empty_request_line() {
    let mut e = entry();
    e.target_orig = None;
    e.method = "";
    e.protocol = "";
    assert_eq!(
        text(render(&parse_format("\"%r\" %s").expect("ok"), &e, false)),
        "\"  \" 200"
    );
    e.status = -1;
    assert_eq!(
        text(render(&parse_format("%s").expect("ok"), &e, false)),
        "-1"
    );
}

#[test]
fn civil_days() {
    assert_eq!(days_from_civil(1970, 1, 1), 0);
    assert_eq!(days_from_civil(2000, 3, 1), 11017);
}

#[test]
fn targets_of_rejected_requests() {
    let cases = [
        ("/x?y", "/x?y", "y"),
        ("/x\x01y?q", "/x%01y?q", ""),
        ("/a%22b%5c%00?%0a", "/a%22b%5C%00?%0A", ""),
        ("http://abs.example/hello.txt?a", "/hello.txt?a", "a"),
        ("HTTPS://h", "", ""),
        ("", "", ""),
    ];
    for (orig, target, query) in cases {
        let got = failed_target(orig);
        assert_eq!(
            (got.0.as_str(), got.1.as_str()),
            (target, query),
            "{orig:?}"
        );
    }
}

#[test]
fn files_opened_at_startup() {
    let text = b"accesslog.filename = \"/l/global.log\"\n\
        $HTTP[\"url\"] =~ \"^/a\" { accesslog.filename = \"/l/a.log\" }\n\
        $HTTP[\"url\"] =~ \"^/b\" { accesslog.filename = \"/l/b.log\"\n\
          accesslog.use-syslog = \"enable\" }\n\
        $HTTP[\"url\"] =~ \"^/c\" { accesslog.filename = \"|cat\" }\n\
        $HTTP[\"url\"] =~ \"^/d\" { accesslog.filename = \"\" }\n";
    let tree = crate::config::load_str("t.conf", text).expect("config");
    let conf = compile(&tree).expect("compiles");
    assert_eq!(startup_files(&conf), ["/l/global.log", "/l/a.log"]);
    let syslog = crate::config::load_str(
        "t.conf",
        b"accesslog.filename = \"/l/g.log\"\naccesslog.use-syslog = \"enable\"\n",
    )
    .expect("config");
    assert!(startup_files(&compile(&syslog).expect("compiles")).is_empty());
}

#[test]
fn bytes_that_are_not_utf8_are_logged_as_received() {
    let head =
        b"GET /a?\xff HTTP/1.1\r\nHost: h\r\nUser-Agent:  x\xfey \t\r\nuser-agent: z\r\n\r\n";
    let mut e = entry();
    e.target_orig = Some("/a?\u{FFFD}");
    e.request_headers = vec![("User-Agent", "x\u{FFFD}y"), ("user-agent", "z")];
    e.raw_head = Some(head);
    let f = parse_format("%r|%{User-Agent}i|%{Host}i").expect("ok");
    assert_eq!(
        render(&f, &e, false),
        b"GET /a?\\xFF HTTP/1.1|x\\xFEy, z|-".to_vec()
    );
    // without the raw head (or without a replaced byte) the strings are used
    e.raw_head = None;
    assert_eq!(
        text(render(&f, &e, false)),
        "GET /a?\\xEF\\xBF\\xBD HTTP/1.1|x\\xEF\\xBF\\xBDy, z|-"
    );
    assert_eq!(raw_target(b"BAD\r\n"), None);
    assert_eq!(
        raw_header(b"GET / HTTP/1.0\r\nA: 1\r\n\r\nA: 2", "a"),
        Some(b"1".to_vec())
    );
}
