//! The CGI/1.1 environment (lighttpd src/http_cgi.c `http_cgi_headers`):
//! the same builder serves CGI, FastCGI and SCGI.

use crate::request::Request;

/// Backend-specific switches of the builder.
#[derive(Debug, Clone, Default)]
pub struct EnvOpts<'a> {
    /// Backend `docroot` (FastCGI/SCGI), replacing the physical paths.
    pub docroot: Option<&'a str>,
    /// FastCGI authorizer mode: no CONTENT_LENGTH/SCRIPT_NAME.
    pub authorizer: bool,
    /// `broken-scriptfilename`: SCRIPT_FILENAME = path + PATH_INFO.
    pub break_scriptfilename: bool,
    /// `strip-request-uri` prefix.
    pub strip_request_uri: Option<&'a str>,
}

/// `HTTP_` + name uppercased, non-alphanumerics as `_` (lighttpd
/// `http_cgi_encode_varname`); without the prefix for env entries.
pub fn encode_varname(name: &str, http: bool) -> String {
    let mut out = String::with_capacity(name.len() + 5);
    if http {
        out.push_str("HTTP_");
    }
    out.extend(name.chars().map(|c| {
        if c.is_ascii_alphanumeric() {
            c.to_ascii_uppercase()
        } else {
            '_'
        }
    }));
    out
}

fn join(a: &str, b: &str) -> String {
    crate::request::prepare::join_path(a, b)
}

/// Split `server_socket` (`ip:port`, `[v6]:port`) into address and port.
fn socket_parts(sock: &str) -> (&str, &str) {
    match sock.rsplit_once(':') {
        Some((addr, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => {
            (addr.trim_start_matches('[').trim_end_matches(']'), port)
        }
        _ => ("", "0"),
    }
}

/// SERVER_NAME: the server name without its port (IPv6 keeps brackets).
fn server_name(name: &str) -> &str {
    if name.starts_with('[') {
        return name.find("]:").map_or(name, |i| &name[..=i]);
    }
    name.split(':').next().unwrap_or(name)
}

/// Build the environment of a request, in lighttpd's order.
pub fn build(r: &Request, opts: &EnvOpts) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = Vec::with_capacity(32 + r.headers.len() + r.env.len());
    let mut put = |k: &str, v: &str| env.push((k.to_string(), v.to_string()));
    if !opts.authorizer {
        put(
            "CONTENT_LENGTH",
            &r.body
                .expected
                .map_or(r.body.received, |n| n.max(r.body.received))
                .to_string(),
        );
    }
    put("QUERY_STRING", &r.uri.query);
    let uri = match opts.strip_request_uri {
        Some(p) if r.target_orig.starts_with(p) && r.target_orig[p.len()..].starts_with('/') => {
            &r.target_orig[p.len()..]
        }
        _ => &r.target_orig,
    };
    put("REQUEST_URI", uri);
    if r.target != r.target_orig {
        put("REDIRECT_URI", &r.target);
    }
    if !r.env.iter().any(|(k, _)| k == "REDIRECT_STATUS") {
        put("REDIRECT_STATUS", "200");
    }
    if !opts.authorizer {
        put("SCRIPT_NAME", &r.uri.path);
        if !r.physical.path_info.is_empty() {
            put("PATH_INFO", &r.physical.path_info);
            let base = opts.docroot.unwrap_or(&r.physical.basedir);
            put("PATH_TRANSLATED", &join(base, &r.physical.path_info));
        }
    }
    match opts.docroot {
        Some(d) => {
            put("SCRIPT_FILENAME", &join(d, &r.uri.path));
            put("DOCUMENT_ROOT", d);
        }
        None => {
            if opts.break_scriptfilename {
                put(
                    "SCRIPT_FILENAME",
                    &join(&r.physical.path, &r.physical.path_info),
                );
            } else {
                put("SCRIPT_FILENAME", &r.physical.path);
            }
            put("DOCUMENT_ROOT", &r.physical.basedir);
        }
    }
    put("REQUEST_METHOD", r.method.as_str());
    put("SERVER_PROTOCOL", r.version.as_str());
    put(
        "SERVER_SOFTWARE",
        r.conf.server_tag.as_deref().unwrap_or(""),
    );
    put("GATEWAY_INTERFACE", "CGI/1.1");
    put("REQUEST_SCHEME", r.uri.scheme);
    if r.uri.scheme == "https" {
        put("HTTPS", "on");
    }
    let (_, port) = socket_parts(&r.server_socket);
    put("SERVER_PORT", port);
    put("SERVER_ADDR", &r.server_addr);
    // Empty without a Host (lighttpd 1.4.69 sends SERVER_ADDR's pointer with length 0).
    put("SERVER_NAME", server_name(&r.server_name));
    put("REMOTE_ADDR", &r.remote_ip);
    if let Some(p) = r.remote_port {
        put("REMOTE_PORT", &p.to_string());
    }
    for (name, value) in r.headers.iter() {
        if value.is_empty() || name.eq_ignore_ascii_case("Proxy") {
            continue;
        }
        if name.eq_ignore_ascii_case("Content-Type") {
            put("CONTENT_TYPE", value);
        } else {
            put(&encode_varname(name, true), value);
        }
    }
    for (k, v) in &r.env {
        put(&encode_varname(k, false), v);
    }
    env
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varnames() {
        assert_eq!(encode_varname("User-Agent", true), "HTTP_USER_AGENT");
        assert_eq!(encode_varname("x.y z", true), "HTTP_X_Y_Z");
        assert_eq!(encode_varname("my-var", false), "MY_VAR");
    }

    #[test]
    fn socket_and_names() {
        assert_eq!(socket_parts("127.0.0.1:8080"), ("127.0.0.1", "8080"));
        assert_eq!(socket_parts("[::1]:80"), ("::1", "80"));
        assert_eq!(socket_parts("/run/l.sock"), ("", "0"));
        assert_eq!(server_name("example.org:8080"), "example.org");
        assert_eq!(server_name("[::1]:8080"), "[::1]");
        assert_eq!(server_name("[::1]"), "[::1]");
    }
}
