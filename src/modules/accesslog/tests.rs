use super::*;

fn entry() -> Entry<'static> {
    Entry {
        remote_addr: "127.0.0.1",
        local_addr: "127.0.0.1",
        local_port: "8080",
        remote_port: Some(5555),
        bytes_out: 1234,
        bytes_in: 99,
        start: 1_700_000_000,
        end: 1_700_000_002,
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
        conn_status: '+',
    }
}

fn line(fmt: &str) -> String {
    render(&parse_format(fmt).expect("valid format"), &entry(), false)
}

#[test]
fn every_specifier() {
    let table = [
        (
            "%h %a %A %p %{remote}p %{local}p",
            "127.0.0.1 127.0.0.1 127.0.0.1 8080 5555 8080",
        ),
        ("%l %u %% %>s %<s %s", "- - % 200 200 200"),
        ("%b %B %O %I", "1234 1234 1234 99"),
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
        ("%T %{ms}T %D %{us}T", "2 2000 2000000 2000000"),
        (
            "%{sec}t %{begin:msec}t %{msec_frac}t",
            "1700000002 1700000000000 000",
        ),
        ("%e %{REMOTE_USER}e", "- -"),
    ];
    for (fmt, want) in table {
        assert_eq!(line(fmt), want, "{fmt}");
    }
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
    ] {
        assert!(parse_format(bad).is_err(), "{bad}");
    }
    assert!(parse_format("%t %{msec_frac}t").is_ok());
    assert_eq!(
        parse_format("a%%b%lc").expect("ok"),
        vec![Field::Literal("a%b-c".into())]
    );
}

#[test]
fn escaping_default_and_json() {
    let mut s = String::new();
    escape(&mut s, b"a\"b\\c\n\x01\xff", false);
    assert_eq!(s, "a\\\"b\\\\c\\n\\x01\\xFF");
    let mut s = String::new();
    escape(&mut s, b"a\"\n\x01\x07", true);
    assert_eq!(s, "a\\\"\\n\\u0001\\u0007");
    assert_eq!(unescape("a\\tb\\n\\\"\\q\\"), "a\tb\n\"q");
}

#[test]
fn bad_requests_log_empty_request_line() {
    let mut e = entry();
    e.target_orig = None;
    e.method = "";
    e.protocol = "";
    assert_eq!(
        render(&parse_format("\"%r\"").expect("ok"), &e, false),
        "\"  \""
    );
}

#[test]
fn civil_days() {
    assert_eq!(days_from_civil(1970, 1, 1), 0);
    assert_eq!(days_from_civil(2000, 3, 1), 11017);
}
