//! Response start and the response head (lighttpd src/response.c
//! `http_response_write_prepare`, src/http-header-glue.c): bodiless
//! statuses, error documents (`server.errorfile-prefix`, built-in page),
//! `server.error-handler` / `server.error-handler-404` dispatch, the
//! response_start hooks, Range (206/416), Content-Length, and head
//! serialisation with
//! Connection, Date and Server.

use std::fs::File;
use std::rc::Rc;

use super::{ErrorHandlerState, Request};
use crate::chunk::ChunkQueue;
use crate::http::chunked::ChunkedDecoder;
use crate::http::h1::Version;
use crate::http::method::Method;
use crate::http::range::{self, RangeSpec};
use crate::plugin::{Ctx, Flow, Hook, Pipeline};

/// Response start. Returns `Comeback` when an error handler was dispatched
/// (the caller restarts the request), `Error` to abort, else `GoOn`.
pub fn response_start(
    r: &mut Request,
    p: &mut Pipeline,
    cx: &mut Ctx,
    range_version_ok: bool,
) -> Flow {
    if let Some(method) = r.error_handler_method.take() {
        r.method = method;
    }
    let status = r.resp.status;
    if matches!(status, 204 | 205 | 304) {
        r.resp.body.reset();
        r.resp.headers.remove("Content-Length");
        r.resp.complete = true;
    } else if (400..600).contains(&status) {
        if let Some(flow) = error_handler(r, p, cx) {
            return flow;
        }
    } else if let ErrorHandlerState::NewStyle(orig) = r.error_handler {
        // A static error handler keeps the original status.
        if r.handler_module.is_none() {
            r.resp.status = orig;
        }
    }
    match p.run(Hook::ResponseStart, r, cx) {
        Flow::GoOn | Flow::Finished => {}
        _ => return Flow::Error,
    }
    backend_rate_limit(r);
    if r.resp.complete {
        if r.conf.range_requests && r.resp.status == 200 {
            apply_range(r, range_version_ok);
        }
        set_content_length(r);
    } else if r.resp.streaming && r.is_head() {
        // lighttpd ends a streamed HEAD with the head: no length, no body
        r.resp.body.reset();
        r.resp.complete = true;
        r.resp.streaming = false;
    } else if r.resp.streaming {
        stream_framing(r);
    }
    Flow::GoOn
}

/// Bytes a handler may leave queued in `r.resp.body` before it stops
/// reading its backend, or None to buffer the whole response
/// (`server.stream-response-body` 0, HEAD, or an error status an error
/// handler may replace). lighttpd: 65536 - 4096 with bit 2 (BUFMIN); with
/// only bit 1 it spills to temp files without limit — here 1 MiB.
pub fn stream_cap(r: &Request) -> Option<u64> {
    let mode = r.conf.stream_response_body;
    if mode & 3 == 0 || (r.resp.status >= 400 && r.conf.error_intercept) {
        return None;
    }
    Some(if mode & 2 != 0 { 65536 - 4096 } else { 1 << 20 })
}

/// A streamed body of unknown length: chunked for HTTP/1.1, else the
/// end of the connection delimits it (lighttpd
/// `http_response_write_prepare`).
fn stream_framing(r: &mut Request) {
    let h = &r.resp.headers;
    if h.contains("Content-Length") || h.contains("Transfer-Encoding") || h.contains("Upgrade") {
        return;
    }
    if r.version == Version::Http11 {
        r.resp.send_chunked = true;
        r.resp.headers.append("Transfer-Encoding", "chunked");
    } else {
        r.keep_alive = false;
    }
}

/// Move the queued response body to the connection's write queue, framed
/// for chunked sending if needed; a complete streamed body gets its
/// terminating chunk and ends the streaming. Returns the body bytes moved.
/// `initial`: queued with the head (lighttpd writes that first chunk's
/// size in whole bytes: `09`, later ones `9`).
pub fn queue_body(r: &mut Request, wq: &mut ChunkQueue, initial: bool) -> u64 {
    let body = &mut r.resp.body;
    if r.method == Method::Head {
        body.reset();
    }
    let len = body.len();
    let size_line = |n: u64| {
        let digits = if initial {
            (64 - n.leading_zeros() as usize).div_ceil(8) * 2
        } else {
            1
        };
        format!("{n:0digits$x}\r\n").into_bytes()
    };
    let resume = r.resp.dechunk_resume.take().filter(|_| initial);
    if let Some(resume) = resume.filter(|_| r.resp.send_chunked) {
        // decoded so far, the rest passes on as the backend chunked it
        let (size, tail) = ChunkedDecoder::reframe(len, &resume);
        if let Some(n) = size {
            wq.append_vec(size_line(n));
        }
        wq.append_queue(body);
        wq.append_vec(tail);
        r.resp.backend_chunked = true;
    } else if r.resp.send_chunked && len > 0 && !r.resp.backend_chunked {
        wq.append_vec(size_line(len));
        wq.append_queue(body);
        wq.append_mem(b"\r\n");
    } else {
        // a small body is copied: its buffer stays with the request for reuse
        wq.append_queue_small_copied(body);
    }
    if r.resp.complete && r.resp.streaming {
        if r.resp.send_chunked && !r.resp.backend_chunked {
            wq.append_mem(b"0\r\n\r\n");
        }
        r.resp.streaming = false;
    }
    len
}

/// `X-LIGHTTPD-KBytes-per-second` from a backend lowers this request's
/// `connection.kbytes-per-second` (the header itself is never sent).
fn backend_rate_limit(r: &mut Request) {
    const NAME: &str = "X-LIGHTTPD-KBytes-per-second";
    if !r.resp.headers.contains(NAME) {
        return;
    }
    let mut lowest = None;
    for (n, v) in r.resp.headers.iter() {
        if n.len() == NAME.len() && n.eq_ignore_ascii_case(NAME) {
            if let Some(kb) = leading_int(v).filter(|&kb| kb > 0) {
                lowest = Some(lowest.map_or(kb, |l: i64| l.min(kb)));
            }
        }
    }
    if let Some(kb) = lowest {
        let kb = u16::try_from(kb).unwrap_or(u16::MAX);
        let current = r.conf.connection_kbytes_per_second;
        if current == 0 || kb < current {
            Rc::make_mut(&mut r.conf).connection_kbytes_per_second = kb;
        }
    }
}

/// strtol(): optional sign and leading digits.
fn leading_int(v: &str) -> Option<i64> {
    let v = v.trim_start();
    let (neg, digits) = v.strip_prefix('-').map_or((false, v), |d| (true, d));
    let end = digits.bytes().take_while(u8::is_ascii_digit).count();
    let n: i64 = digits[..end].parse().ok()?;
    Some(if neg { -n } else { n })
}

/// §3.8: Accept-Ranges, then a 206 (single or multipart) or 416.
fn apply_range(r: &mut Request, version_ok: bool) {
    let len = r.resp.body.len();
    let version_ok = version_ok || r.version == Version::Http11;
    let d = range::evaluate(200, &r.method, version_ok, &r.headers, &r.resp.headers, len);
    if d.add_accept_ranges {
        r.resp.headers.append("Accept-Ranges", "bytes");
    }
    if len == 0 {
        return; // lighttpd skips Range on an empty payload (still advertises it)
    }
    match d.spec {
        RangeSpec::Full => {}
        RangeSpec::Unsatisfiable => {
            r.resp.status = 416;
            error_document(r);
        }
        RangeSpec::Ranges(ranges) => {
            let mut body = ChunkQueue::new();
            if let [(a, b)] = ranges[..] {
                r.resp.body.copy_range(a, b - a + 1, &mut body);
                r.resp
                    .headers
                    .set("Content-Range", &range::content_range(a, b, len));
            } else {
                let ctype = r.resp.headers.get("Content-Type").map(str::to_string);
                for (i, &(a, b)) in ranges.iter().enumerate() {
                    let head = range::part_header(i == 0, ctype.as_deref(), (a, b), len);
                    body.append_mem(head.as_bytes());
                    r.resp.body.copy_range(a, b - a + 1, &mut body);
                }
                body.append_mem(range::multipart_end().as_bytes());
                r.resp
                    .headers
                    .set("Content-Type", &range::multipart_content_type());
            }
            r.resp.body = body;
            r.resp.headers.remove("Content-Length");
            r.resp.status = 206;
        }
    }
}

/// 4xx/5xx: dispatch an error handler once, else build the error document
/// (unless a handler produced the response and error-intercept is off).
fn error_handler(r: &mut Request, p: &mut Pipeline, cx: &mut Ctx) -> Option<Flow> {
    let status = r.resp.status;
    if r.handler_module.is_some() && !r.conf.error_intercept {
        return None;
    }
    match r.error_handler {
        ErrorHandlerState::None => {
            if let Some(target) = r.conf.error_handler.clone() {
                r.error_handler = ErrorHandlerState::NewStyle(status);
                p.run(Hook::RequestReset, r, cx);
                r.error_handler_method = Some(std::mem::replace(&mut r.method, Method::Get));
                drop_request_body(r);
                return Some(dispatch(r, target, status));
            }
            if let (Some(target), 403 | 404) = (r.conf.error_handler_404.clone(), status) {
                r.error_handler = ErrorHandlerState::OldStyle(status);
                return Some(dispatch(r, target, status));
            }
        }
        ErrorHandlerState::NewStyle(orig) | ErrorHandlerState::OldStyle(orig) => {
            r.resp.status = orig;
        }
    }
    error_document(r);
    None
}

/// The handler gets no request body (lighttpd `reqbody_length = 0`); one
/// not read in full ends keep-alive.
fn drop_request_body(r: &mut Request) {
    if r.content_length.is_some_and(|n| n > 0) || r.chunked {
        if !r.body.complete {
            r.keep_alive = false;
        }
        r.content_length = None;
        r.chunked = false;
        r.body.clear();
    }
    r.body.wanted = false;
}

fn dispatch(r: &mut Request, target: String, status: u16) -> Flow {
    r.env.retain(|(k, _)| k != "REDIRECT_STATUS");
    r.env.push(("REDIRECT_STATUS".into(), status.to_string()));
    r.target = target;
    r.resp.status = 0;
    r.resp.headers.clear();
    r.resp.body.reset();
    r.resp.complete = false;
    Flow::Comeback
}

/// Replace headers and body with the error document for the status.
pub fn error_document(r: &mut Request) {
    let status = r.resp.status;
    let www: Vec<String> = if status == 401 {
        r.resp
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("WWW-Authenticate"))
            .map(|(_, v)| v.to_string())
            .collect()
    } else {
        Vec::new()
    };
    r.resp.headers.clear();
    // Digest sends one challenge per algorithm.
    www.iter()
        .for_each(|v| r.resp.headers.append("WWW-Authenticate", v));
    r.resp.body.reset();
    r.resp.complete = true;
    // lighttpd resets the physical path (mod_accesslog %f logs "-"), or
    // points it at the error file it sends.
    r.physical.path.clear();
    if r.conf.errorfile_prefix.is_some() && errorfile(r, status) {
        return;
    }
    r.resp.headers.append("Content-Type", "text/html");
    let _ = r.resp.body.append_filled(|page| {
        crate::http::status::push_error_page(page, status);
        Ok::<(), ()>(())
    });
}

/// `<errorfile-prefix><status>.html`, if it can be opened.
fn errorfile(r: &mut Request, status: u16) -> bool {
    let prefix = r.conf.errorfile_prefix.as_deref().unwrap_or("");
    let path = format!("{prefix}{status}.html");
    if !r.conf.follow_symlink
        && std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink())
    {
        return false;
    }
    let Ok(file) = File::open(&path) else {
        return false;
    };
    let Ok(meta) = file.metadata() else {
        return false;
    };
    if !meta.is_file() {
        return false;
    }
    let ctype = crate::http::mime::lookup(&path, &r.conf.mimetype_assign)
        .unwrap_or("application/octet-stream")
        .to_string();
    r.resp.headers.append("Content-Type", &ctype);
    r.resp.body.append_file(Rc::new(file), 0, meta.len());
    r.physical.path = path;
    true
}

/// Content-Length for a complete body (none for HEAD/204/304 when empty).
fn set_content_length(r: &mut Request) {
    let h = &r.resp.headers;
    if h.contains("Content-Length") || h.contains("Transfer-Encoding") {
        return;
    }
    let len = r.resp.body.len();
    if len > 0 || !(r.is_head() || matches!(r.resp.status, 204 | 304)) {
        r.resp.headers.append_u64("Content-Length", len);
    }
}

/// Serialise the status line and headers into `out`.
/// `date_line` is the whole `Date: …\r\n` line.
pub fn write_head(r: &Request, date_line: &str, out: &mut Vec<u8>) {
    let version = match r.version {
        Version::Http11 => "HTTP/1.1 ",
        Version::Http10 => "HTTP/1.0 ",
    };
    out.extend_from_slice(version.as_bytes());
    crate::http::status::push_status_text(out, r.resp.status);
    out.extend_from_slice(b"\r\n");
    let mut has_date = false;
    let mut has_server = false;
    if let Some(block) = r.resp.headers.wire() {
        // no field to drop, no Date or Server of its own: one copy
        out.extend_from_slice(block);
        return finish_head(r, date_line, out, has_date, has_server);
    }
    for (name, value, line) in r.resp.headers.lines() {
        if value.is_empty() {
            continue;
        }
        match name.len() {
            4 if name.eq_ignore_ascii_case("Date") => has_date = true,
            6 if name.eq_ignore_ascii_case("Server") => has_server = true,
            _ if skip_header(name, r.resp.status) => continue,
            _ => {}
        }
        out.extend_from_slice(line);
    }
    finish_head(r, date_line, out, has_date, has_server);
}

/// Connection, Date and Server (unless the fields had them), then the
/// blank line.
fn finish_head(r: &Request, date_line: &str, out: &mut Vec<u8>, has_date: bool, has_server: bool) {
    if let Some(conn) = connection_value(r) {
        push_header(out, "Connection", conn);
    }
    if !has_date {
        out.extend_from_slice(date_line.as_bytes());
    }
    if let Some(tag) = &r.conf.server_tag {
        // (a first visible character settles it without the full scan)
        let visible = tag.as_bytes().first().is_some_and(u8::is_ascii_graphic)
            || !tag.chars().all(char::is_whitespace);
        if !has_server && visible {
            push_header(out, "Server", tag);
        }
    }
    out.extend_from_slice(b"\r\n");
}

/// X-Sendfile, X-LIGHTTPD-*, Connection, and Content-Encoding on a 304
/// (the name's length picks what to compare).
fn skip_header(name: &str, status: u16) -> bool {
    let b = name.as_bytes();
    match b.len() {
        10 => b.eq_ignore_ascii_case(b"X-Sendfile") || b.eq_ignore_ascii_case(b"Connection"),
        16 if status == 304 && b.eq_ignore_ascii_case(b"Content-Encoding") => true,
        n => n >= 11 && b[..11].eq_ignore_ascii_case(b"X-LIGHTTPD-"),
    }
}

fn connection_value(r: &Request) -> Option<&'static str> {
    // lighttpd: only a real switch says upgrade; a backend's stray
    // Upgrade header is passed on without it
    if r.version == Version::Http11 && r.resp.upgraded {
        return Some("upgrade");
    }
    match (r.keep_alive, r.version) {
        (false, _) => Some("close"),
        (true, Version::Http10) => Some("keep-alive"),
        (true, Version::Http11) => None,
    }
}

fn push_header(out: &mut Vec<u8>, name: &str, value: &str) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value.as_bytes());
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::{CoreConfs, ReqContext};

    fn request(conf: &str, version: Version) -> Request {
        let tree = crate::config::load_str("t.conf", conf.as_bytes())
            .map_err(|_| "load")
            .unwrap();
        let compiled = crate::config::core::compile(&tree).unwrap();
        let ctx = ReqContext {
            scheme: "http",
            remote_ip: "127.0.0.1".into(),
            remote_port: Some(1),
            server_socket: "127.0.0.1:80".into(),
            core: Rc::new(CoreConfs::new(compiled.core)),
            cond_tree: compiled.conds,
            now: 0,
            seq: 1,
        };
        let mut r = Request::failed(200, version, None, &ctx);
        r.method = Method::Get;
        r.keep_alive = true;
        r
    }

    fn drain(wq: &mut ChunkQueue) -> Vec<u8> {
        let mut out = Vec::new();
        wq.copy_to(&mut out).unwrap();
        out
    }

    #[test]
    fn internal_and_hop_by_hop_headers_are_not_sent() {
        for name in [
            "X-Sendfile",
            "x-sendfile",
            "X-LIGHTTPD-send-file",
            "x-lighttpd-",
            "Connection",
        ] {
            assert!(skip_header(name, 200), "{name}");
        }
        for name in [
            "X-Sendfile2",
            "X-LIGHTTPD",
            "Content-Encoding",
            "Date",
            "X-LIGHTTPDÉ",
        ] {
            assert!(!skip_header(name, 200), "{name}");
        }
        assert!(skip_header("content-encoding", 304));
        assert!(skip_header("X-LIGHTTPD-abcde", 304));
    }

    #[test]
    fn stream_cap_follows_stream_response_body() {
        let r = request("", Version::Http11);
        assert_eq!(stream_cap(&r), None);
        let r = request("server.stream-response-body = 1", Version::Http11);
        assert_eq!(stream_cap(&r), Some(1 << 20));
        let mut r = request("server.stream-response-body = 2", Version::Http11);
        assert_eq!(stream_cap(&r), Some(65536 - 4096));
        r.resp.status = 404;
        assert_eq!(stream_cap(&r), Some(65536 - 4096));
        let mut r = request(
            "server.stream-response-body = 2\nserver.error-intercept = \"enable\"",
            Version::Http11,
        );
        r.resp.status = 404;
        assert_eq!(stream_cap(&r), None);
    }

    #[test]
    fn http11_stream_is_chunked_and_terminated_once() {
        let mut r = request("", Version::Http11);
        r.resp.streaming = true;
        stream_framing(&mut r);
        assert!(r.resp.send_chunked && r.keep_alive);
        assert_eq!(r.resp.headers.get("Transfer-Encoding"), Some("chunked"));
        let mut wq = ChunkQueue::new();
        r.resp.body.append_mem(b"hello world, this is 26 b.");
        assert_eq!(queue_body(&mut r, &mut wq, true), 26);
        assert_eq!(queue_body(&mut r, &mut wq, false), 0);
        r.resp.body.append_mem(b"0123456789");
        r.resp.complete = true;
        queue_body(&mut r, &mut wq, false);
        assert!(!r.resp.streaming);
        queue_body(&mut r, &mut wq, false);
        assert_eq!(
            drain(&mut wq),
            b"1a\r\nhello world, this is 26 b.\r\na\r\n0123456789\r\n0\r\n\r\n"
        );
        let mut r = request("", Version::Http11);
        (r.resp.streaming, r.resp.send_chunked) = (true, true);
        r.resp.body.append_mem(&[b'x'; 0x1a2]);
        queue_body(&mut r, &mut wq, true);
        assert!(drain(&mut wq).starts_with(b"01a2\r\nxx"));
    }

    #[test]
    fn a_backends_own_chunked_body_passes_unframed() {
        let mut r = request("", Version::Http11);
        (r.resp.streaming, r.resp.send_chunked) = (true, true);
        let mut wq = ChunkQueue::new();
        r.resp.body.append_mem(b"ab");
        queue_body(&mut r, &mut wq, true);
        r.resp.backend_chunked = true;
        r.resp.body.append_mem(b"3;x\r\ncde\r\n0\r\n\r\n");
        r.resp.complete = true;
        queue_body(&mut r, &mut wq, false);
        assert_eq!(drain(&mut wq), b"02\r\nab\r\n3;x\r\ncde\r\n0\r\n\r\n");
    }

    #[test]
    fn a_partly_decoded_backend_chunk_is_reframed_with_the_head() {
        use crate::http::chunked::Resume;
        let cases: [(Resume, &[u8]); 4] = [
            (
                Resume::Chunk {
                    left: 2,
                    cr_seen: false,
                },
                b"05\r\nhel",
            ),
            (
                Resume::Chunk {
                    left: 0,
                    cr_seen: true,
                },
                b"03\r\nhel\r",
            ),
            (Resume::Line(b"1".to_vec()), b"03\r\nhel\r\n1"),
            (Resume::Line(b"0\r\nT".to_vec()), b"03\r\nhel\r\n0\r\nT"),
        ];
        for (resume, want) in cases {
            let mut r = request("", Version::Http11);
            (r.resp.streaming, r.resp.send_chunked) = (true, true);
            r.resp.dechunk_resume = Some(resume);
            r.resp.body.append_mem(b"hel");
            let mut wq = ChunkQueue::new();
            queue_body(&mut r, &mut wq, true);
            assert!(r.resp.backend_chunked);
            assert_eq!(drain(&mut wq), want);
        }
    }

    #[test]
    fn http10_stream_is_close_delimited_and_known_lengths_stay() {
        let mut r = request("", Version::Http10);
        r.resp.streaming = true;
        stream_framing(&mut r);
        assert!(!r.resp.send_chunked && !r.keep_alive);
        let mut r = request("", Version::Http11);
        r.resp.streaming = true;
        r.resp.headers.append("Content-Length", "5");
        stream_framing(&mut r);
        assert!(!r.resp.send_chunked && r.keep_alive);
        let mut wq = ChunkQueue::new();
        r.resp.body.append_mem(b"abcde");
        r.resp.complete = true;
        queue_body(&mut r, &mut wq, true);
        assert_eq!(drain(&mut wq), b"abcde");
    }
}
