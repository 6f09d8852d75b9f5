//! Conditions of `$HTTP[...]`, `$SERVER[...]` and `$REQUEST_HEADER[...]`
//! blocks: field, operator and the compiled right side, built the way
//! lighttpd's `configparser_parse_condition` does (field table, regex
//! simplification, host/remoteip/socket normalisation and their errors), and
//! matched at runtime like `config_check_cond_nocache_eval`.
//!
//! Patterns are compiled once, at config load: literals, regexes (`regex`,
//! falling back to `fancy-regex` for look-around/back-references), and
//! addresses with optional CIDR mask for `remoteip`.
//! Differences from 1.4.69: a remoteip value with an invalid CIDR mask or an
//! invalid address containing `:` is rejected (`invalid IP addr`), where
//! 1.4.69 silently accepts it and then matches unpredictably.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Captures of the last successful regex match: `%0` (whole match) to `%9`.
pub type Captures = Vec<String>;

/// What a condition looks at.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CondField {
    /// `$SERVER["socket"]`
    ServerSocket,
    /// `$HTTP["host"]`
    Host,
    /// `$HTTP["url"]`
    Url,
    /// `$HTTP["querystring"]` / `$HTTP["query-string"]`
    QueryString,
    /// `$HTTP["remoteip"]` / `$HTTP["remote-ip"]`
    RemoteIp,
    /// `$HTTP["scheme"]`
    Scheme,
    /// `$HTTP["request-method"]`
    RequestMethod,
    /// `$REQUEST_HEADER["Name"]`, and `$HTTP["referer"|"useragent"|"user-agent"|"language"|"cookie"]`
    /// which lighttpd rewrites to header lookups (`useragent` → `User-Agent`,
    /// `language` → `Accept-Language`, the others keep the name as written).
    RequestHeader(String),
    /// `$PHYSICAL["path"]` (lighttpd 1.4.74+; not accepted by the 1.4.69 parser)
    PhysicalPath,
    /// `$PHYSICAL["existing-path"]` (lighttpd 1.4.74+; not accepted by the 1.4.69 parser)
    PhysicalExistingPath,
}

impl CondField {
    /// lighttpd's `configparser_comp_key_id`: None for fields it rejects.
    pub fn from_names(obj: &str, field: &str) -> Option<CondField> {
        match obj {
            "REQUEST_HEADER" => Some(CondField::RequestHeader(field.to_string())),
            "SERVER" if field == "socket" => Some(CondField::ServerSocket),
            "HTTP" => Some(match field {
                "url" => CondField::Url,
                "host" => CondField::Host,
                "referer" | "user-agent" | "cookie" => CondField::RequestHeader(field.to_string()),
                "useragent" => CondField::RequestHeader("User-Agent".to_string()),
                "language" => CondField::RequestHeader("Accept-Language".to_string()),
                "remoteip" | "remote-ip" => CondField::RemoteIp,
                "querystring" | "query-string" => CondField::QueryString,
                "request-method" => CondField::RequestMethod,
                "scheme" => CondField::Scheme,
                _ => return None,
            }),
            _ => None,
        }
    }
}

/// Condition operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CondOp {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `=~`
    Match,
    /// `!~`
    NoMatch,
    /// `=^`
    Prefix,
    /// `=$`
    Suffix,
    /// `!^` — only reachable as the negation of `=^` in an `else` (cannot be written).
    NotPrefix,
    /// `!$` — only reachable as the negation of `=$` in an `else`.
    NotSuffix,
}

impl CondOp {
    pub fn as_str(self) -> &'static str {
        match self {
            CondOp::Eq => "==",
            CondOp::Ne => "!=",
            CondOp::Match => "=~",
            CondOp::NoMatch => "!~",
            CondOp::Prefix => "=^",
            CondOp::Suffix => "=$",
            CondOp::NotPrefix => "!^",
            CondOp::NotSuffix => "!$",
        }
    }

    /// The operator of an `else` branch's implied condition.
    pub fn negate(self) -> CondOp {
        match self {
            CondOp::Eq => CondOp::Ne,
            CondOp::Ne => CondOp::Eq,
            CondOp::Match => CondOp::NoMatch,
            CondOp::NoMatch => CondOp::Match,
            CondOp::Prefix => CondOp::NotPrefix,
            CondOp::NotPrefix => CondOp::Prefix,
            CondOp::Suffix => CondOp::NotSuffix,
            CondOp::NotSuffix => CondOp::Suffix,
        }
    }

    fn is_negated(self) -> bool {
        matches!(
            self,
            CondOp::Ne | CondOp::NoMatch | CondOp::NotPrefix | CondOp::NotSuffix
        )
    }
}

/// One condition, as written (after lighttpd's regex simplification) and compiled.
#[derive(Debug, Clone)]
pub struct Condition {
    pub field: CondField,
    /// The left side as lighttpd prints it, e.g. `$HTTP["url"]`.
    pub field_text: String,
    pub op: CondOp,
    /// The right side as `-p` prints it.
    pub value: String,
    /// The right side compiled for matching.
    pub pattern: Pattern,
}

/// A compiled right side.
#[derive(Debug, Clone)]
pub enum Pattern {
    /// Compared as text (after normalisation where lighttpd normalises).
    Literal(String),
    /// `$HTTP["host"]` `==`/`!=`: normalised host, port-tolerant compare.
    Host(String),
    /// `$HTTP["remoteip"]` `==`/`!=`: binary address compare, optional CIDR bits.
    Addr(IpAddr, Option<u8>),
    /// `=~` / `!~`
    Regex(CondRegex),
}

/// A compiled condition regex.
#[derive(Debug, Clone)]
pub enum CondRegex {
    Std(regex::Regex),
    Fancy(fancy_regex::Regex),
}

impl CondRegex {
    /// Compile like lighttpd (PCRE2, UTF): `regex` first, `fancy-regex` for
    /// what it lacks; at most 9 capture groups.
    pub fn compile(pat: &str) -> Result<CondRegex, String> {
        let re = match regex::Regex::new(pat) {
            Ok(re) => CondRegex::Std(re),
            Err(std_err) => match fancy_regex::Regex::new(pat) {
                Ok(re) => CondRegex::Fancy(re),
                Err(_) => {
                    return Err(format!(
                        "pcre2_compile: {}, regex: {pat}",
                        regex_error_text(&std_err.to_string())
                    ))
                }
            },
        };
        if re.groups() > 9 {
            return Err(format!(
                "Too many captures in regex, use (?:...) instead of (...): {pat}"
            ));
        }
        Ok(re)
    }

    /// Number of capture groups, not counting the whole match.
    fn groups(&self) -> usize {
        match self {
            CondRegex::Std(re) => re.captures_len() - 1,
            CondRegex::Fancy(re) => re.captures_len() - 1,
        }
    }

    /// Search `subject`; on a match return `%0..%N` (missing groups as "").
    fn captures(&self, subject: &str) -> Option<Captures> {
        // PCRE2 in UTF mode (as lighttpd compiles) refuses a subject that is
        // not valid UTF-8: no match. Request fields reach us decoded lossily,
        // so such bytes show up as U+FFFD (a literal U+FFFD is taken the same).
        if subject.contains(char::REPLACEMENT_CHARACTER) {
            return None;
        }
        let group = |m: Option<&str>| m.unwrap_or("").to_string();
        match self {
            CondRegex::Std(re) => re
                .captures(subject)
                .map(|c| c.iter().map(|m| group(m.map(|m| m.as_str()))).collect()),
            // a run-time error (backtrack limit) counts as no match, as a
            // PCRE match error does in lighttpd
            CondRegex::Fancy(re) => re
                .captures(subject)
                .ok()
                .flatten()
                .map(|c| c.iter().map(|m| group(m.map(|m| m.as_str()))).collect()),
        }
    }
}

/// A regex compile error on one line, for lighttpd's one-line
/// `pcre2_compile: ...` messages (the regex crate's span lines: keep the
/// last meaningful one).
pub fn regex_error_text(s: &str) -> String {
    s.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or(s)
        .trim()
        .trim_start_matches("error: ")
        .to_string()
}

/// lighttpd's `configparser_simplify_regex`: a plain anchored literal
/// regex becomes `=^`, `=$` or `==`. Returns the operator and the value.
pub fn simplify_regex(re: &str) -> (CondOp, String) {
    const REGEX_CHARS: &[u8] = b"\\^$.|?*+()[]{}";
    let b = re.as_bytes();
    let (op, off, len) = if b.last() == Some(&b'$') {
        if b.starts_with(b"\\.") {
            (CondOp::Suffix, 2, b.len() - 1)
        } else if b.first() == Some(&b'^') {
            (CondOp::Eq, 1, b.len() - 1)
        } else {
            (CondOp::Suffix, 0, b.len() - 1)
        }
    } else if b.first() == Some(&b'^') {
        (CondOp::Prefix, 1, b.len())
    } else {
        return (CondOp::Match, re.to_string());
    };
    if off > len || b[off..len].iter().any(|c| REGEX_CHARS.contains(c)) {
        return (CondOp::Match, re.to_string());
    }
    // only the first char is removed, so `\.php$` keeps its `.`
    let start = usize::from(off > 0);
    (op, String::from_utf8_lossy(&b[start..len]).into_owned())
}

/// The operator and value after simplification (`=~` only; never for
/// `$SERVER["socket"]`) — what `-p` prints and block identity uses.
pub fn simplified(field: Option<&CondField>, op: CondOp, value: &str) -> (CondOp, String) {
    if op == CondOp::Match && field != Some(&CondField::ServerSocket) {
        simplify_regex(value)
    } else {
        (op, value.to_string())
    }
}

/// lighttpd's `strtol(s, &end, 0)` for a port: decimal, `0` octal, `0x` hex,
/// the whole string, 1..=65535.
fn parse_port(s: &str) -> Option<u16> {
    let t = s.trim_start();
    let (digits, radix) = if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        (h, 16)
    } else if t.len() > 1 && t.starts_with('0') {
        (&t[1..], 8)
    } else {
        (t, 10)
    };
    let digits = digits.strip_prefix('+').unwrap_or(digits);
    let n = u32::from_str_radix(digits, radix).ok()?;
    (1..=65535).contains(&n).then_some(n as u16)
}

/// lighttpd's `http_request_host_normalize(b, 0)` for config values:
/// canonical numeric IPv4/IPv6, port validated and re-appended in decimal.
pub fn normalize_host(b: &str) -> Option<String> {
    let (host, port) = if let Some(rest) = b.strip_prefix('[') {
        let close = rest.find(']')?;
        if close == 0 {
            return None;
        }
        let after = &rest[close + 1..];
        let port = match after {
            "" | ":" => None,
            _ => Some(parse_port(after.strip_prefix(':')?)?),
        };
        let inner = &rest[..close];
        let (addr, iface) = match inner.find('%') {
            Some(p) => (&inner[..p], &inner[p..]),
            None => (inner, ""),
        };
        let v6: Ipv6Addr = addr.parse().ok()?;
        (format!("[{v6}{iface}]"), port)
    } else {
        let (host, port) = match b.find(':') {
            Some(0) => return None,
            Some(c) if c + 1 < b.len() => (&b[..c], Some(parse_port(&b[c + 1..])?)),
            Some(c) => (&b[..c], None),
            None => (b, None),
        };
        let host = match host.parse::<Ipv4Addr>() {
            Ok(v4) if host.starts_with(|c: char| c.is_ascii_digit()) => v4.to_string(),
            _ => host.to_string(),
        };
        (host, port)
    };
    Some(match port {
        Some(p) => format!("{host}:{p}"),
        None => host,
    })
}

/// lighttpd's `config_remoteip_normalize`: `addr` or `addr/bits`, IPv6
/// with or without `[]`. Returns the normalised text and the address.
pub fn normalize_remoteip(b: &str) -> Option<(String, IpAddr, Option<u8>)> {
    let (addr_text, bits_text) = match b.split_once('/') {
        Some((a, m)) => (a, Some(m)),
        None => (b, None),
    };
    let is_v6 = b.contains(':');
    let bits = match bits_text {
        Some(m) => {
            let n: u8 = m
                .parse()
                .ok()
                .filter(|_| m.bytes().all(|c| c.is_ascii_digit()))?;
            if n == 0 || n > if is_v6 { 128 } else { 32 } {
                return None;
            }
            Some(n)
        }
        None => None,
    };
    let (text, addr) = if is_v6 {
        let inner = addr_text
            .strip_prefix('[')
            .and_then(|s| s.strip_suffix(']'))
            .unwrap_or(addr_text);
        let v6: Ipv6Addr = inner.parse().ok()?;
        (v6.to_string(), IpAddr::V6(v6))
    } else {
        let v4: Ipv4Addr = addr_text.parse().ok()?;
        (v4.to_string(), IpAddr::V4(v4))
    };
    let text = match bits {
        Some(n) => format!("{text}/{n}"),
        None => text,
    };
    Some((text, addr, bits))
}

/// How a new condition failed lighttpd's parse-time checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CondError {
    /// Unknown field: lighttpd prints `error comp_key <cond>` (no newline).
    UnknownField,
    /// `invalid IP addr: <value>`
    InvalidAddr,
}

/// A condition built for a new block, plus a regex error that lighttpd
/// reports only after the whole parse succeeded.
#[derive(Debug)]
pub struct Built {
    pub cond: Condition,
    pub regex_error: Option<String>,
}

/// Build the condition of a new block. `op`/`value` are already
/// simplified (see [`simplified`]).
pub fn build(obj: &str, field_name: &str, op: CondOp, value: &str) -> Result<Built, CondError> {
    let field = CondField::from_names(obj, field_name).ok_or(CondError::UnknownField)?;
    let exact = matches!(op, CondOp::Eq | CondOp::Ne);
    let textual = exact || matches!(op, CondOp::Prefix | CondOp::Suffix);
    let mut normalized = value.to_string();
    let mut pattern = None;
    match &field {
        CondField::RemoteIp if textual && !value.starts_with('/') => {
            let (text, addr, bits) = normalize_remoteip(value).ok_or(CondError::InvalidAddr)?;
            if exact {
                pattern = Some(Pattern::Addr(addr, bits));
            }
            normalized = text;
        }
        CondField::ServerSocket
            if !(value.starts_with(':')
                || value.starts_with("[]")
                || value.starts_with(['/', '\\'])) =>
        {
            normalized = normalize_host(value).ok_or(CondError::InvalidAddr)?;
        }
        CondField::Host if textual => {
            normalized = normalize_host(value).ok_or(CondError::InvalidAddr)?;
            if exact && !normalized.starts_with('/') {
                pattern = Some(Pattern::Host(normalized.clone()));
            }
        }
        _ => {}
    }
    let mut regex_error = None;
    let pattern = match pattern {
        Some(p) => p,
        None if matches!(op, CondOp::Match | CondOp::NoMatch) => {
            match CondRegex::compile(&normalized) {
                Ok(re) => Pattern::Regex(re),
                Err(e) => {
                    regex_error = Some(e);
                    Pattern::Literal(normalized)
                }
            }
        }
        None => Pattern::Literal(normalized),
    };
    let field_text = format!("${obj}[\"{field_name}\"]");
    Ok(Built {
        cond: Condition {
            field,
            field_text,
            op,
            value: value.to_string(),
            pattern,
        },
        regex_error,
    })
}

/// lighttpd's `pcre_keyvalue_burl_normalize_key`: `%xx` hex digits
/// uppercased, bytes above 0x7F percent-encoded.
pub fn burl_normalize_key(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'%'
            && b.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
            && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit)
        {
            out.push('%');
            out.push(char::from(b[i + 1].to_ascii_uppercase()));
            out.push(char::from(b[i + 2].to_ascii_uppercase()));
            i += 3;
            continue;
        }
        if c > 0x7F {
            out.push_str(&format!("%{c:02X}"));
        } else {
            out.push(char::from(c));
        }
        i += 1;
    }
    out
}

impl Condition {
    /// `$HTTP["querystring"]` values are compared with the normalised
    /// query when `server.http-parseopts` "url-normalize" is on (lighttpd's
    /// `config_burl_normalize_cond`). Returns a regex error, if any.
    pub fn normalize_querystring(&mut self) -> Option<String> {
        if self.field != CondField::QueryString {
            return None;
        }
        match &self.pattern {
            Pattern::Literal(lit) => {
                self.pattern = Pattern::Literal(burl_normalize_key(lit));
                None
            }
            Pattern::Regex(_) => match CondRegex::compile(&burl_normalize_key(&self.value)) {
                Ok(re) => {
                    self.pattern = Pattern::Regex(re);
                    None
                }
                Err(e) => Some(e),
            },
            _ => None,
        }
    }

    /// `$OBJ["field"] op "value"` as lighttpd prints and keys it.
    pub fn text(&self) -> String {
        format!(
            "{} {} \"{}\"",
            self.field_text,
            self.op.as_str(),
            self.value
        )
    }

    /// The implied condition of an `else { }` following this one.
    pub fn negated(&self) -> Condition {
        Condition {
            op: self.op.negate(),
            ..self.clone()
        }
    }

    /// Does `subject` (the request's value of this field) satisfy the
    /// condition? On a positive regex (or literal) match `caps` receives
    /// `%0..%9`; it is left alone otherwise.
    pub fn eval(&self, subject: &str, caps: &mut Captures) -> bool {
        let found = match &self.pattern {
            Pattern::Regex(re) => match re.captures(subject) {
                Some(c) => {
                    if !self.op.is_negated() {
                        *caps = c;
                    }
                    true
                }
                None => false,
            },
            Pattern::Host(host) => host_matches(subject, host),
            Pattern::Addr(addr, bits) => addr_matches(subject, addr, *bits),
            Pattern::Literal(lit) => match self.op {
                CondOp::Prefix | CondOp::NotPrefix => subject.starts_with(lit.as_str()),
                CondOp::Suffix | CondOp::NotSuffix => subject.ends_with(lit.as_str()),
                // only hand-built conditions (tests) have literal regexes
                CondOp::Match | CondOp::NoMatch => subject.contains(lit.as_str()),
                _ => subject == lit,
            },
        };
        if found && !self.op.is_negated() && !matches!(self.pattern, Pattern::Regex(_)) {
            *caps = vec![literal_capture(self, subject)];
        }
        found != self.op.is_negated()
    }
}

/// `%0` of a non-regex match (lighttpd turns such conditions into
/// `^lit$` / `^lit` / `lit$` regexes when their captures are used).
fn literal_capture(cond: &Condition, subject: &str) -> String {
    match &cond.pattern {
        Pattern::Literal(lit) if matches!(cond.op, CondOp::Prefix | CondOp::Suffix) => lit.clone(),
        _ => subject.to_string(),
    }
}

/// lighttpd's port-tolerant host equality: equal, or one is the other
/// followed by `:port`.
fn host_matches(subject: &str, host: &str) -> bool {
    let (l, d) = (subject.as_bytes(), host.as_bytes());
    if l.is_empty() || l.len() == d.len() {
        return l == d;
    }
    if l.len() > d.len() {
        l[d.len()] == b':' && l.len() - d.len() <= 6 && l.starts_with(d)
    } else {
        d[l.len()] == b':' && d.starts_with(l)
    }
}

/// Binary address compare with optional CIDR bits; IPv4 masks also match
/// IPv4-mapped IPv6 clients.
fn addr_matches(subject: &str, want: &IpAddr, bits: Option<u8>) -> bool {
    let s = subject
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .unwrap_or(subject);
    let Ok(client) = s.parse::<IpAddr>() else {
        return false;
    };
    match (want, client, bits) {
        (_, _, None) => *want == client,
        (IpAddr::V4(w), IpAddr::V4(c), Some(b)) => v4_prefix_eq(*w, c, b),
        (IpAddr::V4(w), IpAddr::V6(c), Some(b)) => {
            c.to_ipv4_mapped().is_some_and(|c| v4_prefix_eq(*w, c, b))
        }
        (IpAddr::V6(w), IpAddr::V6(c), Some(b)) => {
            let mask = u128::MAX
                .checked_shl(128 - u32::from(b.min(128)))
                .unwrap_or(0);
            u128::from(*w) & mask == u128::from(c) & mask
        }
        (IpAddr::V6(_), IpAddr::V4(_), Some(_)) => false,
    }
}

fn v4_prefix_eq(w: Ipv4Addr, c: Ipv4Addr, bits: u8) -> bool {
    let mask = u32::MAX
        .checked_shl(32 - u32::from(bits.min(32)))
        .unwrap_or(0);
    u32::from(w) & mask == u32::from(c) & mask
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cond(obj: &str, field: &str, op: CondOp, value: &str) -> Condition {
        let (op, value) = simplified(CondField::from_names(obj, field).as_ref(), op, value);
        build(obj, field, op, &value).expect("valid condition").cond
    }

    fn matches(c: &Condition, subject: &str) -> bool {
        c.eval(subject, &mut Vec::new())
    }

    #[test]
    fn regex_simplification_table() {
        for (re, op, val) in [
            ("^/foo", CondOp::Prefix, "/foo"),
            ("\\.php$", CondOp::Suffix, ".php"),
            ("bar$", CondOp::Suffix, "bar"),
            ("^/exact$", CondOp::Eq, "/exact"),
            ("^/a.b", CondOp::Match, "^/a.b"),
            ("^/a\\.b", CondOp::Match, "^/a\\.b"),
            ("\\.tar\\.gz$", CondOp::Match, "\\.tar\\.gz$"),
            ("^example.com$", CondOp::Match, "^example.com$"),
            ("foo", CondOp::Match, "foo"),
            ("^$", CondOp::Eq, ""),
            ("", CondOp::Match, ""),
        ] {
            assert_eq!(simplify_regex(re), (op, val.to_string()), "{re}");
        }
        // never for sockets
        assert_eq!(
            simplified(Some(&CondField::ServerSocket), CondOp::Match, "^/x").0,
            CondOp::Match
        );
    }

    #[test]
    fn field_table() {
        assert_eq!(
            CondField::from_names("HTTP", "useragent"),
            Some(CondField::RequestHeader("User-Agent".into()))
        );
        assert_eq!(
            CondField::from_names("HTTP", "remote-ip"),
            Some(CondField::RemoteIp)
        );
        assert_eq!(
            CondField::from_names("HTTP", "query-string"),
            Some(CondField::QueryString)
        );
        assert_eq!(CondField::from_names("HTTP", "method"), None);
        assert_eq!(CondField::from_names("SERVER", "name"), None);
        assert_eq!(CondField::from_names("PHYSICAL", "path"), None);
        assert_eq!(CondField::from_names("http", "host"), None);
        assert!(matches!(
            build("HTTP", "Host", CondOp::Eq, "x"),
            Err(CondError::UnknownField)
        ));
    }

    #[test]
    fn normalisation_errors() {
        for (obj, f, v) in [
            ("HTTP", "remoteip", "host.example"),
            ("HTTP", "remoteip", "10.0."),
            ("HTTP", "remoteip", "1.2.3"),
            ("HTTP", "remoteip", "010.1"),
            ("HTTP", "remoteip", "10.0.0.0/33"),
            ("HTTP", "remoteip", "10.0.0.0/0"),
            ("HTTP", "remoteip", "1.2.3.4:80"),
            ("HTTP", "remoteip", "not:an:ip"),
            ("SERVER", "socket", "127.0.0.1:0"),
            ("SERVER", "socket", "127.0.0.1:65536"),
            ("SERVER", "socket", "^127\\.0\\.0\\.1:8080$"),
            ("HTTP", "host", ":80"),
        ] {
            let op = if v.starts_with('^') {
                CondOp::Match
            } else {
                CondOp::Eq
            };
            assert_eq!(
                build(obj, f, op, v).err(),
                Some(CondError::InvalidAddr),
                "{obj} {f} {v}"
            );
        }
        assert!(build("SERVER", "socket", CondOp::Match, "8080$").is_ok());
        assert!(build("SERVER", "socket", CondOp::Eq, ":8080").is_ok());
        assert!(build("HTTP", "remoteip", CondOp::Match, "^10\\.").is_ok());
    }

    #[test]
    fn host_normalisation() {
        assert_eq!(
            normalize_host("example.com:0x50").as_deref(),
            Some("example.com:80")
        );
        assert_eq!(normalize_host("[::1]:8080").as_deref(), Some("[::1]:8080"));
        assert_eq!(normalize_host("[0:0::1]").as_deref(), Some("[::1]"));
        assert_eq!(
            normalize_host("Example.COM").as_deref(),
            Some("Example.COM")
        );
        assert_eq!(normalize_host("a:"), Some("a".into()));
        assert_eq!(normalize_host("[]"), None);
    }

    #[test]
    fn host_compare_is_port_tolerant() {
        let c = cond("HTTP", "host", CondOp::Eq, "example.com");
        assert!(matches(&c, "example.com"));
        assert!(matches(&c, "example.com:99"));
        assert!(!matches(&c, "example.org"));
        let c = cond("HTTP", "host", CondOp::Eq, "example.com:18083");
        assert!(matches(&c, "example.com"));
        assert!(!matches(&c, "example.com:99"));
        let c = cond("HTTP", "host", CondOp::Ne, "example.com");
        assert!(!matches(&c, "example.com:1"));
        assert!(matches(&c, ""));
    }

    #[test]
    fn remoteip_binary_and_cidr() {
        let c = cond("HTTP", "remoteip", CondOp::Eq, "10.0.0.0/8");
        assert!(matches(&c, "10.1.2.3"));
        assert!(matches(&c, "::ffff:10.1.2.3"));
        assert!(!matches(&c, "11.0.0.1"));
        let c = cond("HTTP", "remoteip", CondOp::Ne, "127.0.0.1");
        assert!(!matches(&c, "127.0.0.1"));
        assert!(matches(&c, "::1"));
        let c = cond("HTTP", "remoteip", CondOp::Eq, "[0::1]");
        assert_eq!(c.value, "[0::1]");
        assert!(matches(&c, "::1"));
        let c = cond("HTTP", "remoteip", CondOp::Eq, "2001:db8::/32");
        assert!(matches(&c, "2001:db8:1::5"));
        assert!(!matches(&c, "2001:db9::5"));
    }

    #[test]
    fn invalid_utf8_subject_never_matches_a_regex() {
        let c = cond("HTTP", "url", CondOp::Match, ".");
        assert!(matches(&c, "/\u{e9}"));
        assert!(!matches(&c, "/\u{fffd}("));
        assert!(matches(&c.negated(), "/\u{fffd}("));
        let p = cond("HTTP", "url", CondOp::Match, "^/x");
        assert!(matches(&p, "/x\u{fffd}"), "a prefix compares bytes");
    }

    #[test]
    fn operators_and_captures() {
        let c = cond("HTTP", "url", CondOp::Match, "^/(a+)(x)?/(b)");
        let mut caps = Vec::new();
        assert!(c.eval("/aa/b/c", &mut caps));
        assert_eq!(caps, vec!["/aa/b", "aa", "", "b"]);
        let n = cond("HTTP", "url", CondOp::NoMatch, "^/a");
        let mut caps = vec!["keep".to_string()];
        assert!(n.eval("/b", &mut caps));
        assert!(!n.eval("/a", &mut caps));
        assert_eq!(caps, vec!["keep"]);
        let p = cond("HTTP", "url", CondOp::Match, "^/pre");
        assert_eq!(p.op, CondOp::Prefix);
        assert!(p.eval("/prefix", &mut caps));
        assert_eq!(caps, vec!["/pre"]);
        let s = cond("HTTP", "url", CondOp::Suffix, ".php");
        assert!(matches(&s, "/x.php") && !matches(&s, "php"));
        assert!(!matches(&s.negated(), "/x.php"));
        let e = cond("HTTP", "url", CondOp::Eq, "/x");
        assert!(matches(&e, "/x") && !matches(&e, "/X"));
        let b = cond("HTTP", "url", CondOp::Match, "(a)\\1");
        assert!(matches!(b.pattern, Pattern::Regex(CondRegex::Fancy(_))));
        assert!(matches(&b, "xaa") && !matches(&b, "ab"));
    }

    #[test]
    fn querystring_values_are_burl_normalised() {
        assert_eq!(
            burl_normalize_key("a=%7e%2f&b=\u{e9}%zz"),
            "a=%7E%2F&b=%C3%A9%zz"
        );
        let mut c = cond("HTTP", "querystring", CondOp::Eq, "x=%2f");
        assert_eq!(c.normalize_querystring(), None);
        assert!(matches(&c, "x=%2F") && !matches(&c, "x=%2f"));
        assert_eq!(c.value, "x=%2f");
        let mut r = cond("HTTP", "querystring", CondOp::Match, "q=%c3%a9");
        assert_eq!(r.normalize_querystring(), None);
        assert!(matches(&r, "q=%C3%A9"));
    }

    #[test]
    fn regex_errors_are_deferred() {
        let b = build("HTTP", "url", CondOp::Match, "^/(foo").expect("built");
        assert!(b.regex_error.expect("error").starts_with("pcre2_compile: "));
        let b = build(
            "HTTP",
            "url",
            CondOp::Match,
            "(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)",
        )
        .expect("built");
        assert_eq!(
            b.regex_error.as_deref(),
            Some("Too many captures in regex, use (?:...) instead of (...): (a)(b)(c)(d)(e)(f)(g)(h)(i)(j)")
        );
    }
}
