//! Regex rules with `$n`/`%n` substitution, shared by mod_rewrite and
//! mod_redirect (lighttpd src/keyvalue.c and the encoders of src/burl.c).
//!
//! A rule list is tried in order against the request target; the first
//! matching rule wins. A blank replacement stops matching ("exclude" rule).
//! Replacements know `$0`-`$9` (the rule's captures), `%0`-`%9` (captures
//! of the enclosing condition), `${N}`/`%{N}` with encoding flags, the
//! `${url.*}` parts and `${qsa}`.
//!
//! Patterns are compiled with `regex` when possible and with `fancy-regex`
//! (look-around, back-references) otherwise, as DESIGN.md asks.

use crate::b64::{self, Charset::Url};
use crate::config::tree::CtxId;

/// lighttpd limits a rule regex to 19 capture groups.
const MAX_CAPTURES: usize = 19;

/// A compiled PCRE-like pattern.
#[derive(Debug, Clone)]
pub enum Regex {
    Plain(regex::Regex),
    Fancy(fancy_regex::Regex),
}

/// The regex engine gave up (backtracking limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MatchError;

/// Capture spans of one match: index 0 is the whole match.
pub type Spans = Vec<Option<(usize, usize)>>;

impl Regex {
    /// Compile `pat`, falling back to fancy-regex for PCRE-only syntax.
    pub fn new(pat: &str) -> Result<Regex, String> {
        match regex::Regex::new(pat) {
            Ok(re) => Ok(Regex::Plain(re)),
            Err(plain_err) => fancy_regex::Regex::new(pat)
                .map(Regex::Fancy)
                .map_err(|_| plain_err.to_string()),
        }
    }

    /// Number of capture groups (without the whole match).
    pub fn groups(&self) -> usize {
        match self {
            Regex::Plain(re) => re.captures_len() - 1,
            Regex::Fancy(re) => re.captures_len() - 1,
        }
    }

    /// Match `s`; Err on a matcher failure (fancy-regex backtrack limit),
    /// which lighttpd treats like a PCRE error.
    pub fn spans(&self, s: &str) -> Result<Option<Spans>, MatchError> {
        match self {
            Regex::Plain(re) => Ok(re
                .captures(s)
                .map(|c| c.iter().map(|m| m.map(|m| (m.start(), m.end()))).collect())),
            Regex::Fancy(re) => match re.captures(s) {
                Ok(c) => Ok(c.map(|c| c.iter().map(|m| m.map(|m| (m.start(), m.end()))).collect())),
                Err(_) => Err(MatchError),
            },
        }
    }

    pub fn is_match(&self, s: &str) -> bool {
        match self {
            Regex::Plain(re) => re.is_match(s),
            Regex::Fancy(re) => re.is_match(s).unwrap_or(false),
        }
    }
}

/// One `"regex" => "replacement"` rule.
#[derive(Debug, Clone)]
pub struct Rule {
    pub regex: Regex,
    pub replacement: String,
}

/// An ordered rule list from one config context.
#[derive(Debug, Clone, Default)]
pub struct RuleList {
    pub rules: Vec<Rule>,
    /// The context the rules were written in (its condition's captures
    /// are `%0`..`%9`).
    pub ctx: CtxId,
    /// Rules before this index are "once" rules (mod_rewrite).
    pub repeat_idx: usize,
}

impl RuleList {
    /// Append `(regex, replacement)` pairs; `normalize` applies lighttpd's
    /// url-normalize treatment of keys and values.
    pub fn append(&mut self, pairs: &[(String, String)], normalize: bool) -> Result<(), String> {
        for (key, value) in pairs {
            let (key, value) = if normalize {
                (normalize_key(key), normalize_value(value))
            } else {
                (key.clone(), value.clone())
            };
            let regex = Regex::new(&key).map_err(|e| {
                let e = crate::config::cond::regex_error_text(&e);
                format!("pcre2_compile: {e}, regex: {key}\npcre-compile failed for {key}")
            })?;
            if regex.groups() > MAX_CAPTURES {
                return Err(format!(
                    "Too many captures in regex, use (?:...) instead of (...): {key}"
                ));
            }
            self.rules.push(Rule {
                regex,
                replacement: value,
            });
        }
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}

/// The request parts `${url.*}` and `${qsa}` read.
#[derive(Debug, Clone, Default)]
pub struct UrlParts<'a> {
    pub scheme: &'a str,
    /// Authority, or the server name if the request had none.
    pub authority: &'a str,
    pub port: u16,
    /// The target: encoded path plus `?query`.
    pub target: &'a str,
    /// None if the request had no `?`.
    pub query: Option<&'a str>,
}

/// What a rule list did with an input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// No rule matched.
    NoMatch,
    /// Rule `idx` matched with a blank replacement: stop, do nothing.
    Excluded(usize),
    /// Rule `idx` matched; the substituted result.
    Replaced(usize, String),
    /// The regex engine failed (lighttpd: HANDLER_ERROR).
    Failed,
}

/// Try the rules in order against `input` (lighttpd `pcre_keyvalue_buffer_process`).
pub fn process(list: &RuleList, input: &str, cond_caps: &[String], url: &UrlParts) -> Outcome {
    for (idx, rule) in list.rules.iter().enumerate() {
        let spans = match rule.regex.spans(input) {
            Err(MatchError) => return Outcome::Failed,
            Ok(None) => continue,
            Ok(Some(s)) => s,
        };
        if rule.replacement.is_empty() {
            return Outcome::Excluded(idx);
        }
        let caps = Caps {
            subject: input,
            spans: &spans,
        };
        return Outcome::Replaced(idx, substitute(&rule.replacement, &caps, cond_caps, url));
    }
    Outcome::NoMatch
}

/// The rule's own captures.
struct Caps<'a> {
    subject: &'a str,
    spans: &'a Spans,
}

impl Caps<'_> {
    fn get(&self, n: usize) -> &str {
        match self.spans.get(n) {
            Some(Some((a, b))) => self.subject.get(*a..*b).unwrap_or(""),
            _ => "",
        }
    }
}

/// How an inserted value is encoded (lighttpd `BURL_*` flags).
#[derive(Debug, Clone, Copy, Default)]
struct Flags {
    lower: bool,
    encode: Option<Encode>,
}

/// In lighttpd's precedence order when several flags are given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Encode {
    None,
    All,
    Nde,
    Psnde,
    B64Enc,
    B64Dec,
}

impl Flags {
    fn add(&mut self, e: Encode) {
        self.encode = Some(self.encode.map_or(e, |old| old.min(e)));
    }

    fn is_empty(&self) -> bool {
        !self.lower && self.encode.is_none()
    }
}

/// Expand one replacement pattern (lighttpd `pcre_keyvalue_buffer_subst`).
fn substitute(pattern: &str, caps: &Caps, cond_caps: &[String], url: &UrlParts) -> String {
    let p = pattern.as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(p.len() + 32);
    let mut start = 0;
    let mut k = 0;
    while k + 1 < p.len() {
        let c = p[k];
        if c == b'$' || c == b'%' {
            out.extend_from_slice(&p[start..k]);
            let next = p[k + 1];
            if next == b'{' {
                match subst_ext(&mut out, &p[k..], caps, cond_caps, url) {
                    Some(used) => k += used,
                    None => return String::from_utf8_lossy(&out).into_owned(),
                }
            } else if next.is_ascii_digit() {
                let n = usize::from(next - b'0');
                let v = if c == b'$' {
                    caps.get(n)
                } else {
                    cond_caps.get(n).map(String::as_str).unwrap_or("")
                };
                out.extend_from_slice(v.as_bytes());
            } else {
                let len = if next == c { 1 } else { 2 };
                out.extend_from_slice(&p[k..k + len]);
            }
            k += 1;
            start = k + 1;
        }
        k += 1;
    }
    if start < p.len() {
        out.extend_from_slice(&p[start..]);
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Expand `${...}` / `%{...}` at the start of `p`; returns how many bytes
/// past the two-byte opener were consumed (so the caller's `k += used`
/// then `k += 1` lands after `}`), None on a syntax error (lighttpd
/// truncates the result there).
fn subst_ext(
    out: &mut Vec<u8>,
    p: &[u8],
    caps: &Caps,
    cond_caps: &[String],
    url: &UrlParts,
) -> Option<usize> {
    let at = |i: usize| p.get(i).copied().unwrap_or(0);
    let rest = |i: usize| p.get(i..).unwrap_or(&[]);
    let skip_past = |i: usize, ch: u8| rest(i).iter().position(|&b| b == ch).map(|x| i + x);
    let mut i = 2;
    let mut flags = Flags::default();
    while !at(i).is_ascii_digit() && at(i) != b'}' && at(i) != 0 {
        let r = rest(i);
        if r.starts_with(b"esc") {
            i += 3;
            let r = rest(i);
            if r.starts_with(b":") {
                flags.add(Encode::All);
                i += 1;
            } else if r.starts_with(b"ape:") {
                flags.add(Encode::All);
                i += 4;
            } else if r.starts_with(b"nde:") {
                flags.add(Encode::Nde);
                i += 4;
            } else if r.starts_with(b"psnde:") {
                flags.add(Encode::Psnde);
                i += 6;
            } else {
                i = skip_past(i, b':')? + 1;
            }
        } else if r.starts_with(b"no") {
            i += 2;
            let r = rest(i);
            if r.starts_with(b"esc:") {
                flags.add(Encode::None);
                i += 4;
            } else if r.starts_with(b"escape:") {
                flags.add(Encode::None);
                i += 7;
            } else {
                i = skip_past(i, b':')? + 1;
            }
        } else if r.starts_with(b"to") {
            i += 2;
            let r = rest(i);
            if r.starts_with(b"lower:") || r.starts_with(b"upper:") {
                // lighttpd 1.4.69 maps toupper: to tolower as well.
                flags.lower = true;
                i += 6;
            } else {
                i = skip_past(i, b':')? + 1;
            }
        } else if r.starts_with(b"url.") {
            i += 4;
            i = url_part(out, rest(i), flags, url)
                .map(|n| i + n)
                .or_else(|| skip_past(i, b'}'))?;
            break;
        } else if r.starts_with(b"qsa}") {
            if let Some(q) = url.query {
                if out.contains(&b'?') {
                    if !q.is_empty() {
                        out.push(b'&');
                    }
                } else {
                    out.push(b'?');
                }
                append(out, q.as_bytes(), flags);
            }
            i += 3;
            break;
        } else if r.starts_with(b"encb64u:") {
            flags.add(Encode::B64Enc);
            i += 8;
        } else if r.starts_with(b"decb64u:") {
            flags.add(Encode::B64Dec);
            i += 8;
        } else {
            i += 1;
        }
    }
    if at(i) == 0 {
        return None;
    }
    if at(i) != b'}' {
        let mut num = usize::from(at(i) - b'0');
        i += 1;
        if at(i).is_ascii_digit() {
            num = num * 10 + usize::from(at(i) - b'0');
            i += 1;
        }
        if at(i) != b'}' {
            i = skip_past(i, b'}')?;
        }
        if flags.is_empty() {
            flags.encode = Some(Encode::Psnde);
        }
        let v = if p[0] == b'$' {
            caps.get(num)
        } else {
            cond_caps.get(num).map(String::as_str).unwrap_or("")
        };
        append(out, v.as_bytes(), flags);
    }
    Some(i + 1 - 2)
}

/// `${url.xxx}`: returns the offset of the closing `}` within `r`.
fn url_part(out: &mut Vec<u8>, r: &[u8], flags: Flags, url: &UrlParts) -> Option<usize> {
    let parts: [(&[u8], &str); 5] = [
        (b"scheme}", url.scheme),
        (b"authority}", url.authority),
        (b"port}", ""),
        (b"path}", url.target.split('?').next().unwrap_or("")),
        (b"query}", url.query.unwrap_or("")),
    ];
    for (name, value) in parts {
        if r.starts_with(name) {
            if name == b"port}" {
                out.extend_from_slice(url.port.to_string().as_bytes());
            } else {
                append(out, value.as_bytes(), flags);
            }
            return Some(name.len() - 1);
        }
    }
    None
}

/// Append with encoding flags (lighttpd `burl_append`).
fn append(out: &mut Vec<u8>, s: &[u8], flags: Flags) {
    if s.is_empty() {
        return;
    }
    if flags.is_empty() {
        out.extend_from_slice(s);
        return;
    }
    let off = out.len();
    match flags.encode {
        None => {}
        Some(Encode::None) => out.extend_from_slice(s),
        Some(Encode::All) => encode_all(out, s),
        Some(Encode::Nde) => encode_nde(out, s, false),
        Some(Encode::Psnde) => encode_nde(out, s, true),
        Some(Encode::B64Enc) => out.extend_from_slice(b64::encode_no_padding(s, Url).as_bytes()),
        Some(Encode::B64Dec) => out.extend_from_slice(&b64::decode(s, Url).unwrap_or_default()),
    }
    if flags.lower {
        lower_skipping_escapes(&mut out[off..]);
    }
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

pub fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn push_pct(out: &mut Vec<u8>, b: u8) {
    out.extend_from_slice(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
}

fn hex_val(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// Encode everything except unreserved (double-encodes `%`).
pub fn encode_all(out: &mut Vec<u8>, s: &[u8]) {
    for &b in s {
        if is_unreserved(b) {
            out.push(b);
        } else {
            push_pct(out, b);
        }
    }
}

/// Encode everything except unreserved (and `/` with `keep_slash`),
/// without double-encoding valid `%XX` (which are decoded if unreserved).
fn encode_nde(out: &mut Vec<u8>, s: &[u8], keep_slash: bool) {
    let mut i = 0;
    while i < s.len() {
        let b = s[i];
        let pair = (
            s.get(i + 1).copied().and_then(hex_val),
            s.get(i + 2).copied().and_then(hex_val),
        );
        if let (b'%', (Some(h), Some(l))) = (b, pair) {
            let x = (h << 4) | l;
            if is_unreserved(x) {
                out.push(x);
            } else {
                out.extend_from_slice(&s[i..i + 3]);
            }
            i += 3;
            continue;
        }
        if is_unreserved(b) || (keep_slash && b == b'/') {
            out.push(b);
        } else {
            push_pct(out, b);
        }
        i += 1;
    }
}

fn lower_skipping_escapes(s: &mut [u8]) {
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'%'
            && s.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
            && s.get(i + 2).is_some_and(u8::is_ascii_hexdigit)
        {
            i += 3;
            continue;
        }
        s[i] = s[i].to_ascii_lowercase();
        i += 1;
    }
}

/// url-normalize treatment of a rule regex: uppercase `%xx` hex digits,
/// percent-encode bytes >= 0x80.
pub fn normalize_key(k: &str) -> String {
    normalize_with(k, 1)
}

/// Same for a replacement, where the escape is `%%xx`.
pub fn normalize_value(v: &str) -> String {
    normalize_with(v, 2)
}

fn normalize_with(s: &str, percents: usize) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let is_esc = b[i..].len() >= percents + 2
            && b[i..i + percents].iter().all(|&c| c == b'%')
            && b[i + percents].is_ascii_hexdigit()
            && b[i + percents + 1].is_ascii_hexdigit();
        if is_esc {
            out.extend_from_slice(&b[i..i + percents]);
            out.push(b[i + percents].to_ascii_uppercase());
            out.push(b[i + percents + 1].to_ascii_uppercase());
            i += percents + 2;
        } else if b[i] >= 0x80 {
            out.extend(std::iter::repeat(b'%').take(percents - 1));
            push_pct(&mut out, b[i]);
            i += 1;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Is `server.http-parseopts` url-normalize on (lighttpd default: yes)?
pub fn url_normalize(tree: &crate::config::tree::ConfigTree) -> bool {
    crate::config::core::compile_server(tree, Vec::new())
        .map(|s| s.parseopts.url_normalize)
        .unwrap_or(true)
}

/// The listening port from a `$SERVER["socket"]` name such as
/// `127.0.0.1:8080` or `[::1]:80` (0 for unix sockets).
pub fn socket_port(server_socket: &str) -> u16 {
    server_socket
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse().ok())
        .unwrap_or(0)
}

/// The `${url.*}` parts of a request (lighttpd `burl_parts_t`).
pub fn url_parts(r: &crate::request::Request) -> UrlParts<'_> {
    UrlParts {
        scheme: r.uri.scheme,
        authority: if r.uri.authority.is_empty() {
            &r.server_name
        } else {
            &r.uri.authority
        },
        port: socket_port(&r.server_socket),
        target: &r.target,
        query: r.target.split_once('?').map(|(_, q)| q),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(rules: &[(&str, &str)]) -> RuleList {
        let pairs: Vec<(String, String)> = rules
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        let mut l = RuleList::default();
        l.append(&pairs, true).expect("valid rules");
        l
    }

    fn url<'a>(target: &'a str, query: Option<&'a str>) -> UrlParts<'a> {
        UrlParts {
            scheme: "http",
            authority: "example.org",
            port: 8080,
            target,
            query,
        }
    }

    fn run(rules: &[(&str, &str)], input: &str, cond: &[&str]) -> Outcome {
        let cond: Vec<String> = cond.iter().map(|s| s.to_string()).collect();
        let q = input.split_once('?').map(|(_, q)| q);
        process(&list(rules), input, &cond, &url(input, q))
    }

    fn out(rules: &[(&str, &str)], input: &str, cond: &[&str]) -> String {
        match run(rules, input, cond) {
            Outcome::Replaced(_, s) => s,
            o => panic!("expected a replacement, got {o:?}"),
        }
    }

    #[test]
    fn dollar_and_percent_captures() {
        let r = [("^/rw/(.*)$", "/alpha.txt?from=$1&c=%1&all=$0")];
        assert_eq!(
            out(&r, "/rw/hello", &["/x", "cap"]),
            "/alpha.txt?from=hello&c=cap&all=/rw/hello"
        );
        // Missing captures expand to nothing; $$ and %% escape; others literal.
        assert_eq!(
            out(&[("^/(a)", "/$2-%5-$$-%%-$x-%y")], "/a", &[]),
            "/--$-%-$x-%y"
        );
        // A trailing lone `$` is kept.
        assert_eq!(out(&[("^/(a)", "/b$")], "/a", &[]), "/b$");
    }

    #[test]
    fn first_match_wins_and_blank_excludes() {
        let r = [("^/skip", ""), ("^/s", "/second"), ("^/", "/third")];
        assert_eq!(run(&r, "/skip/me", &[]), Outcome::Excluded(0));
        assert_eq!(run(&r, "/sx", &[]), Outcome::Replaced(1, "/second".into()));
        assert_eq!(run(&[("^/q", "/x")], "/nothing", &[]), Outcome::NoMatch);
    }

    #[test]
    fn braced_forms_encode() {
        let r = [(
            "^/(.*)$",
            "/${1}|${esc:1}|${escnde:1}|${noesc:1}|%{escpsnde:1}",
        )];
        assert_eq!(
            out(&r, "/a b/%41%2F", &["c"]),
            "/a%20b/A%2F|a%20b%2F%2541%252F|a%20b%2FA%2F|a b/%41%2F|"
        );
        // tolower alone appends nothing; combined with an encoding it lowers.
        let r = [(
            "^/(.*)$",
            "/[${tolower:1}][${escpsnde:tolower:1}][${toupper:esc:1}]",
        )];
        assert_eq!(out(&r, "/AbC%2f", &[]), "/[][abc%2f][abc%252f]");
        // two-digit numbers and base64url.
        let r = [("^/(.*)$", "/${encb64u:1}/${12}")];
        assert_eq!(out(&r, "/hi?", &[]), "/aGk_/");
        let r = [("^/(.*)$", "/${decb64u:1}")];
        assert_eq!(out(&r, "/aGk", &[]), "/hi");
    }

    #[test]
    fn url_parts_and_qsa() {
        let r = [(
            "^/p",
            "/${url.scheme}/${url.authority}/${url.port}${url.path}${qsa}",
        )];
        assert_eq!(out(&r, "/p/x?a=1", &[]), "/http/example.org/8080/p/x?a=1");
        let r = [("^/p", "/n?b=2${qsa}")];
        assert_eq!(out(&r, "/p?a=1", &[]), "/n?b=2&a=1");
        assert_eq!(out(&r, "/p", &[]), "/n?b=2");
        let r = [("^/p", "/n?b=2${qsa}|${url.query}|${url.bogus}x")];
        assert_eq!(out(&r, "/p?", &[]), "/n?b=2||x");
    }

    #[test]
    fn malformed_braces_truncate() {
        assert_eq!(out(&[("^/", "/a${1")], "/", &[]), "/a");
        assert_eq!(out(&[("^/", "/a${esc")], "/", &[]), "/a");
        assert_eq!(out(&[("^/(x)", "/a${1x}b")], "/x", &[]), "/axb");
    }

    #[test]
    fn normalisation_of_rules() {
        assert_eq!(normalize_key("^/%c3%a9é$"), "^/%C3%A9%C3%A9$");
        assert_eq!(normalize_value("/%%c3é%1"), "/%%C3%%C3%%A9%1");
    }

    #[test]
    fn compile_errors_and_limits() {
        let mut l = RuleList::default();
        let many = "(a)".repeat(20);
        assert!(l
            .append(&[(many, "/x".into())], false)
            .unwrap_err()
            .contains("Too many captures"));
        assert!(l.append(&[("(".into(), "/x".into())], false).is_err());
        // PCRE-only syntax goes to fancy-regex.
        l.append(&[(r"^/(?!admin)(\w+)$".into(), "/u/$1".into())], false)
            .expect("look-ahead");
        assert_eq!(
            process(&l, "/bob", &[], &url("/bob", None)),
            Outcome::Replaced(0, "/u/bob".into())
        );
        assert_eq!(
            process(&l, "/admin", &[], &url("/admin", None)),
            Outcome::NoMatch
        );
    }
}
