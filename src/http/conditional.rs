//! Conditional GET/HEAD evaluation for responses lighttpd itself produces
//! (static files, X-Sendfile, SSI): lighttpd src/http-header-glue.c
//! `http_response_handle_cachable`. `If-Match` and `If-Unmodified-Since`
//! are not evaluated by lighttpd 1.4.69, so they are ignored here too.

use crate::http::date::parse_http_date_secs;
use crate::http::etag::etag_matches;
use crate::http::headers::Headers;
use crate::http::method::Method;

/// 304, 412 or None (serve the full response). `etag` is the response's
/// ETag (None when it has none); `last_modified` its Last-Modified value.
///
/// If-None-Match wins when both it and an ETag exist: a match gives 304 for
/// GET/HEAD/QUERY and 412 for other methods; no match ignores
/// If-Modified-Since. Otherwise, for GET/HEAD/QUERY, If-Modified-Since gives
/// 304 when it equals Last-Modified or parses to a time not before it (future
/// dates included); an unparsable date gives None.
pub fn check(
    method: &Method,
    headers: &Headers,
    etag: Option<&str>,
    last_modified: &str,
) -> Option<u16> {
    let inm = headers.get("If-None-Match");
    if let (Some(inm), Some(etag)) = (inm, etag) {
        let weak_ok = !headers.contains("Range");
        if !etag_matches(inm, etag, weak_ok) {
            return None;
        }
        return Some(if method.is_get_head_query() { 304 } else { 412 });
    }
    let ims = headers.get("If-Modified-Since")?;
    if !method.is_get_head_query() || last_modified.is_empty() {
        return None;
    }
    if ims == last_modified {
        return Some(304);
    }
    let ims_secs = parse_http_date_secs(ims)?;
    let lm_secs = parse_http_date_secs(last_modified)?;
    (lm_secs <= ims_secs).then_some(304)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LM: &str = "Sun, 06 Nov 1994 08:49:37 GMT";

    fn h(pairs: &[(&str, &str)]) -> Headers {
        let mut h = Headers::new();
        for (k, v) in pairs {
            h.append(k, v);
        }
        h
    }

    #[test]
    fn if_none_match_wins() {
        let e = Some("\"1\"");
        let g = Method::Get;
        assert_eq!(
            check(&g, &h(&[("If-None-Match", "\"1\"")]), e, LM),
            Some(304)
        );
        assert_eq!(
            check(&Method::Head, &h(&[("If-None-Match", "*")]), e, LM),
            Some(304)
        );
        assert_eq!(
            check(&Method::Post, &h(&[("If-None-Match", "\"1\"")]), e, LM),
            Some(412)
        );
        // mismatch disables If-Modified-Since
        let both = h(&[("If-None-Match", "\"2\""), ("If-Modified-Since", LM)]);
        assert_eq!(check(&g, &both, e, LM), None);
        // no ETag on the response: If-Modified-Since decides
        assert_eq!(check(&g, &both, None, LM), Some(304));
        // weak comparison is off for Range requests
        let weak = h(&[("If-None-Match", "W/\"1\""), ("Range", "bytes=0-1")]);
        assert_eq!(check(&g, &weak, e, LM), None);
        assert_eq!(
            check(&g, &h(&[("If-None-Match", "W/\"1\"")]), e, LM),
            Some(304)
        );
    }

    #[test]
    fn if_modified_since() {
        let g = Method::Get;
        let ims = |v: &str| h(&[("If-Modified-Since", v)]);
        assert_eq!(check(&g, &ims(LM), None, LM), Some(304));
        assert_eq!(
            check(&g, &ims("Sun, 06 Nov 1994 08:49:38 GMT"), None, LM),
            Some(304)
        );
        assert_eq!(
            check(&g, &ims("Sun, 06 Nov 2094 08:49:38 GMT"), None, LM),
            Some(304)
        );
        assert_eq!(
            check(&g, &ims("Sun, 06 Nov 1994 08:49:36 GMT"), None, LM),
            None
        );
        assert_eq!(check(&g, &ims("garbage"), None, LM), None);
        assert_eq!(check(&Method::Post, &ims(LM), None, LM), None);
        assert_eq!(check(&g, &ims(LM), None, ""), None);
        assert_eq!(
            check(&g, &h(&[("If-Match", "\"x\"")]), Some("\"1\""), LM),
            None
        );
        assert_eq!(check(&g, &h(&[]), Some("\"1\""), LM), None);
    }
}
