//! Parsing of a CGI response head (lighttpd src/http-header-glue.c
//! `http_response_parse_headers`, CGI flavour): `Status:`, `Location:`
//! (302 without Status), NPH `HTTP/1.x NNN` first lines, a first line
//! without `:` meaning "no head, all body", LF-only line ends.

/// lighttpd's limit on a backend response head.
pub const MAX_HEAD: usize = 64 * 1024;

/// A parsed response head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub status: u16,
    /// Headers to pass on, in order (Status removed).
    pub headers: Vec<(String, String)>,
    /// Offset of the body in the output.
    pub body_at: usize,
    /// The status came only from a `Location` header (local-redirect candidate).
    pub location_only: bool,
    /// `Connection: close` was sent.
    pub close: bool,
    /// The program's Content-Length (kept as a header too): the body ends
    /// there (lighttpd `resp_body_scratchpad`). None when absent, invalid,
    /// or overridden by Transfer-Encoding.
    pub content_length: Option<u64>,
    /// `Transfer-Encoding` was sent (taken as chunked, unverified, as
    /// lighttpd): the body is the program's chunked coding.
    pub chunked: bool,
    /// The status came from the program (NPH line, `Status:` or
    /// `Location`), not by default (lighttpd's `r->http_status` is set).
    pub status_known: bool,
}

/// Where the head ends: (end of the head lines, start of the body).
fn head_end(out: &[u8]) -> Option<(usize, usize)> {
    let mut i = 0;
    while let Some(p) = out[i..].iter().position(|&b| b == b'\n') {
        let nl = i + p;
        let line = &out[i..nl];
        if line.is_empty() || line == b"\r" {
            return Some((i, nl + 1));
        }
        i = nl + 1;
    }
    None
}

/// Parse the head once enough output arrived: Ok(None) = need more,
/// Err(status) = bad backend response (502). `eof` = the CGI is done.
pub fn parse(out: &[u8], eof: bool) -> Result<Option<Head>, u16> {
    let first_line_end = out.iter().position(|&b| b == b'\n');
    // A first line without ':' (and not a status line) is body.
    if let Some(e) = first_line_end.or(if eof { Some(out.len()) } else { None }) {
        let line = &out[..e];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if !line.is_empty() && !line.contains(&b':') && !line.starts_with(b"HTTP/") {
            return Ok(Some(body_only()));
        }
    }
    let (lines_end, body_at) = match head_end(out) {
        Some(x) => x,
        None if out.len() > MAX_HEAD => return Err(502),
        None if eof => {
            if out.is_empty() {
                return Err(500);
            }
            (out.len(), out.len())
        }
        None => return Ok(None),
    };
    if lines_end > MAX_HEAD {
        return Err(502);
    }
    let text = String::from_utf8_lossy(&out[..lines_end]);
    let mut head = Head {
        status: 0,
        headers: Vec::new(),
        body_at,
        location_only: false,
        close: false,
        content_length: None,
        chunked: false,
        status_known: false,
    };
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    if text.starts_with("HTTP/") && text.find('\n').map_or(text.len(), |n| n) >= 12 {
        head.status = nph_status(lines.next().unwrap_or(""))?;
    }
    let mut has_status = head.status != 0;
    for line in lines.filter(|l| !l.is_empty()) {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        if name.is_empty() || name.contains([' ', '\t']) {
            continue;
        }
        let value = value.trim_matches([' ', '\t']);
        if name.eq_ignore_ascii_case("Status") && !has_status {
            head.status = status_value(value)?;
            has_status = true;
            continue;
        }
        if name.eq_ignore_ascii_case("Connection") {
            head.close |= crate::http::headers::contains_token(value, "close");
            continue;
        }
        if name.eq_ignore_ascii_case("Transfer-Encoding") {
            // lighttpd drops a Content-Length it overrides
            head.chunked = true;
            head.content_length = None;
            head.headers
                .retain(|(n, _)| !n.eq_ignore_ascii_case("Content-Length"));
            continue;
        }
        if name.eq_ignore_ascii_case("Content-Length") {
            let has = |h: &Head| h.headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
            if head.chunked || has(&head) {
                continue; // later ones are dropped
            }
            let digits = value.strip_prefix('+').unwrap_or(value);
            head.content_length = (!digits.is_empty()
                && digits.bytes().all(|c| c.is_ascii_digit()))
            .then(|| digits.parse().ok())
            .flatten();
            if head.content_length.is_none() {
                // invalid ("1x"): passing it on would break the framing
                continue;
            }
        }
        let value = match value.strip_prefix("application/javascript") {
            Some(rest) if name.eq_ignore_ascii_case("Content-Type") => {
                format!("text/javascript{rest}")
            }
            _ => value.to_string(),
        };
        head.headers.push((name.to_string(), value));
    }
    head.status_known = head.status != 0;
    if head.status == 0 {
        let has_location = head
            .headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("Location"));
        head.status = if has_location { 302 } else { 200 };
        head.location_only = has_location;
        head.status_known = has_location;
    }
    Ok(Some(head))
}

fn body_only() -> Head {
    Head {
        status: 200,
        headers: Vec::new(),
        body_at: 0,
        location_only: false,
        close: false,
        content_length: None,
        chunked: false,
        status_known: false,
    }
}

/// `HTTP/1.1 NNN text` (also HTTP/2, HTTP/3) → NNN.
fn nph_status(line: &str) -> Result<u16, u16> {
    let rest = ["HTTP/1.0 ", "HTTP/1.1 ", "HTTP/2 ", "HTTP/3 "]
        .iter()
        .find_map(|p| line.strip_prefix(p))
        .ok_or(502u16)?;
    status_value(rest)
}

/// Three digits 100..=999, then end or a space.
fn status_value(v: &str) -> Result<u16, u16> {
    let b = v.as_bytes();
    if b.len() < 3 || !b[..3].iter().all(u8::is_ascii_digit) || (b.len() > 3 && b[3] != b' ') {
        return Err(502);
    }
    let n: u16 = v[..3].parse().map_err(|_| 502u16)?;
    if n < 100 {
        return Err(502);
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(out: &str) -> Head {
        parse(out.as_bytes(), true)
            .expect("valid")
            .expect("complete")
    }

    #[test]
    fn status_location_and_plain_heads() {
        let h =
            ok("Content-Type: text/plain\r\nStatus: 404 Not Here\r\nX-A: 1\r\nX-A: 2\r\n\r\nbody");
        assert_eq!(h.status, 404);
        assert_eq!(
            h.headers,
            [
                ("Content-Type".into(), "text/plain".into()),
                ("X-A".into(), "1".into()),
                ("X-A".into(), "2".into())
            ]
        );
        assert_eq!(
            h.body_at,
            "Content-Type: text/plain\r\nStatus: 404 Not Here\r\nX-A: 1\r\nX-A: 2\r\n\r\n".len()
        );
        let h = ok("Location: /x\n\n");
        assert_eq!((h.status, h.location_only), (302, true));
        let h = ok("Status: 301\nLocation: /x\n\n");
        assert_eq!((h.status, h.location_only), (301, false));
        assert_eq!(ok("X: y\n\n").status, 200);
        let h = ok("Content-Type: application/javascript; charset=utf-8\nConnection: close\nContent-Length: 99\nContent-Length: 7\n\n");
        assert_eq!(
            h.headers,
            [
                (
                    "Content-Type".into(),
                    "text/javascript; charset=utf-8".into()
                ),
                ("Content-Length".into(), "99".into())
            ]
        );
        assert_eq!(h.content_length, Some(99));
        assert!(h.close);
        let h = ok("Content-Length: 9\nTransfer-Encoding: chunked\n\n");
        assert!(h.headers.is_empty() && h.content_length.is_none() && h.chunked);
        let h = ok("Content-Length: 1x\n\n");
        // an invalid length is dropped, so the response is framed by us
        assert_eq!((h.headers.len(), h.content_length), (0, None));
        let h = ok("Content-Length: 12 \n\n");
        assert_eq!(h.headers, vec![("Content-Length".into(), "12".into())]);
        assert_eq!(h.content_length, Some(12));
        assert!(ok("Bad Name: x\nGood: y\n\n")
            .headers
            .iter()
            .all(|(n, _)| n == "Good"));
    }

    #[test]
    fn nph_and_bodies_without_head() {
        let h = ok("HTTP/1.1 201 Whatever\r\nX: 1\r\n\r\n");
        assert_eq!((h.status, h.headers.len()), (201, 1));
        assert_eq!(parse(b"HTTP/1.1 abc nope\r\n\r\n", true), Err(502));
        let h = ok("just text\nmore");
        assert_eq!((h.status, h.body_at, h.headers.len()), (200, 0, 0));
        assert_eq!(ok("no newline at all").body_at, 0);
    }

    #[test]
    fn garbage_and_limits() {
        assert_eq!(parse(b"Status: 99\n\n", true), Err(502));
        assert_eq!(parse(b"Status: 2000\n\n", true), Err(502));
        assert_eq!(parse(b"Status: abc\n\n", true), Err(502));
        assert_eq!(parse(b"", true), Err(500));
        assert_eq!(parse(b"X: 1\n", false), Ok(None));
        let huge = format!("X: {}\n", "a".repeat(MAX_HEAD + 10));
        assert_eq!(parse(huge.as_bytes(), false), Err(502));
        // Head cut short by EOF: what arrived is the head.
        assert_eq!(ok("X: 1\nY: 2").headers.len(), 2);
        let bin = [0xffu8, 0xfe, b':', b'\n', b'\n'];
        assert!(parse(&bin, true).is_ok());
    }
}
