//! Request-target normalisation, as lighttpd 1.4.69 does it (lighttpd
//! src/burl.c `burl_normalize`, src/request.c `http_request_parse_target`,
//! src/buffer.c `buffer_urldecode_path` / `buffer_path_simplify`).
//!
//! Two forms come out of a target: the normalised *target* (still
//! percent-encoded, with the query; what url.rewrite/url.redirect regexes see)
//! and the decoded *uri.path* (what `$HTTP["url"]` matches and the physical
//! path is built from).

use crate::config::core::ParseOpts;

/// The pieces of one request-target after normalisation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Target {
    /// Normalised target: path (+ `?query`), fragment removed (lighttpd `r->target`).
    pub target: String,
    /// Decoded, simplified path (lighttpd `uri.path`). Bytes that do not form
    /// UTF-8 after decoding are replaced by U+FFFD.
    pub path: String,
    /// Query after the first `?` (lighttpd `uri.query`), still encoded; None without `?`.
    pub query: Option<String>,
}

const HEX_UC: &[u8; 16] = b"0123456789ABCDEF";

/// Bytes that must stay (or become) percent-encoded in a normalised URL:
/// everything except `! $ & ' ( ) * + , - . / 0-9 : ; = ? @ A-Z _ a-z ~`
/// (burl.c `encoded_chars_http_uri_reqd`).
fn must_encode(c: u8) -> bool {
    !(c.is_ascii_alphanumeric() || b"!$&'()*+,-./:;=?@_~".contains(&c))
}

fn is_unreserved(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~')
}

/// Lead bytes lighttpd treats as invalid UTF-8 (overlong ASCII, > U+10FFFF).
fn invalid_utf8_byte(c: u8) -> bool {
    c >= 0xF5 || (c | 1) == 0xC1
}

fn hex_val(c: Option<&u8>) -> Option<u8> {
    c.and_then(|c| (*c as char).to_digit(16)).map(|d| d as u8)
}

fn push_encoded(out: &mut Vec<u8>, c: u8) {
    out.extend_from_slice(&[
        b'%',
        HEX_UC[usize::from(c >> 4)],
        HEX_UC[usize::from(c & 15)],
    ]);
}

/// Step 1 of burl_normalize: canonical percent-encoding into `out`. Returns
/// the query split point and whether an invalid UTF-8 lead byte was seen.
/// In "required" mode lighttpd keeps the *last* raw `?` as the split point
/// (burl_normalize_basic_required); in "unreserved" mode the first.
fn normalize_encoding(s: &[u8], required: bool, out: &mut Vec<u8>) -> (Option<usize>, bool) {
    out.clear();
    let mut qs: Option<usize> = None;
    let mut invalid = false;
    let mut i = 0;
    while i < s.len() {
        let c = s[i];
        if !must_encode(c) {
            if c == b'?' && (required || qs.is_none()) {
                qs = Some(out.len());
            }
            out.push(c);
        } else if let (b'%', Some(hi), Some(lo)) = (c, hex_val(s.get(i + 1)), hex_val(s.get(i + 2)))
        {
            let x = (hi << 4) | lo;
            let decode = if required {
                let in_query = qs.is_some();
                !must_encode(x)
                    && if in_query {
                        !matches!(x, b'&' | b'=' | b';' | b'+')
                    } else {
                        !matches!(x, b'/' | b'?')
                    }
            } else {
                is_unreserved(x)
            };
            if decode {
                out.push(x);
            } else {
                push_encoded(out, x);
                invalid |= invalid_utf8_byte(x);
            }
            i += 2;
        } else if c == b'#' {
            break;
        } else {
            push_encoded(out, c);
            invalid |= invalid_utf8_byte(c);
        }
        i += 1;
    }
    (qs, invalid)
}

/// burl_contains_ctrls: an encoded control character (`%00`-`%1F`, `%7F`).
fn contains_encoded_ctrl(s: &[u8]) -> bool {
    s.windows(3)
        .any(|w| w[0] == b'%' && (w[1] < b'2' || (w[1] == b'7' && w[2] == b'F')))
}

/// Does the path need dot-segment / `//` simplification (burl_normalize_path)?
fn needs_simplify(path: &[u8]) -> bool {
    path.windows(2).any(|w| w == b"//")
        || path
            .split(|&c| c == b'/')
            .any(|seg| seg == b"." || seg == b"..")
}

/// Replaces `needle` (3 bytes) by `with` in `buf[from..to]`, in place;
/// returns the new end of that range.
fn replace3_in_place(
    buf: &mut Vec<u8>,
    from: usize,
    to: usize,
    needle: &[u8; 3],
    with: u8,
) -> usize {
    let (mut i, mut w) = (from, from);
    while i < to {
        if buf[i..to].starts_with(needle) {
            buf[w] = with;
            i += 3;
        } else {
            buf[w] = buf[i];
            i += 1;
        }
        w += 1;
    }
    buf.drain(w..to);
    w
}

/// lighttpd `burl_normalize` on a whole target, into `s`. Returns the offset
/// of the query's `?`, or 400.
fn burl_normalize(raw: &[u8], o: &ParseOpts, s: &mut Vec<u8>) -> Result<Option<usize>, u16> {
    // url-path-backslash-trans only acts on Windows/Cygwin builds of lighttpd;
    // on Linux it is accepted and ignored, so `\` is percent-encoded below.
    let (mut qs, invalid) = normalize_encoding(raw, o.url_normalize_required, s);
    if invalid {
        if o.url_invalid_utf8_reject {
            return Err(400);
        }
        qs = s.iter().position(|&c| c == b'?');
    }
    if o.url_ctrls_reject && contains_encoded_ctrl(s) {
        return Err(400);
    }
    let mut split = qs.unwrap_or(s.len());
    if (o.url_path_2f_decode || o.url_path_2f_reject) && s[..split].windows(3).any(|w| w == b"%2F")
    {
        if !o.url_path_2f_decode {
            return Err(400);
        }
        split = replace3_in_place(s, 0, split, b"%2F", b'/');
    }
    if (o.url_path_dotseg_remove || o.url_path_dotseg_reject) && needs_simplify(&s[..split]) {
        if o.url_path_dotseg_reject {
            return Err(400);
        }
        let path = path_simplify(&s[..split]);
        s.splice(..split, path.iter().copied());
        split = path.len();
    }
    if o.url_query_20_plus && split < s.len() {
        let end = s.len();
        replace3_in_place(s, split, end, b"%20", b'+');
    }
    Ok(qs.map(|_| split))
}

/// Reusable buffers for [`parse_target_into`].
#[derive(Debug, Default)]
pub struct TargetScratch {
    norm: Vec<u8>,
    decoded: Vec<u8>,
}

/// lighttpd `http_request_parse_target`: normalise (if `url-normalize`), split
/// off the query, decode and simplify the path; the path must start with `/`.
/// `CONNECT` authority and `OPTIONS *` targets are not for this function.
pub fn parse_target(raw: &str, opts: &ParseOpts) -> Result<Target, u16> {
    parse_target_bytes(raw.as_bytes(), opts)
}

/// [`parse_target`] over the raw bytes of a request line.
pub fn parse_target_bytes(raw: &[u8], opts: &ParseOpts) -> Result<Target, u16> {
    let mut out = Target::default();
    parse_target_into(raw, None, opts, &mut TargetScratch::default(), &mut out)?;
    Ok(out)
}

/// [`parse_target_bytes`] into `out`, reusing its strings and `scratch`
/// (no allocation once they are large enough). `out` is unspecified on error.
/// `text`: `raw` as a string, when the caller has checked it is UTF-8.
pub fn parse_target_into(
    raw: &[u8],
    text: Option<&str>,
    opts: &ParseOpts,
    scratch: &mut TargetScratch,
    out: &mut Target,
) -> Result<(), u16> {
    if let Some(split) = plain_split(raw, opts) {
        let plain = match text {
            Some(t) => Some(t),
            None => std::str::from_utf8(raw).ok(),
        };
        if let Some(plain) = plain {
            set_plain(out, plain, split);
            return Ok(());
        }
    }
    normalize_target_into(raw, opts, scratch, out)
}

/// [`parse_target_into`]'s general path: every step of lighttpd's.
fn normalize_target_into(
    raw: &[u8],
    opts: &ParseOpts,
    scratch: &mut TargetScratch,
    out: &mut Target,
) -> Result<(), u16> {
    let target = &mut scratch.norm;
    let qs = if opts.url_normalize {
        burl_normalize(raw, opts, target)?
    } else {
        let t = &raw[..raw.iter().position(|&c| c == b'#').unwrap_or(raw.len())];
        target.clear();
        target.extend_from_slice(t);
        t.iter().position(|&c| c == b'?')
    };
    let split = qs.unwrap_or(target.len());
    let path = &mut scratch.decoded;
    decode_into(&target[..split], path, decode_path_byte);
    // path_simplify leaves a path without `//`, `.` or `..` unchanged.
    if needs_simplify(path) {
        *path = path_simplify(path);
    }
    if path.first() != Some(&b'/') {
        return Err(400);
    }
    set_lossy(&mut out.path, path);
    set_lossy(&mut out.target, target);
    match qs {
        Some(q) => set_lossy(out.query.get_or_insert_with(String::new), &target[q + 1..]),
        None => out.query = None,
    }
    Ok(())
}

/// Bytes every normalisation keeps as they are ([`must_encode`] is false).
const PLAIN: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        t[c] = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'!' | b'$'
                    | b'&'
                    | b'\''
                    | b'('
                    | b')'
                    | b'*'
                    | b'+'
                    | b','
                    | b'-'
                    | b'.'
                    | b'/'
                    | b':'
                    | b';'
                    | b'='
                    | b'?'
                    | b'@'
                    | b'_'
                    | b'~'
            );
        c += 1;
    }
    t
};

/// Fast path of [`parse_target_into`]: an origin-form target of plain bytes
/// (no `%`, `#`, control or non-ASCII byte) whose path has no `//` and no
/// segment starting with `.` comes out of normalisation, decoding and
/// simplification unchanged. Returns where its query's `?` is (if any).
fn plain_split(raw: &[u8], opts: &ParseOpts) -> Option<Option<usize>> {
    if raw.first() != Some(&b'/') || !raw.iter().all(|&c| PLAIN[usize::from(c)]) {
        return None;
    }
    // the query split burl_normalize would pick: the last `?` in
    // "required" mode, else the first
    let qs = if opts.url_normalize && opts.url_normalize_required {
        raw.iter().rposition(|&c| c == b'?')
    } else {
        raw.iter().position(|&c| c == b'?')
    };
    let path = &raw[..qs.unwrap_or(raw.len())];
    if path
        .windows(2)
        .any(|w| w[0] == b'/' && matches!(w[1], b'/' | b'.'))
    {
        return None;
    }
    Some(qs)
}

/// `out` for a target [`plain_split`] accepted.
fn set_plain(out: &mut Target, plain: &str, qs: Option<usize>) {
    let split = qs.unwrap_or(plain.len());
    out.path.clear();
    out.path.push_str(&plain[..split]);
    out.target.clear();
    out.target.push_str(plain);
    match qs {
        Some(q) => {
            let query = out.query.get_or_insert_with(String::new);
            query.clear();
            query.push_str(&plain[q + 1..]);
        }
        None => out.query = None,
    }
}

/// `dst` = `bytes` as UTF-8 (invalid sequences replaced), reusing `dst`.
pub fn set_lossy(dst: &mut String, bytes: &[u8]) {
    dst.clear();
    dst.push_str(&lossy_str(bytes));
}

/// `bytes` as UTF-8, invalid sequences replaced (borrowed when valid; the
/// common all-valid case takes the fast validator).
pub fn lossy_str(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(s) => std::borrow::Cow::Borrowed(s),
        Err(_) => String::from_utf8_lossy(bytes),
    }
}

/// The decoded uri.path for a raw request path (no query): normalisation as in
/// [`parse_target`], then decoding and simplification. Errors are 400.
pub fn normalize_path(raw: &str, opts: &ParseOpts) -> Result<String, u16> {
    let raw = raw.split(['?', '#']).next().unwrap_or("");
    parse_target(raw, opts).map(|t| t.path)
}

/// The normalised (still encoded) form of a raw query string (without `?`).
pub fn normalize_query(raw: &str, opts: &ParseOpts) -> Result<String, u16> {
    parse_target(&format!("/?{raw}"), opts).map(|t| t.query.unwrap_or_default())
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Plain `%XX` decoding (both hex cases); a `%` not followed by two hex digits
/// is kept. No `+` handling.
pub fn percent_decode(s: &str) -> Vec<u8> {
    let mut out = Vec::new();
    decode_into(s.as_bytes(), &mut out, |c| c);
    out
}

/// lighttpd `buffer_urldecode_path`: `%XX` decoded, decoded control
/// characters become `_`.
pub fn urldecode_path(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    decode_into(s, &mut out, decode_path_byte);
    out
}

fn decode_path_byte(c: u8) -> u8 {
    if c < 32 || c == 127 {
        b'_'
    } else {
        c
    }
}

/// `%XX`-decodes `s` into `out` (cleared first), mapping decoded bytes.
fn decode_into(s: &[u8], out: &mut Vec<u8>, map: impl Fn(u8) -> u8) {
    out.clear();
    out.reserve(s.len());
    let mut i = 0;
    while i < s.len() {
        match (s[i], hex_val(s.get(i + 1)), hex_val(s.get(i + 2))) {
            (b'%', Some(hi), Some(lo)) => {
                out.push(map((hi << 4) | lo));
                i += 3;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
}

/// lighttpd `buffer_path_simplify`: collapse `//`, drop `.` segments, let `..`
/// remove the previous segment (never above the root); a trailing `.`, `..` or
/// `/` leaves a trailing `/`. A path not starting with `/` keeps its first
/// segment unrooted unless that segment is `.`/`..` or gets removed by `..`.
pub fn path_simplify(p: &[u8]) -> Vec<u8> {
    if p.is_empty() {
        return Vec::new();
    }
    let rooted = p[0] == b'/';
    let mut segs: Vec<&[u8]> = p.split(|&c| c == b'/').collect();
    let mut first_unrooted = false;
    if rooted || segs[0] == b"." || segs[0] == b".." {
        segs.remove(0);
    } else {
        first_unrooted = true;
    }
    let mut stack: Vec<&[u8]> = Vec::new();
    let mut trailing = false;
    for (i, seg) in segs.iter().enumerate() {
        let unrooted_head = first_unrooted && i == 0;
        trailing = false;
        match *seg {
            b"" | b"." if !unrooted_head => trailing = true,
            b".." if !unrooted_head => {
                if stack.pop().is_some() && stack.is_empty() {
                    first_unrooted = false;
                }
                trailing = true;
            }
            _ => stack.push(seg),
        }
    }
    let mut out = Vec::with_capacity(p.len());
    for (i, seg) in stack.iter().enumerate() {
        if !(i == 0 && first_unrooted) {
            out.push(b'/');
        }
        out.extend_from_slice(seg);
    }
    if trailing || out.is_empty() {
        out.push(b'/');
    }
    out
}

/// Percent-encodes a path for a `Location` header: every byte except
/// `A-Z a-z 0-9 - . _ ~ ! ( ) * /` becomes `%HH` (lighttpd buffer.c
/// `encoded_chars_rel_uri`, used for the directory redirect).
pub fn url_encode_path(path: &str) -> String {
    encode_except(path.as_bytes(), b"-._~!()*/")
}

/// Like [`url_encode_path`] but `/` is encoded too (`encoded_chars_rel_uri_part`,
/// used for mod_dirlisting hrefs).
pub fn url_encode_part(s: &[u8]) -> String {
    encode_except(s, b"-._~!()*")
}

fn encode_except(s: &[u8], keep: &[u8]) -> String {
    let mut out = Vec::with_capacity(s.len());
    for &c in s {
        if c.is_ascii_alphanumeric() || keep.contains(&c) {
            out.push(c);
        } else {
            push_encoded(&mut out, c);
        }
    }
    lossy(&out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(raw: &str) -> Result<(String, String, Option<String>), u16> {
        parse_target(raw, &ParseOpts::default()).map(|t| (t.target, t.path, t.query))
    }

    fn ok(raw: &str, target: &str, path: &str, query: Option<&str>) {
        assert_eq!(
            t(raw),
            Ok((target.into(), path.into(), query.map(String::from))),
            "raw {raw:?}"
        );
    }

    #[test]
    fn default_normalisation_table() {
        ok("/", "/", "/", None);
        ok("/a b", "/a%20b", "/a b", None);
        ok("/%7euser/%41", "/~user/A", "/~user/A", None);
        ok("/a%2fb", "/a/b", "/a/b", None);
        ok("/a%3fb?x%3f=1", "/a%3Fb?x%3F=1", "/a?b", Some("x%3F=1"));
        ok("/dir/../x", "/x", "/x", None);
        ok("/./x//y/", "/x/y/", "/x/y/", None);
        ok("/a/.", "/a/", "/a/", None);
        ok(
            "/%2e%2e/%2e%2e/etc/passwd",
            "/etc/passwd",
            "/etc/passwd",
            None,
        );
        ok("/../../etc/passwd", "/etc/passwd", "/etc/passwd", None);
        ok("/x#frag?no", "/x", "/x", None);
        ok("/x?a#b", "/x?a", "/x", Some("a"));
        ok("/x?", "/x?", "/x", Some(""));
        ok("/%", "/%25", "/%", None);
        ok("/%zz", "/%25zz", "/%zz", None);
        ok("/caf%c3%a9", "/caf%C3%A9", "/café", None);
        ok(
            "/q?a=%2f&b=../x",
            "/q?a=%2F&b=../x",
            "/q",
            Some("a=%2F&b=../x"),
        );
        ok("/x?a?b", "/x?a?b", "/x", Some("a?b"));
        ok("/<>\"", "/%3C%3E%22", "/<>\"", None);
    }

    #[test]
    fn same_as_lighttpd_cgi_env() {
        // QUERY_STRING and SCRIPT_NAME+PATH_INFO seen by a CGI under lighttpd 1.4.69
        for (raw, path, query) in [
            (
                "/env.sh?a%7e%2fb%zz%c3%a9 c",
                "/env.sh",
                Some("a~%2Fb%25zz%C3%A9%20c"),
            ),
            ("/env.sh/x%2fy/../z?q", "/env.sh/x/z", Some("q")),
            ("/env.sh/a%41%62/.%2e/c?x=%3d", "/env.sh/c", Some("x=%3D")),
            ("/env.sh/%c3%a9?", "/env.sh/é", Some("")),
            ("/./env.sh//p//q/.?a?b#frag", "/env.sh/p/q/", Some("a?b")),
            ("/env.sh/%2541", "/env.sh/%41", None),
        ] {
            let t = parse_target(raw, &ParseOpts::default()).unwrap();
            assert_eq!(
                (t.path.as_str(), t.query.as_deref()),
                (path, query),
                "{raw}"
            );
        }
        assert_eq!(t("/env.sh?%00"), Err(400));
    }

    #[test]
    fn rejections() {
        assert_eq!(
            parse_target_bytes(b"/\xff", &ParseOpts::default()),
            Err(400)
        );
        assert_eq!(
            parse_target_bytes(b"/\xc1", &ParseOpts::default()),
            Err(400)
        );
        for raw in [
            "/%ff", "/%c0%80", "/a%00", "/a%1f", "/a%7f", "/x?%01", "/a\x01b",
        ] {
            assert_eq!(t(raw), Err(400), "{raw:?}");
        }
        assert_eq!(t("x"), Err(400));
    }

    fn with(f: impl FnOnce(&mut ParseOpts)) -> ParseOpts {
        let mut o = ParseOpts::default();
        f(&mut o);
        o
    }

    #[test]
    fn options_change_behaviour() {
        let o = with(|o| {
            o.url_path_2f_decode = false;
            o.url_path_2f_reject = true;
        });
        assert_eq!(parse_target("/a%2fb", &o), Err(400));
        let o = with(|o| o.url_path_2f_decode = false);
        let r = parse_target("/a%2fb", &o).unwrap();
        assert_eq!((r.target.as_str(), r.path.as_str()), ("/a%2Fb", "/a/b"));
        let o = with(|o| {
            o.url_path_dotseg_remove = false;
            o.url_path_dotseg_reject = true;
        });
        assert_eq!(parse_target("/a/../b", &o), Err(400));
        assert_eq!(parse_target("//b", &o), Err(400));
        let o = with(|o| o.url_path_dotseg_remove = false);
        let r = parse_target("/a/../b", &o).unwrap();
        assert_eq!((r.target.as_str(), r.path.as_str()), ("/a/../b", "/b"));
        let o = with(|o| o.url_path_backslash_trans = true);
        assert_eq!(parse_target("/a\\b", &o).unwrap().target, "/a%5Cb");
        let o = with(|o| o.url_query_20_plus = true);
        assert_eq!(
            parse_target("/a b?x y%20z", &o).unwrap().target,
            "/a%20b?x+y+z"
        );
        let o = with(|o| o.url_ctrls_reject = false);
        assert_eq!(parse_target("/a%01", &o).unwrap().path, "/a_");
        let o = with(|o| o.url_invalid_utf8_reject = false);
        assert_eq!(
            parse_target("/%ff?q", &o).unwrap().query.as_deref(),
            Some("q")
        );
    }

    /// The fast path for plain targets gives what the general path gives,
    /// over many generated targets and every option that bears on it.
    #[test]
    fn plain_fast_path_matches_general_path() {
        let alphabet: &[u8] = b"/./?a%2F#b.~!+ =;\x7f";
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let options: Vec<ParseOpts> = vec![
            ParseOpts::default(),
            with(|o| {
                o.url_normalize_required = true;
                o.url_normalize_unreserved = false;
            }),
            with(|o| o.url_normalize = false),
            with(|o| o.url_path_dotseg_remove = false),
            with(|o| {
                o.url_path_dotseg_remove = false;
                o.url_path_dotseg_reject = true;
            }),
            with(|o| o.url_query_20_plus = true),
        ];
        let mut fast = 0;
        for _ in 0..20_000 {
            let len = 1 + (next() % 12) as usize;
            let mut raw = vec![b'/'];
            raw.extend((0..len).map(|_| alphabet[(next() % alphabet.len() as u64) as usize]));
            for o in &options {
                let mut general = Target::default();
                let want =
                    normalize_target_into(&raw, o, &mut TargetScratch::default(), &mut general);
                if let Some(qs) = plain_split(&raw, o) {
                    let plain = std::str::from_utf8(&raw).unwrap();
                    fast += 1;
                    let mut got = Target {
                        query: Some("stale".into()),
                        ..Target::default()
                    };
                    set_plain(&mut got, plain, qs);
                    assert_eq!((Ok(()), &got), (want, &general), "{:?}", plain);
                }
                let mut via_public = Target::default();
                let public = parse_target_into(
                    &raw,
                    None,
                    o,
                    &mut TargetScratch::default(),
                    &mut via_public,
                );
                assert_eq!(public, want);
                let mut via_text = Target::default();
                let text = std::str::from_utf8(&raw).ok();
                let with_text =
                    parse_target_into(&raw, text, o, &mut TargetScratch::default(), &mut via_text);
                assert_eq!(with_text, want);
                if want.is_ok() {
                    assert_eq!(via_public, general);
                    assert_eq!(via_text, general);
                }
            }
        }
        // the generator reaches the fast path often enough to mean something
        assert!(fast > 5_000, "only {fast} plain targets");
    }

    #[test]
    fn required_mode() {
        let o = with(|o| {
            o.url_normalize_required = true;
            o.url_normalize_unreserved = false;
        });
        let r = parse_target("/%21%2f%3f?%26%21%3d", &o).unwrap();
        assert_eq!(r.target, "/!%2F%3F?%26!%3D".replace("%2F", "/"));
        // lighttpd splits at the last raw '?' in this mode
        assert_eq!(
            parse_target("/a?b?c", &o).unwrap().query.as_deref(),
            Some("c")
        );
    }

    #[test]
    fn normalize_disabled_only_cuts_fragment() {
        let o = ParseOpts {
            url_normalize: false,
            ..ParseOpts::default()
        };
        let r = parse_target("/a%41/../b?q%41#f", &o).unwrap();
        assert_eq!(r.target, "/a%41/../b?q%41");
        assert_eq!(r.path, "/b");
        assert_eq!(r.query.as_deref(), Some("q%41"));
    }

    #[test]
    fn simplify_table() {
        for (i, o) in [
            ("/", "/"),
            ("/blah/..", "/"),
            ("/blah/../foo", "/foo"),
            ("/abc/./xyz", "/abc/xyz"),
            ("/abc//xyz", "/abc/xyz"),
            ("/a/b/../../..", "/"),
            ("/...", "/..."),
            ("/.x/..y", "/.x/..y"),
            ("./x", "/x"),
            ("../x", "/x"),
            ("a/../b", "/b"),
            ("a/b/../c", "a/c"),
            ("a", "a"),
            ("", ""),
        ] {
            assert_eq!(path_simplify(i.as_bytes()), o.as_bytes(), "{i:?}");
        }
    }

    #[test]
    fn helpers() {
        assert_eq!(percent_decode("a%20b%zz%4"), b"a b%zz%4");
        assert_eq!(urldecode_path(b"%00a%7F"), b"_a_");
        assert_eq!(url_encode_path("/dir a/ü?"), "/dir%20a/%C3%BC%3F");
        assert_eq!(url_encode_part(b"b file&<x>.txt"), "b%20file%26%3Cx%3E.txt");
        assert_eq!(
            normalize_path("/a/../b%20c?x", &ParseOpts::default()),
            Ok("/b c".into())
        );
        assert_eq!(
            normalize_query("a b&%7e", &ParseOpts::default()),
            Ok("a%20b&~".into())
        );
        assert_eq!(normalize_query("%00", &ParseOpts::default()), Err(400));
    }
}
