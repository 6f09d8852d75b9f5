//! HTTP/1.x request head parsing with lighttpd 1.4.69's rules (lighttpd
//! src/connections.c `connection_handle_read_state` for framing,
//! src/http_header.c `http_header_parse_hoff` for line splitting,
//! src/request.c `http_request_parse_reqline`, `http_request_parse_headers`,
//! `http_request_parse_single_header` and `http_request_parse` for the checks).
//!
//! Deliberate difference from DESIGN.md: the head is split by hand, not with
//! httparse. lighttpd accepts inputs httparse refuses (raw spaces in the
//! target, obs-fold continuation lines in requests) and frames the head at the
//! first empty line even with bare LFs, which it then answers with 400; the
//! status codes only match when the framing is lighttpd's own.

use crate::config::core::ParseOpts;
use crate::http::headers::{contains_token, Headers};
use crate::http::host::host_policy;
use crate::http::method::Method;
use crate::http::uri::parse_target_bytes;

/// Protocol version of a parsed request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    Http10,
    Http11,
}

impl Version {
    pub fn as_str(self) -> &'static str {
        match self {
            Version::Http10 => "HTTP/1.0",
            Version::Http11 => "HTTP/1.1",
        }
    }
}

/// A parsed, checked request head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    pub method: Method,
    /// The request-target as received (lighttpd `target_orig`, CGI REQUEST_URI);
    /// for an absolute-form target only the part from the path on.
    pub target: String,
    /// Raw path part of `target` (before `?` and `#`).
    pub path_raw: String,
    /// Normalised query (lighttpd `uri.query`); None when the target has no `?`.
    pub query: Option<String>,
    /// Normalised target, path + `?query` (lighttpd `r->target`).
    pub norm_target: String,
    /// Decoded, simplified path (lighttpd `uri.path`).
    pub uri_path: String,
    pub version: Version,
    /// Request headers, repeated names combined as lighttpd stores them;
    /// `Transfer-Encoding` is not kept; `Host` holds the normalised value.
    pub headers: Headers,
    /// Normalised authority (Host header or absolute-form target).
    pub host: Option<String>,
    pub content_length: Option<u64>,
    pub chunked: bool,
    /// Keep-alive wanted by the client (version default + Connection tokens).
    pub keep_alive: bool,
    /// `Expect: 100-continue` on an HTTP/1.1 request.
    pub expect_100: bool,
}

/// A head lighttpd rejects: answer with `status`, then close the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeadError {
    pub status: u16,
    /// Version for the status line: HTTP/1.1 only if the request line said so.
    pub version: Version,
    /// The method, when the request line got that far (HEAD → no body).
    pub method: Option<Method>,
    /// What was parsed before the error (target, Host, header lines), which
    /// lighttpd keeps for a `server.error-handler`.
    pub partial: Option<Box<PartialHead>>,
}

/// The part of a rejected head parsed before the error.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PartialHead {
    /// The request-target as received (empty when the request line failed).
    pub target: String,
    /// The Host (lower-cased, not validated), if one was seen.
    pub host: Option<String>,
    /// The header lines before the bad one.
    pub headers: Headers,
}

impl HeadError {
    fn bare(status: u16) -> HeadError {
        HeadError {
            status,
            version: Version::Http10,
            method: None,
            partial: None,
        }
    }
}

/// lighttpd keeps at most 8190 lines per head (hoff[] array size).
const MAX_LINES: usize = 8190;

/// Parses one request head at the start of `buf` (port 80 rules for Host).
/// `Ok(None)`: incomplete, read more. `Ok(Some((head, n)))`: `n` bytes of head
/// including the blank line. Errors carry lighttpd's status (431 once the head
/// is larger than `max_head`).
pub fn parse_head(
    buf: &[u8],
    opts: &ParseOpts,
    max_head: usize,
) -> Result<Option<(RequestHead, usize)>, HeadError> {
    parse_head_with_port(buf, opts, max_head, 80)
}

/// [`parse_head`] for a listener whose scheme default port is `scheme_port`
/// (443 on TLS sockets): a Host port equal to it is dropped when normalising.
pub fn parse_head_with_port(
    buf: &[u8],
    opts: &ParseOpts,
    max_head: usize,
    scheme_port: u16,
) -> Result<Option<(RequestHead, usize)>, HeadError> {
    let (lines, head_len) = match split_lines(buf) {
        Framing::TooManyLines => return Err(HeadError::bare(431)),
        Framing::Incomplete if buf.len() > max_head => return Err(HeadError::bare(431)),
        Framing::Incomplete if buf.first().is_some_and(|&c| c < 32) => {
            return Err(HeadError::bare(400))
        }
        Framing::Incomplete => return Ok(None),
        Framing::Complete(_, n) if n > max_head => return Err(HeadError::bare(431)),
        Framing::Complete(lines, _) if lines.len() == 1 => return Err(HeadError::bare(400)),
        Framing::Complete(lines, n) => (lines, n),
    };
    let mut head = buf[..head_len].to_vec();
    let mut p = Parser::new(opts, scheme_port);
    let result = p
        .request_line(&head[..lines[1]])
        .and_then(|()| p.header_lines(&mut head, &lines))
        .and_then(|()| p.finish());
    match result {
        Ok(req) => Ok(Some((req, head_len))),
        Err(status) => Err(HeadError {
            status,
            version: p.version.unwrap_or(Version::Http10),
            method: p.method,
            partial: Some(Box::new(PartialHead {
                target: String::from_utf8_lossy(&p.target).into_owned(),
                host: p.host,
                headers: p.headers,
            })),
        }),
    }
}

/// What a keep-alive connection should drop before the next head: lighttpd
/// skips one blank line (e.g. a stray CRLF after a POST body) when the next
/// line is not blank too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlankPrefix {
    /// Nothing to skip; parse `buf` as is.
    None,
    /// Only a blank line so far: wait for more bytes.
    NeedMore,
    /// Drop this many bytes, then parse.
    Skip(usize),
}

/// For the second and later requests of a connection (lighttpd
/// connections.c `discard_blank`).
pub fn keepalive_blank_prefix(buf: &[u8]) -> BlankPrefix {
    let n = if buf.starts_with(b"\r\n") {
        2
    } else if buf.starts_with(b"\n") {
        1
    } else {
        return BlankPrefix::None;
    };
    match buf.get(n) {
        None => BlankPrefix::NeedMore,
        Some(b'\r' | b'\n') => BlankPrefix::None,
        Some(_) => BlankPrefix::Skip(n),
    }
}

enum Framing {
    Incomplete,
    TooManyLines,
    /// Line start offsets (the last is the blank line's) and the head length.
    Complete(Vec<usize>, usize),
}

/// lighttpd `http_header_parse_hoff`: the head ends at the first line that is
/// `\n` or `\r\n`.
fn split_lines(buf: &[u8]) -> Framing {
    let mut starts = vec![0];
    let mut pos = 0;
    while let Some(nl) = buf[pos..].iter().position(|&c| c == b'\n') {
        let line_len = nl + 1;
        if line_len == 1 || (line_len == 2 && buf[pos] == b'\r') {
            return Framing::Complete(starts, pos + line_len);
        }
        pos += line_len;
        starts.push(pos);
        if starts.len() > MAX_LINES {
            return Framing::TooManyLines;
        }
    }
    Framing::Incomplete
}

/// State collected while walking one head.
struct Parser<'o> {
    opts: &'o ParseOpts,
    scheme_port: u16,
    method: Option<Method>,
    version: Option<Version>,
    target: Vec<u8>,
    host: Option<String>,
    headers: Headers,
    keep_alive: bool,
    /// lighttpd `reqbody_length`: 0 none, -1 chunked, else Content-Length.
    body_len: i64,
    saw_content_length: bool,
}

impl<'o> Parser<'o> {
    fn new(opts: &'o ParseOpts, scheme_port: u16) -> Self {
        Parser {
            opts,
            scheme_port,
            method: None,
            version: None,
            target: Vec::new(),
            host: None,
            headers: Headers::new(),
            keep_alive: false,
            body_len: 0,
            saw_content_length: false,
        }
    }

    /// `line` includes its LF. lighttpd `http_request_parse_reqline`.
    fn request_line(&mut self, line: &[u8]) -> Result<(), u16> {
        if line.len() < 13 {
            return Err(400);
        }
        let len = if line[line.len() - 2] == b'\r' {
            line.len() - 2
        } else if !self.opts.header_strict {
            line.len() - 1
        } else {
            return Err(400);
        };
        let line = &line[..len];
        let proto_at = self.protocol(line)?;
        let sp = line.iter().position(|&c| c == b' ').ok_or(400u16)?;
        let method = Method::from_bytes(&line[..sp]);
        if !method.is_known() {
            return Err(501);
        }
        self.method = Some(method);
        let uri_start = sp + 1;
        if uri_start >= proto_at {
            return Err(400);
        }
        let mut uri = &line[uri_start..proto_at - 1];
        if uri.first() != Some(&b'/') {
            uri = self.non_origin_target(uri)?;
        }
        if uri.is_empty() {
            return Err(400);
        }
        // lighttpd only logs bad characters here; URL normalisation rejects them.
        self.target = uri.to_vec();
        Ok(())
    }

    /// Finds the protocol at the end of the request line and sets the version;
    /// returns where the protocol token starts.
    fn protocol(&mut self, line: &[u8]) -> Result<usize, u16> {
        let at = line.len() - 8;
        let (proto, before) = (&line[at..], line[at - 1]);
        if before == b' ' && (proto == b"HTTP/1.1" || proto == b"HTTP/1.0") {
            self.set_version(proto[7] == b'1');
            return Ok(at);
        }
        // lighttpd http_request_parse_proto_loose: protocol after the 2nd space
        let first = line.iter().position(|&c| c == b' ').ok_or(400u16)?;
        let second = line[first + 1..]
            .iter()
            .position(|&c| c == b' ')
            .ok_or(400u16)?;
        let proto = &line[first + 1 + second + 1..];
        if !proto.starts_with(b"HTTP/") {
            return Err(400);
        }
        if !(proto.get(5) == Some(&b'1')
            && proto.get(6) == Some(&b'.')
            && matches!(proto.get(7), Some(b'0' | b'1')))
        {
            return Err(505);
        }
        if self.opts.header_strict {
            return Err(400);
        }
        self.set_version(proto[7] == b'1');
        // lighttpd then scans back from len-9 for the space ending the target
        let mut p = line.len() - 9;
        while p > 0 && line[p - 1] != b' ' {
            p -= 1;
        }
        Ok(p)
    }

    fn set_version(&mut self, http11: bool) {
        let v = if http11 {
            Version::Http11
        } else {
            Version::Http10
        };
        self.version = Some(v);
        self.keep_alive = http11;
    }

    /// lighttpd `http_request_parse_reqline_uri`: absolute-form (its host
    /// becomes Host), `*` for OPTIONS, authority for CONNECT.
    fn non_origin_target<'a>(&mut self, uri: &'a [u8]) -> Result<&'a [u8], u16> {
        let lower: Vec<u8> = uri.iter().take(8).map(u8::to_ascii_lowercase).collect();
        let scheme_len = if uri.len() > 7 && lower.starts_with(b"http://") {
            7
        } else if uri.len() > 8 && lower.starts_with(b"https://") {
            8
        } else {
            0
        };
        if scheme_len > 0 {
            if let Some(slash) = uri[scheme_len..].iter().position(|&c| c == b'/') {
                if slash == 0 || slash >= 1024 {
                    return Err(400);
                }
                let host = &uri[scheme_len..scheme_len + slash];
                self.set_host(host);
                return Ok(&uri[scheme_len + slash..]);
            }
        }
        let method = self.method.as_ref();
        let permitted = !self.opts.header_strict
            || (method == Some(&Method::Connect)
                && uri
                    .first()
                    .is_some_and(|&c| c == b':' || c.is_ascii_digit()))
            || (method == Some(&Method::Options) && uri == b"*");
        if permitted {
            Ok(uri)
        } else {
            Err(400)
        }
    }

    fn set_host(&mut self, v: &[u8]) {
        let host = String::from_utf8_lossy(v).to_ascii_lowercase();
        self.headers.set("Host", &host);
        self.host = Some(host);
    }

    /// lighttpd `http_request_parse_headers`. `lines` are line starts; the
    /// last one is the blank line. Folding rewrites `head` in place.
    fn header_lines(&mut self, head: &mut [u8], lines: &[usize]) -> Result<(), u16> {
        let strict = self.opts.header_strict;
        let last = lines.len() - 1; // index of the blank line
        let mut i = 1;
        while i < last {
            let k = lines[i];
            let colon = k + head[k..lines[i + 1]]
                .iter()
                .position(|&c| c == b':')
                .ok_or(400u16)?;
            let mut key_end = colon;
            while key_end > k && matches!(head[key_end - 1], b' ' | b'\t') {
                if strict {
                    return Err(400);
                }
                key_end -= 1;
            }
            if key_end == k {
                return Err(400);
            }
            check_field_name(&head[k..key_end], strict)?;
            let mut v = colon + 1;
            while matches!(head[v], b' ' | b'\t') {
                v += 1;
            }
            // obs-fold: continuation lines start with SP/HT
            while i + 1 < last && matches!(head[lines[i + 1]], b' ' | b'\t') {
                let end = lines[i + 1];
                if head[end - 2] == b'\r' {
                    head[end - 2] = b' ';
                } else if strict {
                    return Err(400);
                }
                head[end - 1] = b' ';
                i += 1;
            }
            let mut end = lines[i + 1];
            if head[end - 2] == b'\r' {
                end -= 1;
            } else if strict {
                return Err(400);
            }
            end -= 1;
            while matches!(head[end - 1], b' ' | b'\t') {
                end -= 1;
            }
            i += 1;
            if end <= v {
                continue; // empty values are ignored
            }
            let value = &head[v..end];
            if strict && value.iter().any(|&c| (c < 32 && c != b'\t') || c == 127) {
                return Err(400);
            }
            let name = String::from_utf8_lossy(&head[k..key_end]).into_owned();
            self.single_header(&name, value)?;
        }
        Ok(())
    }

    /// lighttpd `http_request_parse_single_header`.
    fn single_header(&mut self, name: &str, raw: &[u8]) -> Result<(), u16> {
        let value = String::from_utf8_lossy(raw).into_owned();
        let is = |n: &str| name.eq_ignore_ascii_case(n);
        if is("host") {
            if !self.headers.contains("host") {
                if raw.len() >= 1024 {
                    return Err(400);
                }
                self.set_host(raw);
                return Ok(());
            }
            if self.host.as_deref() == Some(value.as_str()) {
                return Ok(());
            }
            return self.duplicate(name, &value);
        }
        if is("if-modified-since")
            || is("if-none-match")
            || is("content-type")
            || is("http2-settings")
        {
            if self.headers.contains(name) {
                return self.duplicate(name, &value);
            }
        } else if is("connection") {
            if contains_token(&value, "close") {
                self.keep_alive = false;
            } else if contains_token(&value, "keep-alive") {
                self.keep_alive = true;
            }
        } else if is("content-length") {
            if self.saw_content_length {
                return Err(400);
            }
            let n = parse_digits(raw).ok_or(400u16)?;
            self.saw_content_length = true;
            if self.body_len == 0 {
                self.body_len = n;
            }
        } else if is("transfer-encoding") {
            if self.version != Some(Version::Http11) {
                return Err(400);
            }
            if !value.eq_ignore_ascii_case("chunked") {
                return Err(501);
            }
            self.body_len = -1;
            return Ok(()); // hop-by-hop: not kept
        }
        self.headers.add_joined(name, &value);
        Ok(())
    }

    /// lighttpd `http_request_parse_duplicate`: an equal repeat (ignoring
    /// case) is dropped; If-None-Match keeps the first; otherwise 400.
    fn duplicate(&self, name: &str, value: &str) -> Result<(), u16> {
        let same = self
            .headers
            .get(name)
            .is_some_and(|v| v.eq_ignore_ascii_case(value));
        if same || name.eq_ignore_ascii_case("if-none-match") {
            Ok(())
        } else {
            Err(400)
        }
    }

    /// lighttpd `http_request_parse`: target, Host, version and body checks.
    fn finish(&mut self) -> Result<RequestHead, u16> {
        let method = self.method.clone().ok_or(400u16)?;
        let version = self.version.ok_or(400u16)?;
        let raw = String::from_utf8_lossy(&self.target).into_owned();
        let special = method == Method::Connect || (method == Method::Options && raw == "*");
        let (norm_target, uri_path, query) = if special {
            (raw.clone(), raw.clone(), None)
        } else {
            let t = parse_target_bytes(&self.target, self.opts)?;
            (t.target, t.path, t.query)
        };
        let host = match self.host.as_deref() {
            Some(h) => {
                let h = host_policy(h, self.opts, self.scheme_port).map_err(|_| 400u16)?;
                self.headers.set("Host", &h);
                Some(h)
            }
            None if version == Version::Http11 => return Err(400),
            None => None,
        };
        if version != Version::Http11
            && (self.headers.contains("upgrade") || self.headers.contains("http2-settings"))
        {
            return Err(400);
        }
        self.check_body(&method)?;
        let path_raw = raw.split(['?', '#']).next().unwrap_or("").to_string();
        let expect_100 = version == Version::Http11
            && self
                .headers
                .get("expect")
                .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"));
        Ok(RequestHead {
            method,
            path_raw,
            target: raw,
            query,
            norm_target,
            uri_path,
            version,
            headers: std::mem::take(&mut self.headers),
            host,
            content_length: u64::try_from(self.body_len)
                .ok()
                .filter(|_| self.saw_content_length),
            chunked: self.body_len == -1,
            keep_alive: self.keep_alive,
            expect_100,
        })
    }

    fn check_body(&mut self, method: &Method) -> Result<(), u16> {
        if self.body_len == 0 {
            if *method == Method::Post && !self.saw_content_length {
                return Err(411);
            }
            return Ok(());
        }
        if self.body_len == -1 && self.saw_content_length {
            if self.opts.header_strict {
                return Err(400);
            }
            self.headers.remove("content-length");
            self.saw_content_length = false;
        }
        if method.is_get_or_head() && !self.opts.method_get_body {
            return Err(400);
        }
        Ok(())
    }
}

/// lighttpd `http_request_parse_header_other`: token characters only.
fn check_field_name(name: &[u8], strict: bool) -> Result<(), u16> {
    for &c in name {
        if c.is_ascii_alphabetic() || c == b'-' {
            continue;
        }
        let bad = matches!(
            c,
            b' ' | b'\t'
                | b'\r'
                | b'\n'
                | b'('
                | b')'
                | b'<'
                | b'>'
                | b'@'
                | b','
                | b':'
                | b';'
                | b'\\'
                | b'"'
                | b'/'
                | b'['
                | b']'
                | b'?'
                | b'='
                | b'{'
                | b'}'
        ) || if strict {
            !(32..127).contains(&c)
        } else {
            c == 0
        };
        if bad {
            return Err(400);
        }
    }
    Ok(())
}

/// lighttpd `li_restricted_strtoint64`: digits only, no sign, no overflow.
fn parse_digits(v: &[u8]) -> Option<i64> {
    if v.is_empty() || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(v).ok()?.parse::<i64>().ok()
}

#[cfg(test)]
#[path = "h1_tests.rs"]
mod tests;
