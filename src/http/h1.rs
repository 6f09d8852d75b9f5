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
use std::ops::Range;

use crate::http::host::host_policy_into;
use crate::http::method::Method;
use crate::http::uri::{lossy_str, parse_target_into, Target, TargetScratch};
use std::borrow::Cow;

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
///
/// [`parse_head_into`] refills one `RequestHead` for every request of a
/// connection: its strings, header fields and scratch buffers are reused,
/// so a head parses without allocating once they have grown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    pub method: Method,
    /// The request-target as received (lighttpd `target_orig`, CGI REQUEST_URI);
    /// for an absolute-form target only the part from the path on.
    pub target: String,
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

impl Default for RequestHead {
    fn default() -> RequestHead {
        RequestHead {
            method: Method::Get,
            target: String::new(),
            query: None,
            norm_target: String::new(),
            uri_path: String::new(),
            version: Version::Http10,
            headers: Headers::new(),
            host: None,
            content_length: None,
            chunked: false,
            keep_alive: false,
            expect_100: false,
        }
    }
}

/// Buffers [`parse_head_into`] reuses from one head to the next.
#[derive(Debug, Default)]
pub struct HeadScratch {
    /// A header value joined from obs-fold continuation lines.
    folded: Vec<u8>,
    /// Where each line of the head ends (after its LF), the blank line's
    /// last: found once by [`frame`], walked by the header parser.
    line_ends: Vec<u32>,
    /// The normalised Host while it is checked.
    host: String,
    /// The last Host checked and its result (requests on all connections
    /// name the same few hosts; a repeat skips the checks).
    host_memo: Option<HostMemo>,
    target: Target,
    uri: TargetScratch,
    /// The last head parsed was valid UTF-8.
    utf8: bool,
}

/// A Host value (lower-cased, as received), the options and port it was
/// checked under, and the normalised value.
#[derive(Debug)]
struct HostMemo {
    raw: String,
    /// The options [`host_policy_into`] reads: host-strict, host-normalize.
    opts: (bool, bool),
    scheme_port: u16,
    checked: String,
    /// `checked` differs from `raw`.
    changed: bool,
}

impl HeadScratch {
    /// Was the head [`parse_head_into`] last accepted valid UTF-8 (so its
    /// strings hold the bytes as received)?
    pub fn head_was_utf8(&self) -> bool {
        self.utf8
    }

    /// `host` checked (lighttpd `http_request_host_policy`), or the last
    /// result for the same input. `Ok(true)`: normalising changed it, and
    /// `self.host` holds the new value; `Ok(false)`: `host` is normal.
    fn check_host(&mut self, host: &str, opts: &ParseOpts, scheme_port: u16) -> Result<bool, u16> {
        let policy = (opts.host_strict, opts.host_normalize);
        if let Some(m) = &self.host_memo {
            if m.raw == host && m.opts == policy && m.scheme_port == scheme_port {
                if m.changed {
                    self.host.clone_from(&m.checked);
                }
                return Ok(m.changed);
            }
        }
        host_policy_into(host, opts, scheme_port, &mut self.host).map_err(|_| 400u16)?;
        let changed = self.host != host;
        let m = self.host_memo.get_or_insert_with(|| HostMemo {
            raw: String::new(),
            opts: policy,
            scheme_port,
            checked: String::new(),
            changed,
        });
        // the strings are reused: no allocation per new host
        m.raw.clear();
        m.raw.push_str(host);
        m.opts = policy;
        m.scheme_port = scheme_port;
        m.checked.clone_from(&self.host);
        m.changed = changed;
        Ok(changed)
    }
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
    let mut head = RequestHead::default();
    let mut scratch = HeadScratch::default();
    let n = parse_head_into(buf, opts, max_head, scheme_port, &mut head, &mut scratch)?;
    Ok(n.map(|n| (head, n)))
}

/// [`parse_head_with_port`] into a reused `head` (every field is
/// overwritten on success; unspecified on error). `Ok(Some(n))`: the head
/// is `n` bytes long.
pub fn parse_head_into(
    buf: &[u8],
    opts: &ParseOpts,
    max_head: usize,
    scheme_port: u16,
    head: &mut RequestHead,
    scratch: &mut HeadScratch,
) -> Result<Option<usize>, HeadError> {
    let (first_line_end, head_len) = match frame(buf, &mut scratch.line_ends) {
        Framing::TooManyLines => return Err(HeadError::bare(431)),
        Framing::Incomplete if buf.len() > max_head => return Err(HeadError::bare(431)),
        Framing::Incomplete if buf.first().is_some_and(|&c| c < 32) => {
            return Err(HeadError::bare(400))
        }
        Framing::Incomplete => return Ok(None),
        Framing::Complete { head_len, .. } if head_len > max_head => {
            return Err(HeadError::bare(431))
        }
        Framing::Complete {
            first_line_end,
            head_len,
        } if first_line_end == head_len => return Err(HeadError::bare(400)),
        Framing::Complete {
            first_line_end,
            head_len,
        } => (first_line_end, head_len),
    };
    let buf = &buf[..head_len];
    head.headers.clear();
    let ends = std::mem::take(&mut scratch.line_ends);
    let mut p = Parser::new(opts, scheme_port, head, scratch);
    // one UTF-8 check for the whole head; its parts are then slices of it
    p.text = std::str::from_utf8(buf).ok();
    p.scratch.utf8 = p.text.is_some();
    let result = match p.request_line(buf, first_line_end) {
        Ok(target) => p
            .header_lines(buf, &ends)
            .and_then(|()| p.finish(&buf[target.clone()]))
            .map_err(|status| (status, Some(target))),
        Err(status) => Err((status, None)),
    };
    p.scratch.line_ends = ends;
    if result.is_err() {
        p.head.headers.join_repeats();
    }
    match result {
        Ok(()) => Ok(Some(head_len)),
        Err((status, target)) => Err(HeadError {
            status,
            version: p.version.unwrap_or(Version::Http10),
            method: p.method.take(),
            partial: Some(Box::new(PartialHead {
                target: target.map_or_else(String::new, |t| {
                    String::from_utf8_lossy(&buf[t]).into_owned()
                }),
                host: if p.host_seen {
                    p.head.host.clone()
                } else {
                    None
                },
                headers: std::mem::take(&mut p.head.headers),
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
    /// Where the first line ends (after its LF) and the head length.
    Complete {
        first_line_end: usize,
        head_len: usize,
    },
}

/// Is the line `buf[start..end]` (with its LF) blank: `\n` or `\r\n`?
fn is_blank(buf: &[u8], start: usize, end: usize) -> bool {
    end - start == 1 || (end - start == 2 && buf[start] == b'\r')
}

/// lighttpd `http_header_parse_hoff`: the head ends at the first line that
/// is `\n` or `\r\n`. The end (after its LF) of every line up to that
/// blank one, inclusive, goes into `ends` (one scan of the head; its
/// start eight bytes at a time: the lines of short heads are too short
/// for a vector search's setup to pay).
fn frame(buf: &[u8], ends: &mut Vec<u32>) -> Framing {
    ends.clear();
    if ends.capacity() > 1024 {
        ends.shrink_to(64); // after an unusually long head
    }
    let mut start = 0;
    let mut at = 0;
    while at + 8 <= buf.len().min(SHORT_HEAD) {
        let mut hits = zero_bytes(word_at(buf, at) ^ splat(b'\n'));
        while hits != 0 {
            let lf = at + (hits.trailing_zeros() / 8) as usize;
            hits &= hits - 1;
            if let Some(done) = line_found(buf, ends, &mut start, lf) {
                return done;
            }
        }
        at += 8;
    }
    let rest = &buf[at..];
    if rest.len() < 8 {
        for (i, _) in rest.iter().enumerate().filter(|&(_, &c)| c == b'\n') {
            if let Some(done) = line_found(buf, ends, &mut start, at + i) {
                return done;
            }
        }
        return Framing::Incomplete;
    }
    for lf in memchr::memchr_iter(b'\n', rest) {
        if let Some(done) = line_found(buf, ends, &mut start, at + lf) {
            return done;
        }
    }
    Framing::Incomplete
}

/// [`frame`] scans this much of a head word by word, the rest with
/// memchr (faster over the longer heads of browsers).
const SHORT_HEAD: usize = 64;

/// [`frame`] found an LF at `lf`, ending the line from `start`: the
/// framing when that ends the head (or there are too many lines).
#[inline]
fn line_found(buf: &[u8], ends: &mut Vec<u32>, start: &mut usize, lf: usize) -> Option<Framing> {
    let end = lf + 1;
    let Ok(at) = u32::try_from(end) else {
        return Some(Framing::TooManyLines);
    };
    ends.push(at);
    if is_blank(buf, *start, end) {
        return Some(Framing::Complete {
            first_line_end: ends[0] as usize,
            head_len: end,
        });
    }
    if ends.len() >= MAX_LINES {
        return Some(Framing::TooManyLines);
    }
    *start = end;
    None
}

/// Request headers `single_header` treats specially.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Special {
    Host,
    /// Repeats must be equal (If-Modified-Since, If-None-Match,
    /// Content-Type, HTTP2-Settings).
    Unique,
    Connection,
    ContentLength,
    TransferEncoding,
}

impl Special {
    /// The name's length picks the one candidate to compare with.
    fn of(name: &str) -> Option<Special> {
        let (candidate, special) = match name.len() {
            4 => ("host", Special::Host),
            10 => ("connection", Special::Connection),
            12 => ("content-type", Special::Unique),
            13 => ("if-none-match", Special::Unique),
            14 if matches!(name.as_bytes()[0], b'c' | b'C') => {
                ("content-length", Special::ContentLength)
            }
            14 => ("http2-settings", Special::Unique),
            17 if matches!(name.as_bytes()[0], b'i' | b'I') => {
                ("if-modified-since", Special::Unique)
            }
            17 => ("transfer-encoding", Special::TransferEncoding),
            _ => return None,
        };
        is_lower_name(name.as_bytes(), candidate.as_bytes()).then_some(special)
    }
}

/// Is `name` the lower-case `lower`, in any case? Only the letters of
/// `lower` fold (a cheaper test than `eq_ignore_ascii_case`'s folding of
/// both sides).
fn is_lower_name(name: &[u8], lower: &[u8]) -> bool {
    name.len() == lower.len()
        && name
            .iter()
            .zip(lower)
            .all(|(&c, &l)| c | (u8::from(l.is_ascii_lowercase()) << 5) == l)
}

/// State collected while walking one head.
struct Parser<'a> {
    opts: &'a ParseOpts,
    scheme_port: u16,
    method: Option<Method>,
    version: Option<Version>,
    head: &'a mut RequestHead,
    scratch: &'a mut HeadScratch,
    host_seen: bool,
    keep_alive: bool,
    /// lighttpd `reqbody_length`: 0 none, -1 chunked, else Content-Length.
    body_len: i64,
    saw_content_length: bool,
    /// The whole head as text, when it is valid UTF-8.
    text: Option<&'a str>,
}

/// `part` of the head as text: a slice of `head_text` (the head's one
/// UTF-8 check) when `part` lies in it on character boundaries, else a
/// lossy conversion (invalid sequences replaced; obs-fold values, which
/// are joined elsewhere, take this path too).
fn head_text<'b>(head_text: Option<&'b str>, part: &'b [u8]) -> Cow<'b, str> {
    let whole = head_text.unwrap_or("");
    let off = (part.as_ptr() as usize).wrapping_sub(whole.as_ptr() as usize);
    match off
        .checked_add(part.len())
        .and_then(|end| whole.get(off..end))
    {
        Some(s) => Cow::Borrowed(s),
        None => lossy_str(part),
    }
}

impl<'a> Parser<'a> {
    fn new(
        opts: &'a ParseOpts,
        scheme_port: u16,
        head: &'a mut RequestHead,
        scratch: &'a mut HeadScratch,
    ) -> Self {
        Parser {
            opts,
            scheme_port,
            method: None,
            version: None,
            head,
            scratch,
            host_seen: false,
            keep_alive: false,
            body_len: 0,
            saw_content_length: false,
            text: None,
        }
    }

    /// The first line, `buf[..end]` (with its LF). lighttpd
    /// `http_request_parse_reqline`. Returns where the target is in `buf`.
    fn request_line(&mut self, buf: &[u8], end: usize) -> Result<Range<usize>, u16> {
        let line = &buf[..end];
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
        let mut uri = uri_start..proto_at - 1;
        if line[uri_start] != b'/' {
            uri = self.non_origin_target(line, uri)?;
        }
        if uri.is_empty() {
            return Err(400);
        }
        // lighttpd only logs bad characters here; URL normalisation rejects them.
        Ok(uri)
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
    /// becomes Host), `*` for OPTIONS, authority for CONNECT. `range` is the
    /// target in `line`; returns the part that is kept.
    fn non_origin_target(&mut self, line: &[u8], range: Range<usize>) -> Result<Range<usize>, u16> {
        let uri = &line[range.clone()];
        let scheme = |s: &[u8]| uri.len() > s.len() && uri[..s.len()].eq_ignore_ascii_case(s);
        let scheme_len = if scheme(b"http://") {
            7
        } else if scheme(b"https://") {
            8
        } else {
            0
        };
        if scheme_len > 0 {
            if let Some(slash) = uri[scheme_len..].iter().position(|&c| c == b'/') {
                if slash == 0 || slash >= 1024 {
                    return Err(400);
                }
                self.set_host(&uri[scheme_len..scheme_len + slash]);
                return Ok(range.start + scheme_len + slash..range.end);
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
            Ok(range)
        } else {
            Err(400)
        }
    }

    /// The Host value, lowercased, as `head.host` and the `Host` header.
    fn set_host(&mut self, v: &[u8]) {
        let host = self.head.host.get_or_insert_with(String::new);
        host.clear();
        host.push_str(&head_text(self.text, v));
        if any_byte(v, upper_bytes) {
            host.make_ascii_lowercase();
        }
        // the first Host of a head (the request line's or a header's):
        // no field holds one yet
        self.head.headers.append("Host", host);
        self.host_seen = true;
    }

    /// lighttpd `http_request_parse_headers` over the lines after the first;
    /// `ends` are the line ends [`frame`] found, the blank line's last.
    fn header_lines(&mut self, buf: &[u8], ends: &[u32]) -> Result<(), u16> {
        let strict = self.opts.header_strict;
        let blank = ends.len() - 1;
        let mut j = 1;
        while j < blank {
            let k = ends[j - 1] as usize;
            let first_end = ends[j] as usize;
            let name_start = k;
            let colon = k + find_colon(&buf[k..first_end]).ok_or(400u16)?;
            let mut key_end = colon;
            while key_end > k && matches!(buf[key_end - 1], b' ' | b'\t') {
                if strict {
                    return Err(400);
                }
                key_end -= 1;
            }
            if key_end == k {
                return Err(400);
            }
            check_field_name(&buf[k..key_end], strict)?;
            let mut v = colon + 1;
            while matches!(buf[v], b' ' | b'\t') {
                v += 1;
            }
            // obs-fold: continuation lines start with SP/HT (never the
            // blank line, so `j` stays below it)
            let mut end = first_end;
            let mut folded = false;
            while buf[end] == b' ' || buf[end] == b'\t' {
                if buf[end - 2] != b'\r' && strict {
                    return Err(400);
                }
                folded = true;
                j += 1;
                end = ends[j] as usize;
            }
            j += 1;
            if buf[end - 2] == b'\r' {
                end -= 1;
            } else if strict {
                return Err(400);
            }
            end -= 1;
            let name = &buf[name_start..key_end];
            let raw_value = &buf[v..end.max(v)];
            if folded {
                let mut value = std::mem::take(&mut self.scratch.folded);
                unfold_into(raw_value, &mut value);
                let result = self.header_value(name, &value);
                self.scratch.folded = value;
                result?;
            } else {
                self.header_value(name, raw_value)?;
            }
        }
        self.head.headers.join_repeats();
        Ok(())
    }

    /// One field: trailing blanks trimmed, empty values ignored, control
    /// characters rejected in strict mode.
    fn header_value(&mut self, name: &[u8], value: &[u8]) -> Result<(), u16> {
        let blanks = value
            .iter()
            .rev()
            .take_while(|&&c| c == b' ' || c == b'\t')
            .count();
        let value = &value[..value.len() - blanks];
        if value.is_empty() {
            return Ok(()); // empty values are ignored
        }
        if self.opts.header_strict && has_control(value) {
            return Err(400);
        }
        self.single_header(&head_text(self.text, name), value)
    }

    /// lighttpd `http_request_parse_single_header`.
    fn single_header(&mut self, name: &str, raw: &[u8]) -> Result<(), u16> {
        let value = head_text(self.text, raw);
        let special = Special::of(name);
        if special == Some(Special::Host) {
            if !self.head.headers.contains("Host") {
                if raw.len() >= 1024 {
                    return Err(400);
                }
                self.set_host(raw);
                return Ok(());
            }
            if self.head.host.as_deref() == Some(&*value) {
                return Ok(());
            }
            return self.duplicate(name, &value);
        }
        match special {
            Some(Special::Unique) => {
                if self.head.headers.contains(name) {
                    return self.duplicate(name, &value);
                }
            }
            Some(Special::Connection) => {
                if contains_token(&value, "close") {
                    self.keep_alive = false;
                } else if contains_token(&value, "keep-alive") {
                    self.keep_alive = true;
                }
            }
            Some(Special::ContentLength) => {
                if self.saw_content_length {
                    return Err(400);
                }
                let n = parse_digits(raw).ok_or(400u16)?;
                self.saw_content_length = true;
                if self.body_len == 0 {
                    self.body_len = n;
                }
            }
            Some(Special::TransferEncoding) => {
                if self.version != Some(Version::Http11) {
                    return Err(400);
                }
                if !value.eq_ignore_ascii_case("chunked") {
                    return Err(501);
                }
                self.body_len = -1;
                return Ok(()); // hop-by-hop: not kept
            }
            Some(Special::Host) | None => {}
        }
        self.head.headers.add_repeat(name, &value);
        Ok(())
    }

    /// lighttpd `http_request_parse_duplicate`: an equal repeat (ignoring
    /// case) is dropped; If-None-Match keeps the first; otherwise 400.
    fn duplicate(&self, name: &str, value: &str) -> Result<(), u16> {
        let same = self
            .head
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
    /// `target` is the request-target's bytes.
    fn finish(&mut self, target: &[u8]) -> Result<(), u16> {
        let method = self.method.take().ok_or(400u16)?;
        let result = self.finish_with(target, &method);
        match result {
            Ok(()) => self.head.method = method,
            Err(_) => self.method = Some(method), // the error reports it
        }
        result
    }

    fn finish_with(&mut self, target: &[u8], method: &Method) -> Result<(), u16> {
        let version = self.version.ok_or(400u16)?;
        let head = &mut *self.head;
        let mut host_changed = false;
        let text = head_text(self.text, target);
        let valid = matches!(text, Cow::Borrowed(_));
        head.target.clear();
        head.target.push_str(&text);
        let raw = head.target.as_str();
        let special = *method == Method::Connect || (*method == Method::Options && raw == "*");
        if special {
            head.norm_target.clone_from(&head.target);
            head.uri_path.clone_from(&head.target);
            head.query = None;
        } else {
            let t = &mut self.scratch.target;
            let checked = valid.then_some(raw);
            parse_target_into(target, checked, self.opts, &mut self.scratch.uri, t)?;
            std::mem::swap(&mut head.norm_target, &mut t.target);
            std::mem::swap(&mut head.uri_path, &mut t.path);
            std::mem::swap(&mut head.query, &mut t.query);
        }
        if self.host_seen {
            // head.host keeps the value as received until the head is
            // accepted (a rejected head reports that one)
            let host = head.host.as_deref().unwrap_or("");
            host_changed = self.scratch.check_host(host, self.opts, self.scheme_port)?;
            if host_changed {
                head.headers.set("Host", &self.scratch.host);
            }
        } else if version == Version::Http11 {
            return Err(400);
        } else {
            head.host = None;
        }
        if version != Version::Http11
            && (head.headers.contains("upgrade") || head.headers.contains("http2-settings"))
        {
            return Err(400);
        }
        self.check_body(method)?;
        let head = &mut *self.head;
        head.expect_100 = version == Version::Http11
            && head
                .headers
                .get("Expect")
                .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"));
        head.version = version;
        head.content_length = u64::try_from(self.body_len)
            .ok()
            .filter(|_| self.saw_content_length);
        head.chunked = self.body_len == -1;
        head.keep_alive = self.keep_alive;
        if let (true, Some(h)) = (host_changed, head.host.as_mut()) {
            std::mem::swap(h, &mut self.scratch.host);
        }
        Ok(())
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
            self.head.headers.remove("content-length");
            self.saw_content_length = false;
        }
        if method.is_get_or_head() && !self.opts.method_get_body {
            return Err(400);
        }
        Ok(())
    }
}

/// An obs-folded value: the CR LF ending each folded line become spaces.
fn unfold_into(raw: &[u8], out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(raw);
    for i in 0..out.len() {
        if out[i] == b'\n' {
            out[i] = b' ';
            if i > 0 && out[i - 1] == b'\r' {
                out[i - 1] = b' ';
            }
        }
    }
}

/// `b` in every byte of a word.
const fn splat(b: u8) -> u64 {
    u64::from_le_bytes([b; 8])
}

/// The high bit of each byte of `w` that is 0 (exact per byte: no carry
/// crosses a byte).
fn zero_bytes(w: u64) -> u64 {
    !(((w & splat(0x7f)) + splat(0x7f)) | w) & splat(0x80)
}

/// The high bit of each byte of `w` that is a control character other
/// than HT, or DEL.
fn control_bytes(w: u64) -> u64 {
    // a byte below 0x20 is the one whose high bit stays clear here
    let below_space = !(((w & splat(0x7f)) + splat(0x60)) | w) & splat(0x80);
    (below_space & !zero_bytes(w ^ splat(b'\t'))) | zero_bytes(w ^ splat(0x7f))
}

/// The 8 bytes at `at` as a word (the caller checks that they exist).
fn word_at(bytes: &[u8], at: usize) -> u64 {
    bytes
        .get(at..at + 8)
        .and_then(|w| <[u8; 8]>::try_from(w).ok())
        .map_or(0, u64::from_le_bytes)
}

/// Does `mark` flag any byte of `bytes`? Eight bytes at a time, the
/// tail as the last eight (overlapping is harmless), a short input as one
/// word padded with `a` (which no mark flags).
fn any_byte(bytes: &[u8], mark: impl Fn(u64) -> u64) -> bool {
    if bytes.len() < 8 {
        let mut word = [b'a'; 8];
        word[..bytes.len()].copy_from_slice(bytes);
        return mark(u64::from_le_bytes(word)) != 0;
    }
    let mut hits = mark(word_at(bytes, bytes.len() - 8));
    let mut at = 0;
    while at + 8 <= bytes.len() {
        hits |= mark(word_at(bytes, at));
        at += 8;
    }
    hits != 0
}

/// A control character other than HT, or DEL?
fn has_control(value: &[u8]) -> bool {
    any_byte(value, control_bytes)
}

/// The high bit of each byte of `w` that is an ASCII upper-case letter.
fn upper_bytes(w: u64) -> u64 {
    let low7 = w & splat(0x7f);
    let from_a = low7 + splat(0x80 - b'A');
    let past_z = low7 + splat(0x80 - b'Z' - 1);
    from_a & !past_z & !w & splat(0x80)
}

/// Where the first `:` in `line` is: eight bytes at a time (the lowest
/// zero byte [`zero_bytes`] reports is exact).
fn find_colon(line: &[u8]) -> Option<usize> {
    let mut at = 0;
    while at + 8 <= line.len() {
        let hits = zero_bytes(word_at(line, at) ^ splat(b':'));
        if hits != 0 {
            return Some(at + (hits.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    line[at..].iter().position(|&c| c == b':').map(|p| at + p)
}

/// What a field-name byte is to lighttpd: 0 allowed, [`NAME_BAD`] never
/// allowed (separators, blanks, NUL), [`NAME_STRICT`] refused in strict
/// mode only (other controls, DEL, non-ASCII).
const NAME_BAD: u8 = 1;
const NAME_STRICT: u8 = 2;

const fn name_byte_classes() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        t[c] = if b.is_ascii_alphabetic() || b == b'-' {
            0
        } else if b == 0
            || matches!(
                b,
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
            )
        {
            NAME_BAD
        } else if b < 32 || b >= 127 {
            NAME_STRICT
        } else {
            0
        };
        c += 1;
    }
    t
}

static NAME_BYTE_CLASS: [u8; 256] = name_byte_classes();

/// lighttpd `http_request_parse_header_other`: token characters only.
fn check_field_name(name: &[u8], strict: bool) -> Result<(), u16> {
    let seen = name
        .iter()
        .fold(0u8, |seen, &c| seen | NAME_BYTE_CLASS[usize::from(c)]);
    let refused = if strict {
        NAME_BAD | NAME_STRICT
    } else {
        NAME_BAD
    };
    if seen & refused != 0 {
        return Err(400);
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
