//! Table tests for the head parser; expected statuses were checked against
//! lighttpd 1.4.69 where marked in modules.md / ecosystem.md §4.5.

use super::*;

fn parse(s: &str) -> Result<Option<(RequestHead, usize)>, HeadError> {
    parse_head(s.as_bytes(), &ParseOpts::default(), 8192)
}

fn ok(s: &str) -> RequestHead {
    match parse(s) {
        Ok(Some((h, n))) => {
            assert_eq!(n, s.len(), "head length for {s:?}");
            h
        }
        other => panic!("{s:?} → {other:?}"),
    }
}

fn status(s: &str) -> u16 {
    match parse(s) {
        Err(e) => e.status,
        other => panic!("{s:?} should fail, got {other:?}"),
    }
}

#[test]
fn simple_get() {
    let h = ok("GET /a%41/../b?x=%7e HTTP/1.1\r\nHost: Example.COM\r\nUser-Agent: t\r\n\r\n");
    assert_eq!(h.method, Method::Get);
    assert_eq!(h.target, "/a%41/../b?x=%7e");
    assert_eq!(h.norm_target, "/b?x=~");
    assert_eq!(h.uri_path, "/b");
    assert_eq!(h.query.as_deref(), Some("x=~"));
    assert_eq!(h.host.as_deref(), Some("example.com"));
    assert_eq!(h.headers.get("host"), Some("example.com"));
    assert_eq!(h.headers.get("user-agent"), Some("t"));
    assert!(h.keep_alive && !h.chunked && h.content_length.is_none() && !h.expect_100);
    assert_eq!(h.version, Version::Http11);
}

#[test]
fn incomplete_and_framing() {
    assert_eq!(parse("GET / HTTP/1.1\r\nHost: x\r\n"), Ok(None));
    assert_eq!(parse(""), Ok(None));
    let buf = b"GET / HTTP/1.0\r\n\r\nGET /next";
    let (h, n) = parse_head(buf, &ParseOpts::default(), 8192)
        .unwrap()
        .unwrap();
    assert_eq!(n, 18);
    assert_eq!(h.version, Version::Http10);
    assert!(!h.keep_alive);
}

#[test]
fn oversized_heads_get_431() {
    let big = format!("GET / HTTP/1.1\r\nX: {}\r\n", "a".repeat(9000));
    assert_eq!(status(&big), 431);
    let big = format!("{big}\r\n");
    assert_eq!(status(&big), 431);
    let small = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    assert_eq!(
        parse_head(small.as_bytes(), &ParseOpts::default(), 10)
            .unwrap_err()
            .status,
        431
    );
    let many = format!("GET / HTTP/1.1\r\n{}", "X: y\r\n".repeat(8200));
    assert_eq!(
        parse_head(many.as_bytes(), &ParseOpts::default(), 1 << 20)
            .unwrap_err()
            .status,
        431
    );
}

#[test]
fn request_line_statuses() {
    for (req, code) in [
        ("GET /\r\n\r\n", 400),                         // HTTP/0.9
        ("\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n", 400), // leading blank line
        ("GET / HTTP/1.2\r\nHost: x\r\n\r\n", 505),
        ("GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505),
        ("GET / HTTP/1.1 \r\nHost: x\r\n\r\n", 400),
        ("GET / http/1.1\r\nHost: x\r\n\r\n", 400),
        ("GET / FOO/1.1\r\nHost: x\r\n\r\n", 400),
        ("get / HTTP/1.1\r\nHost: x\r\n\r\n", 501),
        ("FOO / HTTP/1.1\r\nHost: x\r\n\r\n", 501),
        ("PRI * HTTP/1.1\r\nHost: x\r\n\r\n", 501),
        ("GET HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("GET  HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("GET x HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("GET ../x HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("GET * HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("GET /a\x01b HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("GET /%ff HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("GET / HTTP/1.1\nHost: x\n\n", 400),      // bare LF
        ("GET http://host HTTP/1.1\r\n\r\n", 400), // no path
        ("GET http:/// HTTP/1.1\r\n\r\n", 400),    // empty authority
    ] {
        assert_eq!(status(req), code, "{req:?}");
    }
    assert_eq!(status("\x16\x03\x01"), 400); // TLS on a clear port, incomplete
    let raw = b"GET /\xff HTTP/1.1\r\nHost: x\r\n\r\n";
    assert_eq!(
        parse_head(raw, &ParseOpts::default(), 8192)
            .unwrap_err()
            .status,
        400
    );
    let e = parse("GET / HTTP/1.2\r\nHost: x\r\n\r\n").unwrap_err();
    assert_eq!(e.version, Version::Http10);
    let e = parse("HEAD / HTTP/1.1\r\n\r\n").unwrap_err();
    assert_eq!(
        (e.status, e.version, e.method),
        (400, Version::Http11, Some(Method::Head))
    );
}

#[test]
fn rejected_head_keeps_what_was_parsed_before_the_error() {
    let e = parse("GET /a?q HTTP/1.1\r\nHost: EX.com\r\nX-A: 1\r\nBad Name: 2\r\nX-B: 3\r\n\r\n")
        .unwrap_err();
    let p = e.partial.expect("partial head");
    assert_eq!(p.target, "/a?q");
    assert_eq!(p.host.as_deref(), Some("ex.com"));
    assert_eq!(p.headers.get("x-a"), Some("1"));
    assert_eq!(p.headers.get("x-b"), None);
    let e = parse("GET /a HTTP/1.1 junk\r\nHost: x\r\n\r\n").unwrap_err();
    let p = e.partial.expect("partial head");
    assert_eq!((p.target.as_str(), p.host), ("", None));
}

#[test]
fn odd_but_accepted_request_lines() {
    let h = ok("GET /a b HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(h.norm_target, "/a%20b");
    assert_eq!(h.uri_path, "/a b");
    let h = ok("OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!((h.target.as_str(), h.uri_path.as_str()), ("*", "*"));
    let h = ok("CONNECT 127.0.0.1:443 HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(h.target, "127.0.0.1:443");
    let h = ok("GET HTTP://Other.Example/p?q HTTP/1.1\r\nHost: other.example\r\n\r\n");
    assert_eq!(h.target, "/p?q");
    assert_eq!(h.host.as_deref(), Some("other.example"));
    let h = ok("GET http://a.b/p HTTP/1.1\r\nHost: A.B\r\n\r\n");
    assert_eq!(h.host.as_deref(), Some("a.b"));
    assert_eq!(
        status("GET http://a.b/p HTTP/1.1\r\nHost: c.d\r\n\r\n"),
        400
    );
    let h = ok("GET /x HTTP/1.0\r\n\r\n");
    assert!(h.host.is_none());
}

#[test]
fn lax_request_lines_without_header_strict() {
    let o = ParseOpts {
        header_strict: false,
        ..ParseOpts::default()
    };
    let p = |s: &str| parse_head(s.as_bytes(), &o, 8192);
    let (h, _) = p("GET / HTTP/1.1\nHost: x\n\n").unwrap().unwrap();
    assert_eq!(h.host.as_deref(), Some("x"));
    let (h, _) = p("GET / HTTP/1.1 \r\nHost: x\r\n\r\n").unwrap().unwrap();
    assert_eq!(h.target, "/");
    let (h, _) = p("GET /x HTTP/1.1\r\nHost : y\r\n\r\n").unwrap().unwrap();
    assert_eq!(h.host.as_deref(), Some("y"));
    assert_eq!(
        p("GET x HTTP/1.1\r\nHost: x\r\n\r\n").unwrap_err().status,
        400
    );
}

#[test]
fn header_field_statuses() {
    for (req, code) in [
        ("GET / HTTP/1.1\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost:\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: a_b\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: x:abc\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: x\r\n: v\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: x\r\nX(y): v\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: x\r\nX\x01: v\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: x\r\nX: a\rb\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: x\r\nX: a\x00b\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: x\r\nX: a\x7fb\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: x\r\n X: a\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: x\r\nX: a\n\r\n", 400),
        ("GET / HTTP/1.0\r\nUpgrade: h2c\r\n\r\n", 400),
        ("GET / HTTP/1.0\r\nHTTP2-Settings: x\r\n\r\n", 400),
        (
            "GET / HTTP/1.1\r\nHost: x\r\nContent-Type: a\r\nContent-Type: b\r\n\r\n",
            400,
        ),
        (
            "GET / HTTP/1.1\r\nHost: x\r\nIf-Modified-Since: a\r\nIf-Modified-Since: b\r\n\r\n",
            400,
        ),
    ] {
        assert_eq!(status(req), code, "{req:?}");
    }
}

#[test]
fn header_values_and_duplicates() {
    let h = ok("GET / HTTP/1.1\r\nHost: x\r\nHost: X\r\nX-A: \t1 \t\r\nx-a: 2\r\nCookie: a=1\r\nCookie: b=2\r\nEmpty:   \r\nIf-None-Match: \"a\"\r\nIf-None-Match: \"b\"\r\nContent-Type: t\r\nContent-Type: T\r\n\r\n");
    assert_eq!(h.headers.get("x-a"), Some("1, 2"));
    assert_eq!(h.headers.get("cookie"), Some("a=1; b=2"));
    assert_eq!(h.headers.get("empty"), None);
    assert_eq!(h.headers.get("if-none-match"), Some("\"a\""));
    assert_eq!(h.headers.get("content-type"), Some("t"));
    assert_eq!(h.headers.get_all_joined("host").as_deref(), Some("x"));
}

#[test]
fn obs_fold_is_joined() {
    let h = ok("GET / HTTP/1.1\r\nHost: x\r\nX-F: a\r\n b\r\n\tc\r\nY: z\r\n\r\n");
    assert_eq!(h.headers.get("x-f"), Some("a   b  \tc"));
    assert_eq!(h.headers.get("y"), Some("z"));
}

#[test]
fn keep_alive_rules() {
    assert!(!ok("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").keep_alive);
    assert!(!ok("GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, Close\r\n\r\n").keep_alive);
    assert!(ok("GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n").keep_alive);
    assert!(ok("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").keep_alive);
    assert!(!ok("GET / HTTP/1.0\r\n\r\n").keep_alive);
    assert!(!ok("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n").keep_alive);
}

#[test]
fn body_framing_rules() {
    for (req, code) in [
        ("POST / HTTP/1.1\r\nHost: x\r\n\r\n", 411),
        ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length:\r\n\r\n", 411),
        (
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +1\r\n\r\n",
            400,
        ),
        (
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1 2\r\n\r\n",
            400,
        ),
        (
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n",
            400,
        ),
        (
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
            400,
        ),
        (
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            400,
        ),
        (
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
            400,
        ),
        (
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n",
            501,
        ),
        (
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n",
            501,
        ),
        ("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        (
            "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\n",
            400,
        ),
        (
            "HEAD / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
            400,
        ),
    ] {
        assert_eq!(status(req), code, "{req:?}");
    }
    let h = ok("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(h.content_length, Some(0));
    let h = ok("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(h.content_length, Some(0));
    let h = ok(
        "PUT / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\nExpect: 100-Continue\r\n\r\n",
    );
    assert!(h.chunked && h.expect_100 && h.content_length.is_none());
    assert!(h.headers.get("transfer-encoding").is_none());
    let h = ok("DELETE / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(h.content_length, None);
    let o = ParseOpts {
        method_get_body: true,
        ..ParseOpts::default()
    };
    let req = b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n";
    let (h, _) = parse_head(req, &o, 8192).unwrap().unwrap();
    assert_eq!(h.content_length, Some(5));
    let o = ParseOpts {
        header_strict: false,
        ..ParseOpts::default()
    };
    let req =
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n";
    let (h, _) = parse_head(req, &o, 8192).unwrap().unwrap();
    assert!(h.chunked && h.content_length.is_none() && !h.headers.contains("content-length"));
}

#[test]
fn host_port_follows_scheme() {
    let req = b"GET / HTTP/1.1\r\nHost: x:443\r\n\r\n";
    let (h, _) = parse_head_with_port(req, &ParseOpts::default(), 8192, 443)
        .unwrap()
        .unwrap();
    assert_eq!(h.host.as_deref(), Some("x"));
    let (h, _) = parse_head(req, &ParseOpts::default(), 8192)
        .unwrap()
        .unwrap();
    assert_eq!(h.host.as_deref(), Some("x:443"));
    assert_eq!(status("GET / HTTP/1.1\r\nHost: [::1\r\n\r\n"), 400);
}

#[test]
fn blank_prefix_for_keepalive() {
    assert_eq!(keepalive_blank_prefix(b"GET"), BlankPrefix::None);
    assert_eq!(keepalive_blank_prefix(b"\r\n"), BlankPrefix::NeedMore);
    assert_eq!(keepalive_blank_prefix(b"\r\nGET"), BlankPrefix::Skip(2));
    assert_eq!(keepalive_blank_prefix(b"\nG"), BlankPrefix::Skip(1));
    assert_eq!(keepalive_blank_prefix(b"\r\n\r\n"), BlankPrefix::None);
}

/// Answers recorded from lighttpd 1.4.69 on 127.0.0.1 (status, or None when
/// the head was accepted and a later stage answered).
#[test]
fn recorded_lighttpd_answers() {
    let a1023 = format!("GET / HTTP/1.1\r\nHost: {}\r\n\r\n", "a".repeat(1023));
    let a1024 = format!("GET / HTTP/1.1\r\nHost: {}\r\n\r\n", "a".repeat(1024));
    let cases: Vec<(&str, Option<u16>)> = vec![
        ("GET / HTTP/1.1\r\nHost: example.com.\r\n\r\n", None),
        ("GET / HTTP/1.1\r\nHost: example..com\r\n\r\n", Some(400)),
        ("GET / HTTP/1.1\r\nHost: -a.com\r\n\r\n", Some(400)),
        ("GET / HTTP/1.1\r\nHost: a.-b\r\n\r\n", Some(400)),
        ("GET / HTTP/1.1\r\nHost: [::g]\r\n\r\n", Some(400)),
        ("GET / HTTP/1.1\r\nHost: 1.2.3\r\n\r\n", Some(400)),
        ("GET / HTTP/1.1\r\nHost: x:99999\r\n\r\n", Some(400)),
        (&a1023, None),
        (&a1024, Some(400)),
        ("GET / HTTP/1.1\r\nHost: x\r\nX@Y: 1\r\n\r\n", Some(400)),
        ("GET / HTTP/1.1\r\nHost: x\r\nX_Y1: 1\r\n\r\n", None),
        ("GET / HTTP/1.1\r\nHost: x\r\nX: a\tb\r\n\r\n", None),
        ("QUERY / HTTP/1.1\r\nHost: x\r\n\r\n", None),
        ("TRACE / HTTP/1.1\r\nHost: x\r\n\r\n", None),
        ("GET HTTPS://x/index.html HTTP/1.1\r\n\r\n", None),
        ("GET http://x HTTP/1.1\r\n\r\n", Some(400)),
        ("GET /i HTTP/1.0\r\nUpgrade: websocket\r\n\r\n", Some(400)),
        ("GET /i HTTP/1.1\r\nHost: x\r\nExpect: foo\r\n\r\n", None),
        (
            "GET /i HTTP/1.1\r\nHost: x\r\nContent-Type: a\r\nContent-Type: A\r\n\r\n",
            None,
        ),
        (
            "GET /i HTTP/1.1\r\nHost: x\r\nHTTP2-Settings: a\r\nHTTP2-Settings: b\r\n\r\n",
            Some(400),
        ),
        (
            "GET /i HTTP/1.1\r\nHost:x\r\nConnection:close\r\n\r\n",
            None,
        ),
        (
            "GET /i HTTP/1.1\r\nhOST: X\r\nconnection: CLOSE\r\n\r\n",
            None,
        ),
        (
            "GET /i HTTP/1.1\r\nHost: x\r\n\tConnection: close\r\n\r\n",
            Some(400),
        ),
        ("GET /i HTTP/1.1\r\nHost: x\r\nX:\r\n b\r\n\r\n", None),
        (
            "DELETE /i HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
            None,
        ),
        (
            "GET /i HTTP/1.1\r\nHost: x\r\nContent-Length: 00\r\n\r\n",
            None,
        ),
        (
            "GET /i HTTP/1.1\r\nHost: x\r\nContent-Length: 0 \r\n\r\n",
            None,
        ),
        ("GET  /i HTTP/1.1\r\nHost: x\r\n\r\n", Some(400)),
        ("GET /i  HTTP/1.1\r\nHost: x\r\n\r\n", None),
        ("GET /i HTTP/1.1\r\r\nHost: x\r\n\r\n", Some(400)),
    ];
    for (req, want) in cases {
        let got = parse(req).map(|_| ()).map_err(|e| e.status).err();
        assert_eq!(got, want, "{req:?}");
    }
    let raw = b"GET / HTTP/1.1\r\nHost: x\r\nX\x80Y: 1\r\n\r\n";
    assert_eq!(
        parse_head(raw, &ParseOpts::default(), 8192)
            .unwrap_err()
            .status,
        400
    );
    let raw = b"GET / HTTP/1.1\r\nHost: x\r\nX: \x80\xff\r\n\r\n";
    assert!(parse_head(raw, &ParseOpts::default(), 8192).is_ok());
    let h = ok("GET /i  HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(h.uri_path, "/i ");
}

#[test]
fn frame_records_every_line_end_up_to_the_blank_line() {
    let mut ends = Vec::new();
    let head = b"GET / HTTP/1.1\r\nA: 1\n folded\r\n\r\nbody\n\n";
    match frame(head, &mut ends) {
        Framing::Complete {
            first_line_end,
            head_len,
        } => assert_eq!((first_line_end, head_len), (16, 32)),
        _ => panic!("not framed"),
    }
    assert_eq!(ends, [16, 21, 30, 32]);
    assert!(matches!(
        frame(b"GET / HTTP/1.1\r\nA: 1\r\n", &mut ends),
        Framing::Incomplete
    ));
    let many = "a\n".repeat(MAX_LINES);
    assert!(matches!(
        frame(many.as_bytes(), &mut ends),
        Framing::TooManyLines
    ));
    let fits = format!("{}\n", "a\n".repeat(MAX_LINES - 1));
    assert!(matches!(
        frame(fits.as_bytes(), &mut ends),
        Framing::Complete { .. }
    ));
}

#[test]
fn a_reused_scratch_checks_each_host_under_its_own_options() {
    let mut head = RequestHead::default();
    let mut scratch = HeadScratch::default();
    let mut host_of = |host: &str, opts: &ParseOpts, port: u16| {
        let req = format!("GET / HTTP/1.1\r\nHost: {host}\r\n\r\n");
        parse_head_into(req.as_bytes(), opts, 8192, port, &mut head, &mut scratch)
            .map(|_| {
                (
                    head.host.clone(),
                    head.headers.get("Host").map(str::to_string),
                )
            })
            .map_err(|e| e.status)
    };
    let normal = ParseOpts::default();
    let raw = ParseOpts {
        host_strict: false,
        host_normalize: false,
        ..ParseOpts::default()
    };
    let both = |h: &str| Ok((Some(h.to_string()), Some(h.to_string())));
    for _ in 0..2 {
        assert_eq!(host_of("Example.COM:80", &normal, 80), both("example.com"));
    }
    assert_eq!(
        host_of("Example.COM:80", &normal, 443),
        both("example.com:80")
    );
    assert_eq!(host_of("Example.COM:80", &raw, 80), both("example.com:80"));
    assert_eq!(host_of("a..b", &normal, 80), Err(400));
    assert_eq!(host_of("a..b", &normal, 80), Err(400));
    assert_eq!(host_of("example.com:80", &normal, 80), both("example.com"));
}

#[test]
fn field_name_and_value_checks_agree_with_lighttpds_rules() {
    let separators = b" \t\r\n()<>@,:;\\\"/[]?={}";
    for c in 0..=255u8 {
        let name = [b'X', c, b'y'];
        let always_bad = c == 0 || separators.contains(&c);
        let strict_bad = always_bad || !(32..127).contains(&c);
        assert_eq!(check_field_name(&name, false).is_err(), always_bad, "{c}");
        assert_eq!(check_field_name(&name, true).is_err(), strict_bad, "{c}");
        let value = [b'a'; 40].iter().copied().chain([c]).collect::<Vec<_>>();
        let ctl = (c < 32 && c != b'\t') || c == 127;
        assert_eq!(has_control(&value), ctl, "{c}");
    }
    assert!(check_field_name(b"Content-Type", true).is_ok());
    assert!(!has_control(b""));
}

#[test]
fn word_scans_find_every_byte_at_every_position() {
    for len in 0..40 {
        for at in 0..len {
            for c in 0..=255u8 {
                let mut v = vec![b'a'; len];
                v[at] = c;
                let ctl = (c < 32 && c != b'\t') || c == 127;
                assert_eq!(has_control(&v), ctl, "len {len} at {at} byte {c}");
                let colon = if c == b':' { Some(at) } else { None };
                assert_eq!(
                    any_byte(&v, upper_bytes),
                    c.is_ascii_uppercase(),
                    "{len} {at} {c}"
                );
                assert_eq!(find_colon(&v), colon, "len {len} at {at} byte {c}");
            }
            let mut v = vec![b':'; len];
            v[..at].fill(b'x');
            assert_eq!(find_colon(&v), Some(at));
        }
    }
}

#[test]
fn special_names_fold_letters_only() {
    assert!(is_lower_name(b"HoSt", b"host"));
    assert!(is_lower_name(b"CONTENT-LENGTH", b"content-length"));
    assert!(!is_lower_name(b"content\rlength", b"content-length"));
    assert!(!is_lower_name(b"http\x12settings", b"http2settings"));
    assert!(!is_lower_name(b"hos", b"host"));
    assert_eq!(Special::of("Http2-Settings"), Some(Special::Unique));
    assert_eq!(Special::of("Http\u{12}-Settings"), None);
}

#[test]
fn heads_are_framed_at_every_length_and_alignment() {
    for pad in 0..20 {
        let name = "x".repeat(pad);
        for sep in ["\r\n", "\n"] {
            let head = format!("GET /{name} HTTP/1.1{sep}Host: a{name}{sep}X: {name}{sep}{sep}");
            for cut in 0..head.len() {
                let mut ends = Vec::new();
                assert!(matches!(
                    frame(&head.as_bytes()[..cut], &mut ends),
                    Framing::Incomplete
                ));
            }
            let mut ends = Vec::new();
            let mut more = head.clone().into_bytes();
            more.extend_from_slice(b"GET / HTTP/1.1\r\n\r\n");
            match frame(&more, &mut ends) {
                Framing::Complete {
                    first_line_end,
                    head_len,
                } => {
                    assert_eq!(head_len, head.len());
                    assert_eq!(first_line_end, head.find('\n').unwrap() + 1);
                    assert_eq!(ends.len(), 4);
                }
                _ => panic!("{head:?} not framed"),
            }
        }
    }
}
