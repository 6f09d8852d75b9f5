//! The CGI/FastCGI/SCGI environment (lighttpd src/http_cgi.c
//! `http_cgi_headers`, `http_cgi_encode_varname`) and the RFC 3875 local
//! redirect decision (`http_cgi_local_redir`). The caller gathers the request
//! and socket facts; this builds the variables in lighttpd's order.

use crate::http::headers::Headers;

/// Everything the environment is built from.
#[derive(Debug, Clone, Default)]
pub struct CgiRequest<'a> {
    /// FastCGI authorizer: no CONTENT_LENGTH, SCRIPT_NAME, PATH_INFO.
    pub authorizer: bool,
    /// Request body length (0 without a body).
    pub content_length: u64,
    /// `uri.query` (still encoded), "" without one.
    pub query: &'a str,
    /// The target as received (REQUEST_URI) and the current one.
    pub target_orig: &'a str,
    pub target: &'a str,
    /// FastCGI `strip-request-uri` (without trailing '/').
    pub strip_request_uri: Option<&'a str>,
    /// The request is being served by an error handler, which sets
    /// REDIRECT_STATUS itself (in `env`).
    pub error_handler: bool,
    /// `uri.path` (after PATH_INFO was split off) and PATH_INFO.
    pub uri_path: &'a str,
    pub path_info: &'a str,
    /// Backend `docroot` option (FastCGI/SCGI), if set.
    pub backend_docroot: Option<&'a str>,
    /// `physical.basedir` and `physical.path`.
    pub basedir: &'a str,
    pub physical_path: &'a str,
    /// `broken-scriptfilename`: SCRIPT_FILENAME = physical path + PATH_INFO.
    pub break_scriptfilename: bool,
    pub method: &'a str,
    /// `HTTP/1.0` or `HTTP/1.1`.
    pub protocol: &'a str,
    /// `server.tag`, None when empty.
    pub server_tag: Option<&'a str>,
    /// `http` or `https`.
    pub scheme: &'a str,
    /// Port text of the listener's bind spec ("0" for unix sockets).
    pub server_port: &'a str,
    /// Local address (getsockname for wildcard binds), "" for unix sockets.
    pub server_addr: &'a str,
    /// `server.name` or the request authority; may carry a port.
    pub server_name: &'a str,
    pub remote_addr: &'a str,
    pub remote_port: u16,
    pub headers: Option<&'a Headers>,
    /// Request env from modules (REMOTE_USER, setenv.add-environment, ...).
    pub env: &'a [(String, String)],
}

/// The environment, in lighttpd's order.
pub fn cgi_env(r: &CgiRequest) -> Vec<(String, String)> {
    let mut e: Vec<(String, String)> = Vec::with_capacity(32);
    each_var(r, &mut |k, v| e.push((k.to_string(), v.to_string())));
    e
}

/// The environment, in lighttpd's order, handed to `set` pair by pair
/// without building strings for it (a backend encodes them directly).
pub fn each_var(r: &CgiRequest, set: &mut dyn FnMut(&str, &str)) {
    let mut digits = itoa::Buffer::new();
    if !r.authorizer {
        set("CONTENT_LENGTH", digits.format(r.content_length));
    }
    set("QUERY_STRING", r.query);
    set(
        "REQUEST_URI",
        strip_prefix(r.target_orig, r.strip_request_uri),
    );
    if r.target != r.target_orig {
        set("REDIRECT_URI", r.target);
    }
    if !r.error_handler {
        set("REDIRECT_STATUS", "200");
    }
    if !r.authorizer {
        set("SCRIPT_NAME", r.uri_path);
        if !r.path_info.is_empty() {
            set("PATH_INFO", r.path_info);
            let base = r.backend_docroot.unwrap_or(r.basedir);
            set("PATH_TRANSLATED", &join_path(base, r.path_info));
        }
    }
    match r.backend_docroot {
        Some(root) => {
            set("SCRIPT_FILENAME", &join_path(root, r.uri_path));
            set("DOCUMENT_ROOT", root);
        }
        None => {
            if r.break_scriptfilename {
                set("SCRIPT_FILENAME", &join_path(r.physical_path, r.path_info));
            } else {
                set("SCRIPT_FILENAME", r.physical_path);
            }
            set("DOCUMENT_ROOT", r.basedir);
        }
    }
    set("REQUEST_METHOD", r.method);
    set("SERVER_PROTOCOL", r.protocol);
    set("SERVER_SOFTWARE", r.server_tag.unwrap_or(""));
    set("GATEWAY_INTERFACE", "CGI/1.1");
    set("REQUEST_SCHEME", r.scheme);
    if r.scheme == "https" {
        set("HTTPS", "on");
    }
    set("SERVER_PORT", r.server_port);
    set("SERVER_ADDR", r.server_addr);
    // Empty without a Host (lighttpd 1.4.69 sends SERVER_ADDR's pointer with length 0).
    set("SERVER_NAME", host_without_port(r.server_name));
    set("REMOTE_ADDR", r.remote_addr);
    set("REMOTE_PORT", digits.format(r.remote_port));
    let mut name = String::new();
    for (k, v) in r.headers.into_iter().flat_map(Headers::iter) {
        if v.is_empty() || k.eq_ignore_ascii_case("proxy") {
            continue; // httpoxy: never HTTP_PROXY
        }
        if k.eq_ignore_ascii_case("content-type") {
            set("CONTENT_TYPE", v);
        } else {
            encode_name_into(&mut name, k, true);
            set(&name, v);
        }
    }
    for (k, v) in r.env {
        encode_name_into(&mut name, k, false);
        set(&name, v);
    }
}

/// lighttpd `http_cgi_encode_varname`: letters uppercased, digits kept,
/// anything else `_`; request headers get the `HTTP_` prefix.
pub fn env_name(key: &str, http_header: bool) -> String {
    let mut name = String::new();
    encode_name_into(&mut name, key, http_header);
    name
}

/// [`env_name`] into a reused buffer.
fn encode_name_into(name: &mut String, key: &str, http_header: bool) {
    name.clear();
    if http_header {
        name.push_str("HTTP_");
    }
    name.extend(key.bytes().map(|c| {
        if c.is_ascii_alphanumeric() {
            c.to_ascii_uppercase() as char
        } else {
            '_'
        }
    }));
}

/// REQUEST_URI minus `strip-request-uri` when the target starts with it
/// followed by '/'.
fn strip_prefix<'a>(target: &'a str, strip: Option<&str>) -> &'a str {
    match strip {
        Some(p) if !p.is_empty() && target.starts_with(p) && target[p.len()..].starts_with('/') => {
            &target[p.len()..]
        }
        _ => target,
    }
}

/// Joins with exactly one '/' between the parts.
fn join_path(a: &str, b: &str) -> String {
    match (a.ends_with('/'), b.starts_with('/')) {
        (true, true) => format!("{a}{}", &b[1..]),
        (false, false) if !b.is_empty() => format!("{a}/{b}"),
        _ => format!("{a}{b}"),
    }
}

/// `host:port` → `host`; `[v6]:port` → `[v6]`.
fn host_without_port(s: &str) -> &str {
    if s.starts_with('[') {
        s.find("]:").map_or(s, |i| &s[..=i])
    } else {
        s.split(':').next().unwrap_or(s)
    }
}

/// CGI local redirect (`cgi.local-redir`): the new target when the response
/// is a 3xx made only of a `Location` starting with '/', no `Status`, no
/// body so far, and not pointing back at `uri_path` (itself, or followed by
/// '/' or '?'). The caller restarts the request (GET unless 307/308; at most
/// 5 times, then 500).
pub fn local_redirect<'h>(
    status: u16,
    status_explicit: bool,
    resp_headers: &'h Headers,
    body_started: bool,
    uri_path: &str,
) -> Option<&'h str> {
    if status_explicit || body_started || !(300..400).contains(&status) || resp_headers.len() != 1 {
        return None;
    }
    let loc = resp_headers.get("location")?;
    if !loc.starts_with('/') {
        return None;
    }
    let same = loc
        .strip_prefix(uri_path)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(['/', '?']));
    (!same).then_some(loc)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base<'a>(h: &'a Headers, env: &'a [(String, String)]) -> CgiRequest<'a> {
        CgiRequest {
            content_length: 5,
            query: "a=1",
            target_orig: "/cgi/env.sh/x?a=1",
            target: "/cgi/env.sh/x?a=1",
            uri_path: "/cgi/env.sh",
            path_info: "/x",
            basedir: "/srv/www",
            physical_path: "/srv/www/cgi/env.sh",
            method: "POST",
            protocol: "HTTP/1.1",
            server_tag: Some("lighttpd/1.4.69"),
            scheme: "http",
            server_port: "8080",
            server_addr: "127.0.0.1",
            server_name: "Example.com:8080",
            remote_addr: "127.0.0.1",
            remote_port: 40000,
            headers: Some(h),
            env,
            ..CgiRequest::default()
        }
    }

    fn get<'a>(e: &'a [(String, String)], k: &str) -> Option<&'a str> {
        e.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
    }

    #[test]
    fn standard_variables_in_order() {
        let mut h = Headers::new();
        h.append("Host", "Example.com:8080");
        h.append("Content-Type", "text/plain");
        h.append("Proxy", "evil");
        h.append("X-Foo.Bar", "1");
        h.append("Empty", "");
        let env = vec![("my-var".to_string(), "v1".to_string())];
        let e = cgi_env(&base(&h, &env));
        let names: Vec<&str> = e.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            names,
            [
                "CONTENT_LENGTH",
                "QUERY_STRING",
                "REQUEST_URI",
                "REDIRECT_STATUS",
                "SCRIPT_NAME",
                "PATH_INFO",
                "PATH_TRANSLATED",
                "SCRIPT_FILENAME",
                "DOCUMENT_ROOT",
                "REQUEST_METHOD",
                "SERVER_PROTOCOL",
                "SERVER_SOFTWARE",
                "GATEWAY_INTERFACE",
                "REQUEST_SCHEME",
                "SERVER_PORT",
                "SERVER_ADDR",
                "SERVER_NAME",
                "REMOTE_ADDR",
                "REMOTE_PORT",
                "HTTP_HOST",
                "CONTENT_TYPE",
                "HTTP_X_FOO_BAR",
                "MY_VAR",
            ]
        );
        assert_eq!(get(&e, "PATH_TRANSLATED"), Some("/srv/www/x"));
        assert_eq!(get(&e, "SERVER_NAME"), Some("Example.com"));
        assert_eq!(get(&e, "CONTENT_LENGTH"), Some("5"));
        assert_eq!(get(&e, "REMOTE_PORT"), Some("40000"));
    }

    #[test]
    fn variants() {
        let h = Headers::new();
        let mut r = base(&h, &[]);
        r.target = "/rewritten";
        r.error_handler = true;
        r.scheme = "https";
        r.path_info = "";
        r.server_name = "[::1]:443";
        r.backend_docroot = Some("/remote/root/");
        r.strip_request_uri = Some("/cgi");
        let e = cgi_env(&r);
        assert_eq!(get(&e, "REDIRECT_URI"), Some("/rewritten"));
        assert_eq!(get(&e, "REDIRECT_STATUS"), None);
        assert_eq!(get(&e, "HTTPS"), Some("on"));
        assert_eq!(get(&e, "PATH_INFO"), None);
        assert_eq!(get(&e, "SERVER_NAME"), Some("[::1]"));
        assert_eq!(get(&e, "SCRIPT_FILENAME"), Some("/remote/root/cgi/env.sh"));
        assert_eq!(get(&e, "DOCUMENT_ROOT"), Some("/remote/root/"));
        assert_eq!(get(&e, "REQUEST_URI"), Some("/env.sh/x?a=1"));
        let mut r = base(&h, &[]);
        r.authorizer = true;
        r.break_scriptfilename = true;
        r.server_name = "";
        let e = cgi_env(&r);
        assert_eq!(get(&e, "CONTENT_LENGTH"), None);
        assert_eq!(get(&e, "SCRIPT_NAME"), None);
        assert_eq!(get(&e, "SCRIPT_FILENAME"), Some("/srv/www/cgi/env.sh/x"));
        assert_eq!(get(&e, "SERVER_NAME"), Some(""));
    }

    #[test]
    fn names() {
        assert_eq!(env_name("x-forwarded-for", true), "HTTP_X_FORWARDED_FOR");
        assert_eq!(env_name("my var.1", false), "MY_VAR_1");
        assert_eq!(strip_prefix("/cgix/a", Some("/cgi")), "/cgix/a");
    }

    #[test]
    fn local_redirects() {
        let mut h = Headers::new();
        h.append("Location", "/other?x");
        assert_eq!(
            local_redirect(302, false, &h, false, "/cgi.sh"),
            Some("/other?x")
        );
        assert_eq!(local_redirect(302, true, &h, false, "/cgi.sh"), None);
        assert_eq!(local_redirect(302, false, &h, true, "/cgi.sh"), None);
        assert_eq!(local_redirect(200, false, &h, false, "/cgi.sh"), None);
        assert_eq!(local_redirect(302, false, &h, false, "/other"), None);
        assert_eq!(
            local_redirect(302, false, &h, false, "/oth"),
            Some("/other?x")
        );
        let mut abs = Headers::new();
        abs.append("Location", "http://x/");
        assert_eq!(local_redirect(302, false, &abs, false, "/cgi.sh"), None);
        h.append("X", "1");
        assert_eq!(local_redirect(302, false, &h, false, "/cgi.sh"), None);
    }
}
