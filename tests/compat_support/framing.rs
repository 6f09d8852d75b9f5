//! HTTP/1 message framing for the test client: which methods a byte stream of requests
//! carries (a HEAD answer has no body), and where each response in the received bytes ends.

/// One response as received: raw head (status line to blank line) and raw body bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    pub head: Vec<u8>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn status(&self) -> u16 {
        status_of(&self.head).unwrap_or(0)
    }
}

/// Result of looking for one response at the start of a buffer.
#[derive(Debug, PartialEq)]
pub enum Frame {
    /// A complete response and the number of bytes it used.
    Complete(Response, usize),
    /// More bytes are needed (or, for a close-delimited body, the end of the stream).
    Incomplete,
    /// The bytes do not start with a status line.
    Garbage,
}

/// Frames the response at the start of `buf`; `head_request` means it answers a HEAD.
/// `eof` says no more bytes will come (a close-delimited body then ends here).
pub fn frame_response(buf: &[u8], head_request: bool, eof: bool) -> Frame {
    if buf.len() >= 5 && !buf.starts_with(b"HTTP/") {
        return Frame::Garbage;
    }
    let Some(head_len) = find(buf, b"\r\n\r\n").map(|i| i + 4) else {
        return Frame::Incomplete;
    };
    let head = &buf[..head_len];
    let Some(status) = status_of(head) else {
        return Frame::Garbage;
    };
    let rest = &buf[head_len..];
    let body_len = if head_request || status < 200 || status == 204 || status == 304 {
        Some(0)
    } else if header_has_token(head, "transfer-encoding", "chunked") {
        chunked_len(rest)
    } else if let Some(length) = header_value(head, "content-length").and_then(|v| v.parse().ok()) {
        (rest.len() >= length).then_some(length)
    } else if eof {
        Some(rest.len())
    } else {
        None
    };
    match body_len {
        Some(n) => Frame::Complete(
            Response {
                head: head.to_vec(),
                body: rest[..n].to_vec(),
            },
            head_len + n,
        ),
        None => Frame::Incomplete,
    }
}

fn status_of(head: &[u8]) -> Option<u16> {
    let line = head.split(|&b| b == b'\n').next()?;
    let code = line.get(9..12)?;
    std::str::from_utf8(code).ok()?.parse().ok()
}

fn header_lines(head: &[u8]) -> impl Iterator<Item = (String, String)> + '_ {
    head.split(|&b| b == b'\n').skip(1).filter_map(|line| {
        let text = String::from_utf8_lossy(line);
        let (name, value) = text.split_once(':')?;
        Some((name.trim().to_ascii_lowercase(), value.trim().to_string()))
    })
}

/// The first value of a header (name compared case-insensitively).
pub fn header_value(head: &[u8], name: &str) -> Option<String> {
    header_lines(head).find(|(n, _)| n == name).map(|(_, v)| v)
}

fn header_has_token(head: &[u8], name: &str, token: &str) -> bool {
    header_lines(head)
        .filter(|(n, _)| n == name)
        .any(|(_, v)| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
}

/// Length of a complete chunked body (chunks, last chunk, trailers) at the start of `buf`.
fn chunked_len(buf: &[u8]) -> Option<usize> {
    let mut pos = 0;
    loop {
        let line_end = find(&buf[pos..], b"\r\n")? + pos;
        let size_text = String::from_utf8_lossy(&buf[pos..line_end]);
        let size_hex = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_hex, 16).ok()?;
        pos = line_end + 2;
        if size == 0 {
            return trailers_end(buf, pos);
        }
        pos = pos.checked_add(size)?.checked_add(2)?;
        if pos > buf.len() {
            return None;
        }
    }
}

fn trailers_end(buf: &[u8], mut pos: usize) -> Option<usize> {
    loop {
        let line_end = find(&buf[pos..], b"\r\n")? + pos;
        let empty = line_end == pos;
        pos = line_end + 2;
        if empty {
            return Some(pos);
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The methods of the requests in `bytes`, in order, as far as they can be told apart
/// (request line, headers, then a Content-Length or chunked body). Stops at the first
/// thing that does not look like a request.
pub fn request_methods(bytes: &[u8]) -> Vec<String> {
    let mut methods = Vec::new();
    let mut pos = 0;
    while pos < bytes.len() {
        while bytes[pos..].starts_with(b"\r\n") {
            pos += 2;
        }
        let rest = &bytes[pos..];
        let Some(head_end) = find(rest, b"\r\n\r\n").map(|i| i + 4) else {
            break;
        };
        let head = &rest[..head_end];
        let method = head.split(|&b| b == b' ').next().unwrap_or_default();
        methods.push(String::from_utf8_lossy(method).into_owned());
        pos += head_end;
        if header_has_token(head, "transfer-encoding", "chunked") {
            match chunked_len(&bytes[pos..]) {
                Some(n) => pos += n,
                None => break,
            }
        } else if let Some(n) =
            header_value(head, "content-length").and_then(|v| v.parse::<usize>().ok())
        {
            pos = pos.saturating_add(n);
        }
    }
    methods
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_content_length_and_chunked() {
        let buf = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nabHTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n";
        let Frame::Complete(first, used) = frame_response(buf, false, false) else {
            panic!()
        };
        assert_eq!(first.body, b"ab");
        assert_eq!(first.status(), 200);
        let Frame::Complete(second, used2) = frame_response(&buf[used..], false, false) else {
            panic!()
        };
        assert_eq!(second.body, b"1\r\nx\r\n0\r\n\r\n");
        assert_eq!(used + used2, buf.len());
    }

    #[test]
    fn head_and_close_delimited() {
        let buf = b"HTTP/1.1 404 Not Found\r\nContent-Length: 341\r\n\r\n";
        assert!(matches!(
            frame_response(buf, true, false),
            Frame::Complete(_, 47)
        ));
        assert_eq!(frame_response(buf, false, false), Frame::Incomplete);
        let eof = b"HTTP/1.0 200 OK\r\n\r\nrest";
        assert_eq!(frame_response(eof, false, false), Frame::Incomplete);
        assert!(matches!(
            frame_response(eof, false, true),
            Frame::Complete(_, 23)
        ));
        assert_eq!(frame_response(b"garbage", false, false), Frame::Garbage);
    }

    #[test]
    fn finds_pipelined_methods() {
        let reqs = b"POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcHEAD / HTTP/1.1\r\n\r\nGET /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
        assert_eq!(request_methods(reqs), ["POST", "HEAD", "GET"]);
    }
}
