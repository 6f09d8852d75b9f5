//! mod_accesslog (lighttpd src/mod_accesslog.c): one line per request in
//! `accesslog.format` (Apache-like `%` specifiers), to a file, a `|pipe`
//! or syslog, at request_done.
//!
//! Times: `%T` is whole seconds of the loop clock, as lighttpd;
//! `%D`, `%{ms|us|ns}T` and `%{msec|usec|nsec[_frac]}t` use the real clock
//! with lighttpd's rounding up. `%b` counts the response bytes after the
//! head, `%O` with it, `%I` the request head and body.
//!
//! Differences: lines are written at once (lighttpd buffers up to 8 KiB /
//! 4 s); the request start is taken when its head is parsed (lighttpd:
//! at its first byte); byte counts are what was queued, not what the
//! kernel accepted; `%{...}t` supports the usual strftime conversions
//! (see [`strftime`]); pipes start at their first line (lighttpd: at
//! startup; files open at startup as there). Bytes that are not UTF-8
//! in `%r` and `%{..}i` come from the kept raw head (`Request::raw_head`); a
//! rejected request logs what lighttpd had parsed by then
//! ([`failed_target`]); a mod_sockproxy connection logs `"  " -1`.
//! Compared with lighttpd by the compat cases `mod-accesslog-*`.

use std::cell::RefCell;
use std::collections::HashMap;
use std::io::Write;
use std::rc::Rc;

use crate::config::diagnostic::Diagnostic;
use crate::config::scoped::{Patch, Scoped};
use crate::config::tree::ConfigTree;
use crate::config::validate::{get_bool, get_short, get_str};
use crate::plugin::registry::ModuleInit;
use crate::plugin::{Ctx, Flow, Hook, Module};
use crate::request::Request;

pub const DEFAULT_FORMAT: &str = "%h %V %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-Agent}i\"";

/// One format element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field {
    Literal(String),
    RemoteAddr,
    LocalAddr,
    BytesOutNoHeader,
    BytesOut,
    BytesIn,
    Cookie(String),
    TimeUsed(TimeUnit),
    Env(String),
    Filename,
    Protocol,
    RequestHeader(String),
    ResponseHeader(String),
    KeepaliveCount,
    Method,
    Port(bool),
    Nothing,
    Query,
    RequestLine,
    Status,
    Time(TimeFmt),
    RemoteUser,
    Url,
    ServerName,
    Host,
    ConnStatus,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeUnit {
    Sec,
    Ms,
    Us,
    Ns,
}

/// A `%t` variant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeFmt {
    pub begin: bool,
    pub kind: TimeKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimeKind {
    /// `[%d/%b/%Y:%H:%M:%S %z]`
    Clf,
    Strftime(String),
    Epoch(TimeUnit),
    Frac(TimeUnit),
}

/// Parse a format (lighttpd `accesslog_parse_format` + `process_format`).
pub fn parse_format(format: &str) -> Result<Vec<Field>, String> {
    let fail = |m: &str| {
        Err(format!(
            "{m}\nparsing accesslog-definition failed: {format}"
        ))
    };
    let b = format.as_bytes();
    let mut out: Vec<Field> = Vec::new();
    let lit = |out: &mut Vec<Field>, s: &str| match out.last_mut() {
        Some(Field::Literal(l)) => l.push_str(s),
        _ => out.push(Field::Literal(s.to_string())),
    };
    let mut i = 0;
    while i < b.len() {
        let start = i;
        while i < b.len() && b[i] != b'%' {
            i += 1;
        }
        if start != i {
            lit(&mut out, &format[start..i]);
        }
        if i == b.len() {
            break;
        }
        i += 1;
        if i == b.len() {
            return fail("% must be followed by a format-specifier");
        }
        let mut param = None;
        if b[i] == b'{' {
            let k = i + 1;
            let Some(end) = b[k..].iter().position(|&c| c == b'}').filter(|&e| e > 0) else {
                return fail("%{...} must contain string and %{ must be terminated by }");
            };
            param = Some(&format[k..k + end]);
            i = k + end + 1;
        } else {
            if b[i] == b'<' || b[i] == b'>' {
                i += 1;
            }
            if i < b.len() && (b[i] == b'%' || b[i] == b'l') {
                lit(&mut out, if b[i] == b'%' { "%" } else { "-" });
                i += 1;
                continue;
            }
        }
        let Some(&c) = b.get(i) else {
            return fail("% or %{...} must be followed by a valid format-specifier");
        };
        let p = param.unwrap_or("").to_string();
        let field = match c {
            b'a' | b'h' => Field::RemoteAddr,
            b'A' => Field::LocalAddr,
            b'b' | b'B' => Field::BytesOutNoHeader,
            b'C' if p.is_empty() => Field::Nothing,
            b'C' => Field::Cookie(p),
            b'D' => Field::TimeUsed(TimeUnit::Us),
            b'e' | b'n' => Field::Env(p),
            b'f' => Field::Filename,
            b'H' => Field::Protocol,
            b'i' => Field::RequestHeader(p),
            b'I' => Field::BytesIn,
            b'k' => Field::KeepaliveCount,
            b'm' => Field::Method,
            b'o' => Field::ResponseHeader(p),
            b'O' => Field::BytesOut,
            b'p' => Field::Port(match p.as_str() {
                "" | "canonical" | "local" => false,
                "remote" => true,
                _ => {
                    return Err(format!(
                        "invalid format %{{canonical,local,remote}}p: {format}"
                    ))
                }
            }),
            b'P' => Field::Nothing,
            b'q' => Field::Query,
            b'r' => Field::RequestLine,
            b's' => Field::Status,
            b't' => Field::Time(time_field(&p).map_err(|m| format!("{m}{format}"))?),
            b'T' => Field::TimeUsed(match p.as_str() {
                "" | "s" | "sec" => TimeUnit::Sec,
                "ms" | "msec" => TimeUnit::Ms,
                "us" | "usec" => TimeUnit::Us,
                "ns" | "nsec" => TimeUnit::Ns,
                _ => return Err(format!("invalid time unit in %{{UNIT}}T: {format}")),
            }),
            b'u' => Field::RemoteUser,
            b'U' => Field::Url,
            b'v' => Field::ServerName,
            b'V' => Field::Host,
            b'X' => Field::ConnStatus,
            _ => return fail("% or %{...} must be followed by a valid format-specifier"),
        };
        out.push(field);
        i += 1;
    }
    let strftime_like = out
        .iter()
        .filter(|f| matches!(f, Field::Time(t) if matches!(t.kind, TimeKind::Clf | TimeKind::Strftime(_) | TimeKind::Epoch(TimeUnit::Sec))))
        .count();
    if strftime_like > 1 {
        return Err(format!(
            "you may not use strftime timestamp format %{{}}t twice in the same access log: {format}"
        ));
    }
    Ok(out)
}

fn time_field(p: &str) -> Result<TimeFmt, String> {
    let (begin, p) = match (p.strip_prefix("begin:"), p.strip_prefix("end:")) {
        (Some(r), _) => (true, r),
        (_, Some(r)) => (false, r),
        _ => (false, p),
    };
    let kind = match p {
        "" => TimeKind::Clf,
        "sec" => TimeKind::Epoch(TimeUnit::Sec),
        "msec" => TimeKind::Epoch(TimeUnit::Ms),
        "usec" => TimeKind::Epoch(TimeUnit::Us),
        "nsec" => TimeKind::Epoch(TimeUnit::Ns),
        "msec_frac" => TimeKind::Frac(TimeUnit::Ms),
        "usec_frac" => TimeKind::Frac(TimeUnit::Us),
        "nsec_frac" => TimeKind::Frac(TimeUnit::Ns),
        f if f.contains('%') => TimeKind::Strftime(f.to_string()),
        _ => {
            return Err(
                "constant string for time format (misspelled token? or missing '%'): ".into(),
            )
        }
    };
    Ok(TimeFmt { begin, kind })
}

/// `\n`, `\t`… in the configured format string.
pub fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match it.next() {
            Some('a') => out.push('\x07'),
            Some('b') => out.push('\x08'),
            Some('f') => out.push('\x0c'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some('v') => out.push('\x0b'),
            Some(o) => out.push(o),
            None => {}
        }
    }
    out
}

/// Append `s` escaped as lighttpd `buffer_append_bs_escaped[_json]`: `"`,
/// `\\` and `\a \b \t \n \v \f \r` get a backslash; other bytes below
/// 0x20 become `\xHH` (JSON: `\u00HH`); bytes from 0x7f are `\xHH` by
/// default and copied as they are in JSON.
pub fn escape(out: &mut Vec<u8>, s: &[u8], json: bool) {
    for &c in s {
        let short = match c {
            b'"' | b'\\' => Some(c),
            0x07..=0x0d => Some(b"abtnvfr"[usize::from(c - 0x07)]),
            _ => None,
        };
        if let Some(k) = short {
            out.extend_from_slice(&[b'\\', k]);
        } else if c >= 0x20 && (json || c <= b'~') {
            out.push(c);
        } else {
            let prefix: &[u8] = if json { b"\\u00" } else { b"\\x" };
            out.extend_from_slice(prefix);
            out.extend_from_slice(format!("{c:02X}").as_bytes());
        }
    }
}

/// Days since 1970-01-01 of a civil date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

/// strftime over local time: `%Y %y %m %d %e %H %M %S %b %h %B? %a %j %z
/// %T %D %F %s %%` (others are copied).
pub fn strftime(fmt: &str, secs: i64) -> String {
    let t = crate::sys::localtime(secs);
    let days = days_from_civil(i64::from(t.year), i64::from(t.month), i64::from(t.day));
    let local = days * 86_400 + i64::from(t.hour * 3600 + t.minute * 60 + t.second);
    let off = (local - secs) / 60;
    let mon = MONTHS
        .get(t.month.saturating_sub(1) as usize)
        .copied()
        .unwrap_or("Jan");
    let mut out = String::with_capacity(fmt.len() + 16);
    let mut it = fmt.chars();
    while let Some(c) = it.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let Some(k) = it.next() else {
            out.push('%');
            break;
        };
        let s = match k {
            'Y' => t.year.to_string(),
            'y' => format!("{:02}", t.year.rem_euclid(100)),
            'm' => format!("{:02}", t.month),
            'd' => format!("{:02}", t.day),
            'e' => format!("{:2}", t.day),
            'H' => format!("{:02}", t.hour),
            'M' => format!("{:02}", t.minute),
            'S' => format!("{:02}", t.second),
            'b' | 'h' => mon.to_string(),
            'a' => DAYS[(days + 4).rem_euclid(7) as usize].to_string(),
            'j' => format!("{:03}", days - days_from_civil(i64::from(t.year), 1, 1) + 1),
            'z' => format!(
                "{}{:02}{:02}",
                if off < 0 { '-' } else { '+' },
                off.abs() / 60,
                off.abs() % 60
            ),
            'T' => format!("{:02}:{:02}:{:02}", t.hour, t.minute, t.second),
            'D' => format!("{:02}/{:02}/{:02}", t.month, t.day, t.year.rem_euclid(100)),
            'F' => format!("{}-{:02}-{:02}", t.year, t.month, t.day),
            's' => secs.to_string(),
            '%' => "%".into(),
            other => format!("%{other}"),
        };
        out.push_str(&s);
    }
    out
}

/// What a log line is made of (filled from the request).
#[derive(Debug, Clone, Default)]
pub struct Entry<'a> {
    pub remote_addr: &'a str,
    pub local_addr: &'a str,
    pub local_port: &'a str,
    pub remote_port: Option<u16>,
    /// Response bytes, head included.
    pub bytes_out: u64,
    pub head_len: u64,
    pub bytes_in: u64,
    /// Request start and log time, seconds of the loop clock.
    pub start: i64,
    pub end: i64,
    /// Request start and log time, nanoseconds since the epoch.
    pub start_ns: i128,
    pub end_ns: i128,
    pub env: &'a [(String, String)],
    pub filename: &'a str,
    pub protocol: &'a str,
    pub method: &'a str,
    pub request_headers: Vec<(&'a str, &'a str)>,
    pub response_headers: Vec<(&'a str, &'a str)>,
    pub keepalive_count: u32,
    pub query: &'a str,
    /// `METHOD target_orig PROTOCOL`, or None for a request that failed to parse.
    pub target_orig: Option<&'a str>,
    pub target: &'a str,
    /// -1 for a connection without a request (mod_sockproxy), as lighttpd.
    pub status: i32,
    pub server_name: &'a str,
    pub host: &'a str,
    /// `+` keep-alive, `-` close, `X` aborted.
    pub conn_status: u8,
    /// The head as received when it is not UTF-8 (`Request::raw_head`).
    pub raw_head: Option<&'a [u8]>,
}

/// Nanoseconds since the epoch.
pub fn epoch_ns(t: std::time::SystemTime) -> i128 {
    match t.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => d.as_nanos() as i128,
        Err(e) => -(e.duration().as_nanos() as i128),
    }
}

/// `n` nanoseconds in `unit`, rounded up (lighttpd's ceil).
fn ceil_unit(n: i128, unit: TimeUnit) -> i128 {
    let div = match unit {
        TimeUnit::Sec => 1_000_000_000,
        TimeUnit::Ms => 1_000_000,
        TimeUnit::Us => 1_000,
        TimeUnit::Ns => 1,
    };
    (n + div - 1).div_euclid(div)
}

/// lighttpd `accesslog_append_bytes`: `-` when nothing was sent.
fn bytes(out: &mut Vec<u8>, n: u64, minus: u64) {
    if n > 0 {
        out.extend_from_slice(n.saturating_sub(minus).to_string().as_bytes());
    } else {
        out.push(b'-');
    }
}

fn header<'a>(list: &[(&'a str, &'a str)], name: &str) -> Option<String> {
    let vals: Vec<&str> = list
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| *v)
        .collect();
    (!vals.is_empty()).then(|| vals.join(", "))
}

/// The request-target of a raw head's request line (between the first and
/// the last space).
fn raw_target(head: &[u8]) -> Option<&[u8]> {
    let line = head.split(|&b| b == b'\n').next()?;
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let first = line.iter().position(|&b| b == b' ')?;
    let last = line.iter().rposition(|&b| b == b' ')?;
    (last > first).then(|| &line[first + 1..last])
}

/// The values of header `name` in a raw head (blanks around them dropped),
/// joined by `, `.
fn raw_header(head: &[u8], name: &str) -> Option<Vec<u8>> {
    let blank = |b: &u8| *b == b' ' || *b == b'\t';
    let values: Vec<&[u8]> = head
        .split(|&b| b == b'\n')
        .skip(1)
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .take_while(|l| !l.is_empty())
        .filter_map(|l| {
            let colon = l.iter().position(|&b| b == b':')?;
            let value = &l[colon + 1..];
            let start = value.iter().position(|b| !blank(b)).unwrap_or(value.len());
            let end = value
                .iter()
                .rposition(|b| !blank(b))
                .map_or(start, |i| i + 1);
            l[..colon]
                .eq_ignore_ascii_case(name.as_bytes())
                .then(|| &value[start..end])
        })
        .collect();
    (!values.is_empty()).then(|| values.join(&b", "[..]))
}

/// A value as logged: the raw head's bytes when the stored string lost
/// some (U+FFFD stands where bytes were not UTF-8).
fn original<'a>(
    stored: &'a str,
    raw: Option<&[u8]>,
    from_raw: impl Fn(&[u8]) -> Option<Vec<u8>>,
) -> std::borrow::Cow<'a, [u8]> {
    match raw
        .filter(|_| stored.contains('\u{FFFD}'))
        .and_then(from_raw)
    {
        Some(bytes) => std::borrow::Cow::Owned(bytes),
        None => std::borrow::Cow::Borrowed(stored.as_bytes()),
    }
}

fn dash_or(out: &mut Vec<u8>, v: Option<&str>, json: bool) {
    match v {
        Some(v) if !v.is_empty() => escape(out, v.as_bytes(), json),
        _ => out.push(b'-'),
    }
}

/// Render one line (without the newline).
pub fn render(fields: &[Field], e: &Entry, json: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    for f in fields {
        match f {
            Field::Literal(s) => out.extend_from_slice(s.as_bytes()),
            Field::RemoteAddr => out.extend_from_slice(e.remote_addr.as_bytes()),
            Field::LocalAddr => out.extend_from_slice(e.local_addr.as_bytes()),
            Field::BytesOutNoHeader => bytes(&mut out, e.bytes_out, e.head_len),
            Field::BytesOut => bytes(&mut out, e.bytes_out, 0),
            Field::BytesIn => bytes(&mut out, e.bytes_in, 0),
            Field::Cookie(name) => {
                if let Some(c) = header(&e.request_headers, "Cookie") {
                    let v = c
                        .split(';')
                        .map(str::trim_start)
                        .find_map(|kv| kv.strip_prefix(name.as_str())?.strip_prefix('='));
                    if let Some(v) = v {
                        escape(&mut out, v.trim_end().as_bytes(), json);
                    }
                }
            }
            Field::TimeUsed(TimeUnit::Sec) => {
                out.extend_from_slice((e.end - e.start).to_string().as_bytes())
            }
            Field::TimeUsed(unit) => {
                let diff = e.end_ns - e.start_ns;
                // lighttpd: -1 when the clock went backwards.
                let n = if diff <= 0 {
                    -1
                } else {
                    ceil_unit(diff, *unit)
                };
                out.extend_from_slice(n.to_string().as_bytes());
            }
            Field::Env(name) => dash_or(
                &mut out,
                e.env
                    .iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.as_str()),
                json,
            ),
            Field::RemoteUser => dash_or(
                &mut out,
                e.env
                    .iter()
                    .find(|(k, _)| k == "REMOTE_USER")
                    .map(|(_, v)| v.as_str()),
                json,
            ),
            Field::Filename => dash_or(&mut out, Some(e.filename), json),
            Field::Protocol => out.extend_from_slice(e.protocol.as_bytes()),
            Field::RequestHeader(n) => match header(&e.request_headers, n) {
                Some(v) if !v.is_empty() => {
                    let v = original(&v, e.raw_head, |h| raw_header(h, n));
                    escape(&mut out, &v, json);
                }
                _ => out.push(b'-'),
            },
            Field::ResponseHeader(n) => {
                dash_or(&mut out, header(&e.response_headers, n).as_deref(), json)
            }
            Field::KeepaliveCount => {
                out.extend_from_slice(e.keepalive_count.to_string().as_bytes())
            }
            Field::Method => out.extend_from_slice(e.method.as_bytes()),
            Field::Port(remote) => match (remote, e.remote_port) {
                (true, Some(p)) => out.extend_from_slice(p.to_string().as_bytes()),
                (true, None) => out.push(b'-'),
                _ => out.extend_from_slice(e.local_port.as_bytes()),
            },
            Field::Nothing => {}
            Field::Query => escape(&mut out, e.query.as_bytes(), json),
            Field::RequestLine => {
                // lighttpd: each part empty when it was not parsed
                out.extend_from_slice(e.method.as_bytes());
                out.push(b' ');
                let target = e.target_orig.unwrap_or("");
                let target = original(target, e.raw_head, |h| raw_target(h).map(<[u8]>::to_vec));
                escape(&mut out, &target, json);
                out.push(b' ');
                out.extend_from_slice(e.protocol.as_bytes());
            }
            Field::Status => out.extend_from_slice(e.status.to_string().as_bytes()),
            Field::Time(t) => out.extend_from_slice(time_text(t, e).as_bytes()),
            Field::Url => escape(
                &mut out,
                e.target.split('?').next().unwrap_or("").as_bytes(),
                json,
            ),
            Field::ServerName => dash_or(&mut out, Some(e.server_name), json),
            Field::Host => dash_or(&mut out, Some(e.host), json),
            Field::ConnStatus => out.push(e.conn_status),
        }
    }
    out
}

/// A `%t` value: begin = request start, else the log time.
fn time_text(t: &TimeFmt, e: &Entry) -> String {
    let secs = if t.begin { e.start } else { e.end };
    let ns = if t.begin { e.start_ns } else { e.end_ns };
    match &t.kind {
        TimeKind::Clf => strftime("[%d/%b/%Y:%H:%M:%S %z]", secs),
        TimeKind::Strftime(f) => strftime(f, secs),
        TimeKind::Epoch(TimeUnit::Sec) => secs.to_string(),
        TimeKind::Epoch(unit) => {
            // whole seconds, then the fraction rounded up (as lighttpd)
            let (s, frac) = (ns.div_euclid(1_000_000_000), ns.rem_euclid(1_000_000_000));
            let per_sec = ceil_unit(1_000_000_000, *unit);
            (s * per_sec + ceil_unit(frac, *unit)).to_string()
        }
        TimeKind::Frac(unit) => {
            let (width, max) = match unit {
                TimeUnit::Ms => (3, 999),
                TimeUnit::Us => (6, 999_999),
                _ => (9, 999_999_999),
            };
            let frac = ceil_unit(ns.rem_euclid(1_000_000_000), *unit).min(max);
            format!("{frac:0width$}")
        }
    }
}

/// `%U`/`%q` source of a request rejected while its head was parsed
/// (`r.target` is empty then): what lighttpd's `r->target` and `uri.query`
/// hold at that point. A target that normalises is split as usual (the
/// error came later, e.g. no Host); one that is rejected itself was
/// normalised in place up to the rejection, with no query split off.
/// An absolute URI's scheme and authority are not part of it. lighttpd's
/// default `server.http-parseopts` are assumed.
pub fn failed_target(target_orig: &str) -> (String, String) {
    use crate::config::core::ParseOpts;
    use crate::http::uri::parse_target;
    let raw = absolute_path(target_orig);
    let strict = ParseOpts::default();
    if let Ok(t) = parse_target(raw, &strict) {
        return (t.target, t.query.unwrap_or_default());
    }
    let relaxed = ParseOpts {
        url_ctrls_reject: false,
        url_invalid_utf8_reject: false,
        url_path_2f_decode: false,
        url_path_dotseg_remove: false,
        ..strict
    };
    match parse_target(raw, &relaxed) {
        Ok(t) => (t.target, String::new()),
        Err(_) => (raw.to_string(), String::new()),
    }
}

/// The path part of an absolute-form target (`http://host/path` → `/path`).
fn absolute_path(target: &str) -> &str {
    let lower = target.get(..8).unwrap_or(target).to_ascii_lowercase();
    let rest = match (lower.starts_with("http://"), lower.starts_with("https://")) {
        (true, _) => &target[7..],
        (_, true) => &target[8..],
        _ => return target,
    };
    rest.find('/').map_or("", |i| &rest[i..])
}

/// Where lines go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    File(String),
    Pipe(String),
    Syslog(u16),
}

#[derive(Debug, Clone, Default)]
pub struct AccesslogConf {
    pub filename: Option<String>,
    pub format: Option<Rc<Vec<Field>>>,
    pub use_syslog: bool,
    pub syslog_level: u16,
    pub json: bool,
}

#[derive(Debug, Clone)]
pub enum Item {
    Filename(Option<String>),
    Format(Rc<Vec<Field>>),
    Syslog(bool),
    Level(u16),
    Json(bool),
}

impl Patch for AccesslogConf {
    type Item = Item;
    fn apply(&mut self, item: &Item) {
        match item {
            Item::Filename(f) => self.filename = f.clone(),
            Item::Format(f) => self.format = Some(f.clone()),
            Item::Syslog(b) => self.use_syslog = *b,
            Item::Level(l) => self.syslog_level = *l,
            Item::Json(j) => self.json = *j,
        }
    }
}

pub fn compile(tree: &ConfigTree) -> Result<Scoped<AccesslogConf>, Vec<Diagnostic>> {
    let keys = [
        "accesslog.filename",
        "accesslog.format",
        "accesslog.use-syslog",
        "accesslog.syslog-level",
        "accesslog.escaping",
    ];
    let defaults = AccesslogConf {
        syslog_level: 6,
        ..AccesslogConf::default()
    };
    let mut scoped = Scoped::build(tree, defaults, &keys, |key, d| {
        let v = &d.value;
        Ok(match key {
            "accesslog.filename" => {
                let f = get_str(key, v)?;
                Item::Filename((!f.is_empty()).then(|| f.to_string()))
            }
            "accesslog.format" => Item::Format(Rc::new(parse_format(&unescape(get_str(key, v)?))?)),
            "accesslog.use-syslog" => Item::Syslog(get_bool(key, v)?),
            "accesslog.syslog-level" => Item::Level(get_short(key, v)?),
            _ => Item::Json(get_str(key, v)? == "json"),
        })
    })?;
    if scoped.defaults.format.is_none() {
        let f = parse_format(DEFAULT_FORMAT).map_err(|e| vec![Diagnostic::error(e, None)])?;
        scoped.defaults.format = Some(Rc::new(f));
    }
    Ok(scoped)
}

/// Open log outputs, shared by every request that logs to them.
#[derive(Default)]
struct Sinks {
    files: HashMap<String, std::fs::File>,
    pipes: HashMap<String, std::process::Child>,
}

impl Sinks {
    /// Open `path` for appending unless it is open already.
    fn open_file(&mut self, path: &str) -> Result<&mut std::fs::File, String> {
        if !self.files.contains_key(path) {
            let file = crate::log::open_append(path)
                .map_err(|e| format!("opening log '{path}' failed: {e}"))?;
            self.files.insert(path.to_string(), file);
        }
        self.files
            .get_mut(path)
            .ok_or_else(|| format!("opening log '{path}' failed"))
    }

    fn write(&mut self, target: &Target, line: &[u8]) {
        let res = match target {
            Target::File(path) => match self.open_file(path) {
                Ok(f) => Some(f.write_all(line)),
                Err(e) => {
                    crate::log_error!("{e}");
                    return;
                }
            },
            Target::Pipe(cmd) => {
                if !self.pipes.contains_key(cmd) {
                    match crate::log::spawn_pipe(cmd) {
                        Ok(c) => {
                            self.pipes.insert(cmd.clone(), c);
                        }
                        Err(e) => {
                            crate::log_error!("opening log '|{cmd}' failed: {e}");
                            return;
                        }
                    }
                }
                self.pipes
                    .get_mut(cmd)
                    .and_then(|c| c.stdin.as_mut())
                    .map(|s| s.write_all(line))
            }
            Target::Syslog(level) => {
                syslog_line(*level, String::from_utf8_lossy(line).trim_end_matches('\n'));
                None
            }
        };
        if let Some(Err(e)) = res {
            crate::log_error!("writing access log entry failed: {e}");
        }
    }

    /// SIGHUP: reopen files (not pipes).
    fn reopen(&mut self) {
        self.files.clear();
    }
}

fn syslog_line(level: u16, line: &str) {
    let formatter = syslog::Formatter3164 {
        facility: syslog::Facility::LOG_DAEMON,
        hostname: None,
        process: "lighttpd".into(),
        pid: std::process::id(),
    };
    if let Ok(mut logger) = syslog::unix(formatter) {
        let _ = match level {
            0..=3 => logger.err(line),
            4 => logger.warning(line),
            5 => logger.notice(line),
            6 => logger.info(line),
            _ => logger.debug(line),
        };
    }
}

/// The module.
pub struct ModAccesslog {
    conf: Scoped<AccesslogConf>,
    sinks: RefCell<Sinks>,
}

/// Registry constructor.
pub fn new(init: &ModuleInit) -> Result<Box<dyn Module>, Vec<Diagnostic>> {
    Ok(Box::new(ModAccesslog {
        conf: compile(init.tree)?,
        sinks: RefCell::default(),
    }))
}

impl Module for ModAccesslog {
    fn name(&self) -> &'static str {
        "mod_accesslog"
    }

    fn hooks(&self) -> &'static [Hook] {
        &[Hook::RequestDone, Hook::Sighup]
    }

    fn request_done(&mut self, r: &mut Request, cx: &mut Ctx) -> Flow {
        let conf = r.resolve(&self.conf);
        let target = if conf.use_syslog {
            Target::Syslog(conf.syslog_level)
        } else {
            match conf.filename.as_deref() {
                None => return Flow::GoOn,
                Some(f) => match f.strip_prefix('|') {
                    Some(cmd) => Target::Pipe(cmd.to_string()),
                    None => Target::File(f.to_string()),
                },
            }
        };
        let Some(format) = conf.format.clone() else {
            return Flow::GoOn;
        };
        let (local_addr, local_port) = r
            .server_socket
            .rsplit_once(':')
            .unwrap_or((&r.server_socket, "0"));
        // A connection mod_sockproxy took has no request: lighttpd logs
        // `"  " -1` for it.
        let tunnel = r.resp.upgraded && r.target_orig.is_empty() && !r.parse_error;
        // A request rejected after its request line still logs it.
        let line_known = !tunnel && (!r.parse_error || !r.target_orig.is_empty());
        // lighttpd reads the version before the method: an unknown method
        // (501) still logs it.
        let version_known = line_known || (r.parse_error && r.resp.status == 501);
        let failed = (r.parse_error && r.target.is_empty()).then(|| failed_target(&r.target_orig));
        let (url, query) = match &failed {
            Some((target, query)) => (target.as_str(), query.as_str()),
            None => (r.target.as_str(), r.uri.query.as_str()),
        };
        let entry = Entry {
            remote_addr: &r.remote_ip,
            local_addr: local_addr.trim_start_matches('[').trim_end_matches(']'),
            local_port,
            remote_port: r.remote_port,
            bytes_out: r.bytes_out,
            head_len: r.resp_head_len,
            bytes_in: r.bytes_in + r.body.received,
            start: r.start_secs,
            end: cx.now,
            start_ns: epoch_ns(r.start_hp),
            end_ns: epoch_ns(std::time::SystemTime::now()),
            env: &r.env,
            filename: &r.physical.path,
            protocol: if version_known {
                r.version.as_str()
            } else {
                ""
            },
            method: if line_known { r.method.as_str() } else { "" },
            request_headers: r.headers.iter().collect(),
            response_headers: r.resp.headers.iter().collect(),
            keepalive_count: r.seq.saturating_sub(1),
            query,
            target_orig: line_known.then_some(r.target_orig.as_str()),
            target: url,
            status: if tunnel { -1 } else { i32::from(r.resp.status) },
            server_name: &r.server_name,
            // lighttpd sets the authority only once the whole head parsed
            host: if r.parse_error { "" } else { &r.uri.authority },
            conn_status: match (r.aborted, r.keep_alive) {
                (true, _) => b'X',
                (false, true) => b'+',
                (false, false) => b'-',
            },
            raw_head: r.raw_head.as_deref(),
        };
        let mut line = render(&format, &entry, conf.json);
        line.push(b'\n');
        self.sinks.borrow_mut().write(&target, &line);
        Flow::GoOn
    }

    /// Log rotation: every file is reopened at once, as lighttpd (a file
    /// that cannot be reopened is tried again at its next line).
    fn sighup(&mut self, _cx: &mut Ctx) -> Flow {
        self.sinks.borrow_mut().reopen();
        if let Err(e) = self.open_files() {
            crate::log_error!("{e}");
        }
        Flow::GoOn
    }

    /// Every `accesslog.filename` of a block that does not enable syslog,
    /// as lighttpd (pipes still start at their first line).
    fn open_files(&mut self) -> Result<(), String> {
        let mut sinks = self.sinks.borrow_mut();
        for path in startup_files(&self.conf) {
            sinks.open_file(&path)?;
        }
        Ok(())
    }
}

/// The log files lighttpd opens at startup: per config block, its
/// `accesslog.filename` unless the same block sets `accesslog.use-syslog`.
fn startup_files(conf: &Scoped<AccesslogConf>) -> Vec<String> {
    let global = (!conf.defaults.use_syslog)
        .then(|| conf.defaults.filename.clone())
        .flatten();
    let blocks = conf.blocks.iter().filter_map(|(_, items)| {
        let syslog = items.iter().any(|i| matches!(i, Item::Syslog(true)));
        items.iter().rev().find_map(|i| match i {
            Item::Filename(Some(f)) if !syslog => Some(f.clone()),
            _ => None,
        })
    });
    global
        .into_iter()
        .chain(blocks)
        .filter(|f| !f.starts_with('|'))
        .collect()
}

#[cfg(test)]
mod tests;
