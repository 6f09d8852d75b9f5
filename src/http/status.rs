//! Status reason phrases and the built-in error page (lighttpd src/http_kv.c
//! `http_status[]` / `http_status_append`, src/response.c
//! `http_response_write_prepare` default error page).

/// lighttpd's reason phrase; "" for a code it does not know (the status line
/// is then `HTTP/1.1 418 ` — number, one space, no phrase).
pub fn reason(code: u16) -> &'static str {
    match code {
        100 => "Continue",
        101 => "Switching Protocols",
        102 => "Processing",
        103 => "Early Hints",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        203 => "Non-Authoritative Information",
        204 => "No Content",
        205 => "Reset Content",
        206 => "Partial Content",
        207 => "Multi-status",
        208 => "Already Reported",
        226 => "IM Used",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        305 => "Use Proxy",
        306 => "(Unused)",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Payload Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Range Not Satisfiable",
        417 => "Expectation Failed",
        421 => "Misdirected Request",
        422 => "Unprocessable Entity",
        423 => "Locked",
        424 => "Failed Dependency",
        426 => "Upgrade Required",
        428 => "Precondition Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        451 => "Unavailable For Legal Reasons",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        506 => "Variant Also Negotiates",
        507 => "Insufficient Storage",
        508 => "Loop Detected",
        510 => "Not Extended",
        511 => "Network Authentication Required",
        _ => "",
    }
}

/// `"404 Not Found"`, or `"418 "` for an unknown code — what follows the
/// version in the status line and what the error page shows.
pub fn status_text(code: u16) -> String {
    format!("{code} {}", reason(code))
}

/// Appends [`status_text`] to `out`.
pub fn push_status_text(out: &mut Vec<u8>, code: u16) {
    // the common ones in one append
    match code {
        200 => return out.extend_from_slice(b"200 OK"),
        404 => return out.extend_from_slice(b"404 Not Found"),
        304 => return out.extend_from_slice(b"304 Not Modified"),
        _ => {}
    }
    out.extend_from_slice(itoa::Buffer::new().format(code).as_bytes());
    out.push(b' ');
    out.extend_from_slice(reason(code).as_bytes());
}

/// The default error document body (Content-Type `text/html`, no charset).
pub fn error_page(code: u16) -> String {
    let mut out = Vec::new();
    push_error_page(&mut out, code);
    String::from_utf8_lossy(&out).into_owned()
}

/// Appends [`error_page`] to `out` (plain appends: it is on the path of
/// every error response).
pub fn push_error_page(out: &mut Vec<u8>, code: u16) {
    out.extend_from_slice(
        b"<?xml version=\"1.0\" encoding=\"iso-8859-1\"?>\n\
<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Transitional//EN\"\n         \
\"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd\">\n\
<html xmlns=\"http://www.w3.org/1999/xhtml\" xml:lang=\"en\" lang=\"en\">\n \
<head>\n  <title>",
    );
    push_status_text(out, code);
    out.extend_from_slice(b"</title>\n </head>\n <body>\n  <h1>");
    push_status_text(out, code);
    out.extend_from_slice(b"</h1>\n </body>\n</html>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phrases() {
        assert_eq!(reason(207), "Multi-status");
        assert_eq!(reason(413), "Payload Too Large");
        assert_eq!(reason(416), "Range Not Satisfiable");
        assert_eq!(reason(418), "");
        assert_eq!(status_text(418), "418 ");
        assert_eq!(status_text(200), "200 OK");
    }

    #[test]
    fn error_page_matches_lighttpd_byte_for_byte() {
        let page = error_page(404);
        // body recorded from lighttpd 1.4.69 (GET /nonexist)
        assert_eq!(page, include_str!("testdata/error_404.html"));
        assert!(page.starts_with("<?xml version=\"1.0\" encoding=\"iso-8859-1\"?>\n<!DOCTYPE"));
        assert!(page
            .contains("\n         \"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd\">\n"));
        assert!(page.contains(" <head>\n  <title>404 Not Found</title>\n </head>\n"));
        assert!(page.ends_with(" <body>\n  <h1>404 Not Found</h1>\n </body>\n</html>\n"));
        assert_eq!(
            error_page(500).len(),
            341 + 2 * ("Internal Server Error".len() - 9)
        );
    }
}
