//! Range requests on complete 200 responses (lighttpd src/http_range.c):
//! `bytes=` specs (`a-b`, `a-`, `-n`), at most 10 considered, invalid specs
//! skipped, overlapping or nearby (< 80 bytes apart) ranges merged, If-Range
//! by exact string match, and multipart/byteranges framing with lighttpd's
//! fixed boundary.

use crate::http::headers::Headers;
use crate::http::method::Method;

/// lighttpd's fixed multipart boundary.
pub const MULTIPART_BOUNDARY: &str = "fkj49sn38dcn3";
/// Only the first 10 specs of a Range header are considered.
const MAX_RANGES: usize = 10;
/// Ranges closer than this are sent as one part.
const MERGE_GAP: i64 = 80;

/// The outcome of a Range header against a body of known size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RangeSpec {
    /// Ignore the header: send the full 200 response.
    Full,
    /// 206 with these inclusive byte ranges, in response order.
    Ranges(Vec<(u64, u64)>),
    /// 416 (lighttpd's error page; its Content-Range is lost).
    Unsatisfiable,
}

/// Parses a Range header value for a body of `size` bytes.
pub fn parse_range(header: &str, size: u64) -> RangeSpec {
    let h = header.as_bytes();
    if size == 0 || h.len() < 6 || !h[..6].eq_ignore_ascii_case(b"bytes=") {
        return RangeSpec::Full;
    }
    let len = i64::try_from(size).unwrap_or(i64::MAX);
    let mut ranges: Vec<(i64, i64)> = Vec::new();
    let mut s = &h[6..];
    loop {
        let (range, rest) = parse_one(s, len);
        s = rest;
        match (range, s.first()) {
            (Some(r), None | Some(b',')) => ranges.push(r),
            _ => s = &s[s.iter().position(|&c| c == b',').unwrap_or(s.len())..],
        }
        if s.is_empty() || ranges.len() >= MAX_RANGES {
            break;
        }
        s = &s[1..]; // past ','
    }
    if ranges.is_empty() {
        return RangeSpec::Unsatisfiable;
    }
    let ranges = if ranges.len() > 1 {
        coalesce(ranges)
    } else {
        ranges
    };
    RangeSpec::Ranges(
        ranges
            .into_iter()
            .map(|(a, b)| (a as u64, b as u64))
            .collect(),
    )
}

/// lighttpd `http_range_parse_next`: one spec; returns it (None = invalid)
/// and the rest of the input after trailing blanks.
fn parse_one(s: &[u8], len: i64) -> (Option<(i64, i64)>, &[u8]) {
    let (n, digits, mut e) = strtoll(s, 0);
    let mut range = None;
    if n >= 0 {
        if n != i64::MAX && n < len && digits {
            while matches!(s.get(e), Some(b' ' | b'\t')) {
                e += 1;
            }
            if s.get(e) == Some(&b'-') {
                let start = e + 1;
                let (m, digits2, e2) = strtoll(s, start);
                e = e2;
                if !digits2 || (m == 0 && s[e - 1] != b'0') {
                    range = Some((n, len - 1));
                } else if n <= m && m != i64::MAX {
                    range = Some((n, m.min(len - 1)));
                }
            }
        }
    } else if n != i64::MIN {
        range = Some((if len > -n { len + n } else { 0 }, len - 1));
    }
    while matches!(s.get(e), Some(b' ' | b'\t')) {
        e += 1;
    }
    (range, &s[e..])
}

/// C `strtoll(s + at, &end, 10)`: leading white space, optional sign, digits;
/// saturates on overflow. Returns (value, any digits, end index); without
/// digits the end is `at`.
fn strtoll(s: &[u8], at: usize) -> (i64, bool, usize) {
    let mut i = at;
    while matches!(
        s.get(i),
        Some(b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r')
    ) {
        i += 1;
    }
    let neg = s.get(i) == Some(&b'-');
    if matches!(s.get(i), Some(b'-' | b'+')) {
        i += 1;
    }
    let start = i;
    let mut v: i64 = 0;
    while let Some(d) = s.get(i).filter(|c| c.is_ascii_digit()) {
        let d = i64::from(d - b'0');
        v = if neg {
            v.saturating_mul(10).saturating_sub(d)
        } else {
            v.saturating_mul(10).saturating_add(d)
        };
        i += 1;
    }
    if i == start {
        return (0, false, at);
    }
    (v, true, i)
}

/// lighttpd `http_range_coalesce`: merge overlapping or nearby ranges into
/// the earlier one, restarting after each merge; order otherwise kept.
fn coalesce(mut r: Vec<(i64, i64)>) -> Vec<(i64, i64)> {
    let mut i = 0;
    while i + 1 < r.len() {
        let (b, e) = r[i];
        let hit = (i + 1..r.len()).find(|&j| {
            let (bj, ej) = r[j];
            !(if b <= bj {
                e < bj - MERGE_GAP
            } else {
                ej < b - MERGE_GAP
            })
        });
        match hit {
            Some(j) => {
                let (bj, ej) = r.remove(j);
                r[i] = (b.min(bj), e.max(ej));
                i = 0;
            }
            None => i += 1,
        }
    }
    r
}

/// If-Range: a value starting with `"` must equal the ETag, anything else
/// the Last-Modified value, exactly; otherwise the full response is sent.
pub fn if_range_matches(if_range: &str, etag: Option<&str>, last_modified: Option<&str>) -> bool {
    let validator = if if_range.starts_with('"') {
        etag
    } else {
        last_modified
    };
    validator == Some(if_range)
}

/// What the response phase does about ranges for one response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeDecision {
    /// Add `Accept-Ranges: bytes` (the response has no Accept-Ranges yet).
    pub add_accept_ranges: bool,
    pub spec: RangeSpec,
}

/// lighttpd `http_range_rfc7233` for a complete response body of `body_len`
/// bytes. `version_ok`: HTTP/1.1, or HTTP/1.0 with the `http10.range` flag.
/// Call it for empty bodies too: lighttpd still adds `Accept-Ranges: bytes`
/// to an empty 200 (verified), it only skips the Range itself.
pub fn evaluate(
    status: u16,
    method: &Method,
    version_ok: bool,
    req: &Headers,
    resp: &Headers,
    body_len: u64,
) -> RangeDecision {
    let mut d = RangeDecision {
        add_accept_ranges: false,
        spec: RangeSpec::Full,
    };
    if status != 200 || !method.is_get_or_head() || !version_ok {
        return d;
    }
    // absent names are answered without a scan (Headers' presence bits)
    if resp.contains("Transfer-Encoding") || resp.contains("Content-Encoding") {
        return d;
    }
    let accept_ranges = resp.get("Accept-Ranges");
    match accept_ranges {
        None => d.add_accept_ranges = true,
        Some("none") => return d,
        Some(_) => {}
    }
    if *method != Method::Get {
        return d;
    }
    let Some(range) = req.get("Range") else {
        return d;
    };
    if let Some(ir) = req.get("If-Range") {
        if !if_range_matches(ir, resp.get("ETag"), resp.get("Last-Modified")) {
            return d;
        }
    }
    d.spec = parse_range(range, body_len);
    d
}

/// `bytes a-b/total`
pub fn content_range(first: u64, last: u64, total: u64) -> String {
    format!("bytes {first}-{last}/{total}")
}

/// `bytes */total` (set by lighttpd on 416, then dropped with the error page).
pub fn content_range_unsatisfiable(total: u64) -> String {
    format!("bytes */{total}")
}

/// Content-Type of a multi-range 206.
pub fn multipart_content_type() -> String {
    format!("multipart/byteranges; boundary={MULTIPART_BOUNDARY}")
}

/// The header block before one part's bytes; the first part has no
/// leading CRLF. `content_type` is the original response Content-Type.
pub fn part_header(
    first: bool,
    content_type: Option<&str>,
    range: (u64, u64),
    total: u64,
) -> String {
    let mut s = String::new();
    if !first {
        s.push_str("\r\n");
    }
    s.push_str("--");
    s.push_str(MULTIPART_BOUNDARY);
    if let Some(ct) = content_type {
        s.push_str("\r\nContent-Type: ");
        s.push_str(ct);
    }
    s.push_str(&format!(
        "\r\nContent-Range: {}\r\n\r\n",
        content_range(range.0, range.1, total)
    ));
    s
}

/// The closing delimiter after the last part.
pub fn multipart_end() -> String {
    format!("\r\n--{MULTIPART_BOUNDARY}--\r\n")
}

/// The whole multipart body given the full body (for in-memory responses).
pub fn multipart_body(body: &[u8], content_type: Option<&str>, ranges: &[(u64, u64)]) -> Vec<u8> {
    let total = body.len() as u64;
    let mut out = Vec::new();
    for (i, &(a, b)) in ranges.iter().enumerate() {
        out.extend_from_slice(part_header(i == 0, content_type, (a, b), total).as_bytes());
        if let Some(part) = body.get(a as usize..=b as usize) {
            out.extend_from_slice(part);
        }
    }
    out.extend_from_slice(multipart_end().as_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(h: &str, size: u64) -> RangeSpec {
        parse_range(h, size)
    }

    fn ranges(v: &[(u64, u64)]) -> RangeSpec {
        RangeSpec::Ranges(v.to_vec())
    }

    #[test]
    fn single_specs() {
        assert_eq!(r("bytes=0-4", 10), ranges(&[(0, 4)]));
        assert_eq!(r("BYTES=2-", 10), ranges(&[(2, 9)]));
        assert_eq!(r("bytes=-3", 10), ranges(&[(7, 9)]));
        assert_eq!(r("bytes=-30", 10), ranges(&[(0, 9)]));
        assert_eq!(r("bytes=5-100", 10), ranges(&[(5, 9)]));
        assert_eq!(r("bytes= 1 - 2 ", 10), ranges(&[(1, 2)]));
        assert_eq!(r("bytes=+1-2", 10), ranges(&[(1, 2)]));
    }

    #[test]
    fn ignored_and_unsatisfiable() {
        assert_eq!(r("items=0-1", 10), RangeSpec::Full);
        assert_eq!(r("bytes", 10), RangeSpec::Full);
        assert_eq!(r("bytes=0-1", 0), RangeSpec::Full);
        for h in [
            "bytes=10-",
            "bytes=5-3",
            "bytes=-0",
            "bytes=",
            "bytes=x",
            "bytes=1-2x",
            "bytes=0-99999999999999999999",
        ] {
            assert_eq!(r(h, 10), RangeSpec::Unsatisfiable, "{h}");
        }
        assert_eq!(r("bytes=x,2-3", 10), ranges(&[(2, 3)]));
    }

    #[test]
    fn multiple_ranges_merge_and_keep_order() {
        assert_eq!(r("bytes=0-0,-1", 1000), ranges(&[(0, 0), (999, 999)]));
        assert_eq!(
            r("bytes=500-600,0-10", 1000),
            ranges(&[(500, 600), (0, 10)])
        );
        assert_eq!(r("bytes=0-10,50-60", 1000), ranges(&[(0, 60)]));
        assert_eq!(r("bytes=0-10,91-100", 1000), ranges(&[(0, 10), (91, 100)]));
        assert_eq!(r("bytes=0-10,90-100", 1000), ranges(&[(0, 100)]));
        assert_eq!(
            r("bytes=200-300,0-10,250-400,5-20", 1000),
            ranges(&[(200, 400), (0, 20)])
        );
        // only the first 10 specs count
        let many: Vec<String> = (0..12)
            .map(|i| format!("{}-{}", i * 200, i * 200))
            .collect();
        match r(&format!("bytes={}", many.join(",")), 100_000) {
            RangeSpec::Ranges(v) => assert_eq!(v.len(), 10),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn if_range_and_evaluate() {
        assert!(if_range_matches("\"e\"", Some("\"e\""), None));
        assert!(!if_range_matches("W/\"e\"", Some("W/\"e\""), Some("x")));
        assert!(if_range_matches(
            "Sun, 06 Nov 1994 08:49:37 GMT",
            None,
            Some("Sun, 06 Nov 1994 08:49:37 GMT")
        ));
        let mut req = Headers::new();
        req.append("Range", "bytes=0-1");
        let resp = Headers::new();
        let d = evaluate(200, &Method::Get, true, &req, &resp, 10);
        assert_eq!(
            d,
            RangeDecision {
                add_accept_ranges: true,
                spec: ranges(&[(0, 1)])
            }
        );
        let d = evaluate(200, &Method::Head, true, &req, &resp, 10);
        assert_eq!(
            d,
            RangeDecision {
                add_accept_ranges: true,
                spec: RangeSpec::Full
            }
        );
        assert!(!evaluate(200, &Method::Get, false, &req, &resp, 10).add_accept_ranges);
        let empty = evaluate(200, &Method::Get, true, &req, &resp, 0);
        assert_eq!(
            empty,
            RangeDecision {
                add_accept_ranges: true,
                spec: RangeSpec::Full
            }
        );
        assert!(!evaluate(404, &Method::Get, true, &req, &resp, 10).add_accept_ranges);
        let mut enc = Headers::new();
        enc.append("Content-Encoding", "gzip");
        assert_eq!(
            evaluate(200, &Method::Get, true, &req, &enc, 10).spec,
            RangeSpec::Full
        );
        let mut none = Headers::new();
        none.append("Accept-Ranges", "none");
        let d = evaluate(200, &Method::Get, true, &req, &none, 10);
        assert!(!d.add_accept_ranges && d.spec == RangeSpec::Full);
        req.append("If-Range", "\"x\"");
        let mut tagged = Headers::new();
        tagged.append("ETag", "\"y\"");
        assert_eq!(
            evaluate(200, &Method::Get, true, &req, &tagged, 10).spec,
            RangeSpec::Full
        );
    }

    #[test]
    fn multipart_framing() {
        let body = b"0123456789";
        let out = multipart_body(body, Some("text/plain"), &[(0, 1), (8, 9)]);
        let expect =
            "--fkj49sn38dcn3\r\nContent-Type: text/plain\r\nContent-Range: bytes 0-1/10\r\n\r\n01\
\r\n--fkj49sn38dcn3\r\nContent-Type: text/plain\r\nContent-Range: bytes 8-9/10\r\n\r\n89\
\r\n--fkj49sn38dcn3--\r\n";
        assert_eq!(String::from_utf8_lossy(&out), expect);
        assert_eq!(
            multipart_content_type(),
            "multipart/byteranges; boundary=fkj49sn38dcn3"
        );
        assert_eq!(content_range_unsatisfiable(10), "bytes */10");
        // body sizes recorded from lighttpd 1.4.69 for a 1000-byte text/plain file
        let big = vec![b'x'; 1000];
        let spec = parse_range("bytes=200-300,0-10,250-400,5-20", 1000);
        let RangeSpec::Ranges(v) = spec else { panic!() };
        assert_eq!(multipart_body(&big, Some("text/plain"), &v).len(), 402);
        assert_eq!(
            multipart_body(&big, Some("text/plain"), &[(0, 0), (999, 999)]).len(),
            181
        );
    }
}
