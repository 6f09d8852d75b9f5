//! Response heads from CGI, FastCGI, SCGI and HTTP proxy backends (lighttpd
//! src/http-header-glue.c `http_response_parse_headers` and
//! `http_response_process_headers`): framing, NPH status lines, `Status:`,
//! `Location` → 302, Content-Length / chunked framing, Connection/Upgrade
//! handling, the javascript Content-Type rewrite, and the "no headers at all"
//! CGI case. Local redirects and X-Sendfile act on the result elsewhere.

use crate::http::headers::{contains_token, Headers};
use crate::http::uri::{path_simplify, urldecode_path};

/// Does a client request ask to switch protocols? lighttpd's core keeps
/// `Upgrade` only on HTTP/1.1 with a `Connection` header, and not for
/// `h2c` (`h2_check_con_upgrade_h2c`); `cgi.upgrade` and `proxy.header`
/// `upgrade` act only then.
pub fn client_wants_upgrade(headers: &Headers, http11: bool) -> bool {
    let Some(up) = headers.get("Upgrade") else {
        return false;
    };
    http11 && !up.is_empty() && headers.contains("Connection") && !contains_token(up, "h2c")
}

/// lighttpd MAX_HTTP_RESPONSE_FIELD_SIZE: larger heads are a 502.
pub const MAX_RESPONSE_HEAD: usize = 65535;

/// Which kind of backend produced the response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Cgi,
    FastCgi,
    Scgi,
    Proxy,
}

/// Parse settings that come from the module and the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackendOpts {
    pub backend: Backend,
    /// FastCGI authorizer mode: only `Status` and `Variable-*` are used.
    pub authorizer: bool,
    /// The client request is HTTP/2 or later (Connection/Upgrade dropped).
    pub http2: bool,
}

/// A parsed backend response head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendHead {
    /// The status to send: from the NPH line or `Status:`, 302 for a bare
    /// `Location`, otherwise 200. 1xx (other than 101) is an interim
    /// response: send it (HTTP/1.1) and parse the next head from the rest.
    pub status: u16,
    /// Status came from an NPH line or a `Status:` header (this disables
    /// CGI local redirects).
    pub status_explicit: bool,
    /// Headers to forward; a repeated name is kept next to its first
    /// occurrence, as lighttpd serialises them.
    pub headers: Headers,
    /// Backend Content-Length for framing; None when absent or invalid
    /// (then read until the backend closes).
    pub content_length: Option<u64>,
    /// The backend body is chunked and must be decoded.
    pub chunked: bool,
    /// The backend asked to close the client connection.
    pub close_connection: bool,
    /// `Variable-NAME: value` pairs from a FastCGI authorizer.
    pub auth_vars: Vec<(String, String)>,
    /// Bytes of `buf` taken by the head (incl. the blank line).
    pub head_len: usize,
}

/// Outcome of looking at the start of a backend's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackendParse {
    /// No complete head yet.
    NeedMore,
    /// CGI output whose first line is neither a header nor blank: all of it
    /// is body, status 200, no headers.
    BodyOnly,
    Head(BackendHead),
}

/// Parses the head at the start of `buf`. Err(502) for a broken head.
pub fn parse_backend_head(buf: &[u8], opts: &BackendOpts) -> Result<BackendParse, u16> {
    let (lines, head_len) = split_head(buf);
    if head_len.unwrap_or(buf.len()) > MAX_RESPONSE_HEAD {
        return Err(502);
    }
    let nph = first_line_is_nph(buf, &lines);
    if let Some(&second) = lines.get(1) {
        let first = &buf[..second];
        let blank = first == b"\n" || first == b"\r\n";
        if !nph && !blank && !first[..second - 1].contains(&b':') {
            return if opts.backend == Backend::Cgi {
                Ok(BackendParse::BodyOnly)
            } else {
                Err(502)
            };
        }
    }
    let Some(head_len) = head_len else {
        return Ok(BackendParse::NeedMore);
    };
    let mut p = HeadBuilder::new(opts, head_len);
    let mut first_field = 0;
    if nph {
        p.nph_status_line(&buf[..lines[1]])?;
        first_field = 1;
    } else if opts.backend == Backend::Proxy {
        return Err(502);
    }
    // `lines` holds every line start plus the blank line's start last
    for w in lines[first_field..].windows(2) {
        p.field(&buf[w[0]..w[1]])?;
    }
    Ok(BackendParse::Head(p.finish()))
}

/// Line starts up to and including the blank line's, and the head length
/// when the blank line (`\n` or `\r\n`) was found.
fn split_head(buf: &[u8]) -> (Vec<usize>, Option<usize>) {
    let mut starts = vec![0];
    let mut pos = 0;
    while let Some(nl) = buf[pos..].iter().position(|&c| c == b'\n') {
        let len = nl + 1;
        if len == 1 || (len == 2 && buf[pos] == b'\r') {
            return (starts, Some(pos + len));
        }
        pos += len;
        starts.push(pos);
    }
    (starts, None)
}

/// "HTTP/…" with a first line of at least 12 bytes (incl. LF).
fn first_line_is_nph(buf: &[u8], lines: &[usize]) -> bool {
    lines.get(1).is_some_and(|&l| l >= 12) && buf.starts_with(b"HTTP/")
}

/// lighttpd `http_header_str_to_code`: 3 digits then end, SP or HT.
fn status_code(v: &[u8]) -> Option<u16> {
    let d = v.get(..3)?;
    if !d.iter().all(u8::is_ascii_digit) || !matches!(v.get(3), None | Some(b' ' | b'\t')) {
        return None;
    }
    let code = d.iter().fold(0u16, |n, c| n * 10 + u16::from(c - b'0'));
    (100..1000).contains(&code).then_some(code)
}

struct HeadBuilder<'o> {
    opts: &'o BackendOpts,
    head: BackendHead,
    status: u16,
    saw_location: bool,
}

impl<'o> HeadBuilder<'o> {
    fn new(opts: &'o BackendOpts, head_len: usize) -> Self {
        HeadBuilder {
            opts,
            head: BackendHead {
                status: 0,
                status_explicit: false,
                headers: Headers::new(),
                content_length: None,
                chunked: false,
                close_connection: false,
                auth_vars: Vec::new(),
                head_len,
            },
            status: 0,
            saw_location: false,
        }
    }

    /// `HTTP/1.x NNN …` (other backends than proxy may say HTTP/2.0 etc.).
    fn nph_status_line(&mut self, line: &[u8]) -> Result<(), u16> {
        let version_ok = (line[5] == b'1' || self.opts.backend != Backend::Proxy)
            && line.get(6) == Some(&b'.')
            && matches!(line.get(7), Some(b'0' | b'1'))
            && line.get(8) == Some(&b' ');
        let rest = line.get(9..).unwrap_or(b"");
        let rest = rest.strip_suffix(b"\n").unwrap_or(rest);
        let rest = rest.strip_suffix(b"\r").unwrap_or(rest);
        match status_code(rest).filter(|_| version_ok) {
            Some(code) => {
                self.set_status(code);
                Ok(())
            }
            None => Err(502),
        }
    }

    fn set_status(&mut self, code: u16) {
        self.status = code;
        self.head.status_explicit = true;
    }

    /// One header line (with its line end).
    fn field(&mut self, line: &[u8]) -> Result<(), u16> {
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        let Some(colon) = line.iter().position(|&c| c == b':') else {
            return Ok(()); // not a header line: ignored
        };
        if colon == 0 {
            return Ok(());
        }
        let key = String::from_utf8_lossy(&line[..colon]).into_owned();
        let mut v = &line[colon + 1..];
        while let Some(b' ' | b'\t') = v.first() {
            v = &v[1..];
        }
        let v = v.strip_suffix(b"\r").unwrap_or(v);
        if self.opts.authorizer && matches!(self.status, 0 | 200) {
            return self.authorizer_field(&key, v);
        }
        let is = |n: &str| key.eq_ignore_ascii_case(n);
        let proxy = self.opts.backend == Backend::Proxy;
        let mut value = String::from_utf8_lossy(v).into_owned();
        if is("status") && !proxy {
            let code = status_code(v).ok_or(502u16)?;
            self.set_status(code);
            return Ok(());
        } else if is("upgrade") {
            if !matches!(self.opts.backend, Backend::Proxy | Backend::Cgi) || self.opts.http2 {
                return Ok(());
            }
        } else if is("connection") {
            if proxy {
                return Ok(());
            }
            if contains_token(&value, "close") {
                self.head.close_connection = true;
            }
            if self.opts.http2 {
                return Ok(());
            }
        } else if is("content-type") {
            if let Some(rest) = value.strip_prefix("application/javascript") {
                value = format!("text/javascript{rest}");
            }
        } else if is("content-length") {
            return self.content_length(&key, &value);
        } else if is("transfer-encoding") {
            if self.head.headers.contains("content-length") {
                self.head.headers.remove("content-length");
                self.head.content_length = None;
            }
            self.head.chunked = true;
            return Ok(());
        } else if is("http2-settings") || key.ends_with([' ', '\t']) {
            return Ok(());
        } else if is("location") {
            self.saw_location |= !value.is_empty();
        }
        self.insert(&key, &value);
        Ok(())
    }

    fn authorizer_field(&mut self, key: &str, v: &[u8]) -> Result<(), u16> {
        if key.eq_ignore_ascii_case("status") {
            let code = status_code(v).ok_or(502u16)?;
            self.set_status(code);
        } else if key.len() > 9 && key.as_bytes()[..9].eq_ignore_ascii_case(b"variable-") {
            self.head.auth_vars.push((
                key[9..].to_string(),
                String::from_utf8_lossy(v).into_owned(),
            ));
        }
        Ok(())
    }

    /// The first Content-Length frames the body (a leading '+' is dropped);
    /// later ones, and any after Transfer-Encoding, are dropped.
    fn content_length(&mut self, key: &str, value: &str) -> Result<(), u16> {
        let value = value.strip_prefix('+').unwrap_or(value);
        if self.head.chunked || self.head.headers.contains("content-length") {
            return Ok(());
        }
        let digits = value.trim_end_matches([' ', '\t']);
        if digits.is_empty() {
            return Ok(());
        }
        self.head.content_length = digits
            .bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| digits.parse::<u64>().ok())
            .flatten();
        self.insert(key, value);
        Ok(())
    }

    /// lighttpd `http_header_response_insert`: empty values are dropped; a
    /// repeated name goes right after the previous field of that name.
    fn insert(&mut self, key: &str, value: &str) {
        if !value.is_empty() {
            self.head.headers.insert_grouped(key, value);
        }
    }

    fn finish(mut self) -> BackendHead {
        self.head.status = match self.status {
            0 if self.saw_location => 302,
            0 => 200,
            s => s,
        };
        self.head
    }
}

/// The file an `X-Sendfile` (or `X-LIGHTTPD-send-file`) value names
/// (lighttpd `http_response_xsendfile`): URL-decoded, valid UTF-8 (else
/// 502), simplified, lowercased under `server.force-lowercase-filenames`,
/// non-empty (else 502) and under one of `docroots` (else 403; each ends in
/// '/'; an empty list allows any path). The caller then serves it as a static
/// file, keeping a non-200 backend status, and drops any backend
/// Content-Length.
pub fn xsendfile_path(
    value: &str,
    docroots: &[String],
    force_lowercase: bool,
) -> Result<String, u16> {
    let decoded = urldecode_path(value.as_bytes());
    let decoded = String::from_utf8(decoded).map_err(|_| 502u16)?;
    let simple = path_simplify(decoded.as_bytes());
    let mut path = String::from_utf8(simple).map_err(|_| 502u16)?;
    if force_lowercase {
        path.make_ascii_lowercase();
    }
    if path.is_empty() {
        return Err(502);
    }
    let allowed = docroots.is_empty()
        || docroots.iter().any(|root| {
            path.len() >= root.len()
                && if force_lowercase {
                    path.as_bytes()[..root.len()].eq_ignore_ascii_case(root.as_bytes())
                } else {
                    path.starts_with(root.as_str())
                }
        });
    if allowed {
        Ok(path)
    } else {
        Err(403)
    }
}

/// A backend's chunked body ended before the head went out: its trailers
/// join the headers and `Trailer` goes (lighttpd
/// `http_response_merge_trailers`, only when the status was known when the
/// body ended: from a status line, `Status:` or `Location`). As lighttpd, a
/// value keeps its CR when the line ended in CRLF; lines without a name,
/// starting with a blank, or with an empty value are skipped.
pub fn merge_trailers(headers: &mut Headers, trailers: &[u8]) {
    if trailers.is_empty() {
        return;
    }
    for line in trailers.split_inclusive(|&c| c == b'\n') {
        let Some(line) = line.strip_suffix(b"\n") else {
            continue;
        };
        let Some(colon) = line.iter().position(|&c| c == b':') else {
            continue;
        };
        if colon == 0 || matches!(line[0], b' ' | b'\t') {
            continue;
        }
        let mut v = &line[colon + 1..];
        while let Some(b' ' | b'\t') = v.first() {
            v = &v[1..];
        }
        if v.is_empty() || v[0] == b'\r' {
            continue;
        }
        let key = String::from_utf8_lossy(&line[..colon]);
        headers.insert_grouped(&key, &String::from_utf8_lossy(v));
    }
    headers.remove("Trailer");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailers_join_the_headers_as_lighttpd() {
        let mut h = Headers::new();
        h.append("Trailer", "X-T");
        h.append("X-A", "1");
        merge_trailers(&mut h, b"X-T: t\r\n:bad\n x: y\nX-A:\t2\nE: \r\nnocolon\n");
        let got: Vec<_> = h.iter().map(|(k, v)| format!("{k}={v}")).collect();
        assert_eq!(got, ["X-A=1", "X-A=2", "X-T=t\r"]);
    }

    #[test]
    fn upgrade_needs_http11_a_connection_header_and_not_h2c() {
        let mut h = Headers::new();
        h.append("Upgrade", "websocket");
        assert!(!client_wants_upgrade(&h, true), "no Connection header");
        h.append("Connection", "Upgrade");
        assert!(client_wants_upgrade(&h, true));
        assert!(!client_wants_upgrade(&h, false), "HTTP/1.0");
        h.set("Upgrade", "h2c");
        assert!(!client_wants_upgrade(&h, true));
    }

    fn opts(backend: Backend) -> BackendOpts {
        BackendOpts {
            backend,
            authorizer: false,
            http2: false,
        }
    }

    fn head(buf: &str, backend: Backend) -> BackendHead {
        match parse_backend_head(buf.as_bytes(), &opts(backend)) {
            Ok(BackendParse::Head(h)) => h,
            other => panic!("{buf:?} → {other:?}"),
        }
    }

    fn fields(h: &BackendHead) -> Vec<(String, String)> {
        h.headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn cgi_heads() {
        let h = head(
            "Content-Type: text/plain\nStatus: 404 Nope\n\nbody",
            Backend::Cgi,
        );
        assert_eq!((h.status, h.status_explicit, h.head_len), (404, true, 43));
        assert_eq!(
            fields(&h),
            vec![("Content-Type".into(), "text/plain".into())]
        );
        let h = head("Location: /x\r\n\r\n", Backend::Cgi);
        assert_eq!((h.status, h.status_explicit), (302, false));
        let h = head("X: 1\r\n\r\n", Backend::Cgi);
        assert_eq!(h.status, 200);
        let h = head("\r\nbody", Backend::Cgi);
        assert_eq!((h.status, h.head_len, h.headers.len()), (200, 2, 0));
        assert_eq!(
            parse_backend_head(b"hello world\nmore", &opts(Backend::Cgi)),
            Ok(BackendParse::BodyOnly)
        );
        assert_eq!(
            parse_backend_head(b"hello world\n", &opts(Backend::FastCgi)),
            Err(502)
        );
        assert_eq!(
            parse_backend_head(b"X: 1\r\n", &opts(Backend::Cgi)),
            Ok(BackendParse::NeedMore)
        );
        assert_eq!(
            parse_backend_head(b"X: 1", &opts(Backend::Cgi)),
            Ok(BackendParse::NeedMore)
        );
    }

    #[test]
    fn status_header_rules() {
        for bad in [
            "Status: 20\n\n",
            "Status: 2000\n\n",
            "Status: abc\n\n",
            "Status: 099\n\n",
            "Status:\n\n",
        ] {
            assert_eq!(
                parse_backend_head(bad.as_bytes(), &opts(Backend::Cgi)),
                Err(502),
                "{bad:?}"
            );
        }
        assert_eq!(head("Status: 418\n\n", Backend::FastCgi).status, 418);
        assert_eq!(head("Status: 201\tCreated\n\n", Backend::Scgi).status, 201);
        // a proxy passes Status through untouched
        let h = head("HTTP/1.1 200 OK\r\nStatus: 500\r\n\r\n", Backend::Proxy);
        assert_eq!(h.status, 200);
        assert_eq!(h.headers.get("status"), Some("500"));
    }

    #[test]
    fn nph_lines() {
        let h = head("HTTP/1.1 203 Whatever\r\nX: y\r\n\r\n", Backend::Cgi);
        assert_eq!((h.status, h.status_explicit), (203, true));
        assert_eq!(head("HTTP/1.0 404\r\n\r\n", Backend::Proxy).status, 404);
        assert_eq!(head("HTTP/2.0 201 x\n\n", Backend::Cgi).status, 201);
        for bad in [
            "HTTP/2.0 201 x\n\n",
            "HTTP/1.1 2000 x\n\n",
            "HTTP/1.1  200\n\n",
        ] {
            assert_eq!(
                parse_backend_head(bad.as_bytes(), &opts(Backend::Proxy)),
                Err(502),
                "{bad:?}"
            );
        }
        assert_eq!(
            parse_backend_head(b"X: 1\r\n\r\n", &opts(Backend::Proxy)),
            Err(502)
        );
        let h = head(
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\n",
            Backend::Proxy,
        );
        assert_eq!((h.status, h.head_len), (100, 25));
    }

    #[test]
    fn framing_headers() {
        let h = head("Content-Length: +12 \nContent-Length: 5\n\n", Backend::Cgi);
        assert_eq!(h.content_length, Some(12));
        assert_eq!(fields(&h), vec![("Content-Length".into(), "12 ".into())]);
        let h = head("Content-Length: 1x\n\n", Backend::Cgi);
        assert_eq!(h.content_length, None);
        assert!(h.headers.contains("content-length"));
        let h = head(
            "Content-Length: 3\nTransfer-Encoding: chunked\n\n",
            Backend::Cgi,
        );
        assert!(h.chunked && h.content_length.is_none() && h.headers.is_empty());
        let h = head(
            "Transfer-Encoding: chunked\nContent-Length: 3\n\n",
            Backend::Cgi,
        );
        assert!(h.chunked && h.content_length.is_none() && h.headers.is_empty());
    }

    #[test]
    fn header_policies() {
        let h = head(
            "Set-Cookie: a\nX: 1\nset-cookie: b\nConnection: close\nUpgrade: ws\nHTTP2-Settings: x\nBad : 1\nnocolon\nEmpty:\nContent-Type: application/javascript; charset=utf-8\n\n",
            Backend::Cgi,
        );
        assert!(h.close_connection);
        assert_eq!(
            fields(&h),
            vec![
                ("Set-Cookie".into(), "a".into()),
                ("set-cookie".into(), "b".into()),
                ("X".into(), "1".into()),
                ("Connection".into(), "close".into()),
                ("Upgrade".into(), "ws".into()),
                (
                    "Content-Type".into(),
                    "text/javascript; charset=utf-8".into()
                ),
            ]
        );
        let h = head("Connection: close\nUpgrade: ws\n\n", Backend::FastCgi);
        assert!(
            h.close_connection
                && !h.headers.contains("upgrade")
                && h.headers.contains("connection")
        );
        let h = head(
            "HTTP/1.1 200 OK\nConnection: close\nUpgrade: ws\n\n",
            Backend::Proxy,
        );
        assert!(
            !h.close_connection
                && !h.headers.contains("connection")
                && h.headers.contains("upgrade")
        );
        let mut o = opts(Backend::Cgi);
        o.http2 = true;
        let Ok(BackendParse::Head(h)) =
            parse_backend_head(b"Connection: close\nUpgrade: ws\n\n", &o)
        else {
            panic!()
        };
        assert!(h.close_connection && h.headers.is_empty());
    }

    #[test]
    fn authorizer_mode() {
        let o = BackendOpts {
            backend: Backend::FastCgi,
            authorizer: true,
            http2: false,
        };
        let Ok(BackendParse::Head(h)) = parse_backend_head(
            b"Variable-User: bob\nX: 1\nStatus: 200\nvariable-ROLE: admin\n\n",
            &o,
        ) else {
            panic!()
        };
        assert_eq!(h.status, 200);
        assert!(h.headers.is_empty());
        assert_eq!(
            h.auth_vars,
            vec![
                ("User".into(), "bob".into()),
                ("ROLE".into(), "admin".into())
            ]
        );
        let Ok(BackendParse::Head(h)) = parse_backend_head(b"Status: 403\nX: 1\n\n", &o) else {
            panic!()
        };
        assert_eq!((h.status, h.headers.get("x")), (403, Some("1")));
    }

    #[test]
    fn same_as_lighttpd_cgi() {
        // what lighttpd 1.4.69 forwarded for these CGI outputs
        let h = head(
            "Set-Cookie: a\nX: 1\nset-cookie: b\nBad : 1\nnocolon\nEmpty:\nContent-Type: application/javascript; charset=utf-8\n\nbody",
            Backend::Cgi,
        );
        let got: Vec<String> = h.headers.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        assert_eq!(
            got,
            [
                "Set-Cookie: a",
                "set-cookie: b",
                "X: 1",
                "Content-Type: text/javascript; charset=utf-8"
            ]
        );
        let h = head(
            "Content-Length: +3 \nContent-Length: 5\n\nabcdef",
            Backend::Cgi,
        );
        assert_eq!(
            (h.content_length, h.headers.get("content-length")),
            (Some(3), Some("3 "))
        );
        assert_eq!(head("HTTP/2.0 201 x\nX: y\n\n", Backend::Cgi).status, 201);
        assert_eq!(
            parse_backend_head(b"HTTP/1.1 2000 x\n\n", &opts(Backend::Cgi)),
            Err(502)
        );
    }

    #[test]
    fn xsendfile_paths() {
        let roots = vec!["/srv/files/".to_string()];
        assert_eq!(
            xsendfile_path("/srv/files/a%20b", &roots, false),
            Ok("/srv/files/a b".into())
        );
        assert_eq!(
            xsendfile_path("/srv/files/../etc/passwd", &roots, false),
            Err(403)
        );
        assert_eq!(xsendfile_path("/srv/filesX/a", &roots, false), Err(403));
        assert_eq!(
            xsendfile_path("/SRV/Files/A", &roots, true),
            Ok("/srv/files/a".into())
        );
        assert_eq!(xsendfile_path("/x/%ff", &[], false), Err(502));
        assert_eq!(xsendfile_path("", &[], false), Err(502));
        assert_eq!(xsendfile_path("/x/%01y", &[], false), Ok("/x/_y".into()));
    }

    #[test]
    fn oversized_head_is_502() {
        let big = format!("X: {}\n", "a".repeat(MAX_RESPONSE_HEAD));
        assert_eq!(
            parse_backend_head(big.as_bytes(), &opts(Backend::Cgi)),
            Err(502)
        );
    }
}
