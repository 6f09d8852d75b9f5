//! The backend environment of one request: gathers the request and socket
//! facts for [`crate::http::cgi_env::each_var`] (shared with mod_cgi) with
//! the backend's `docroot`, `strip-request-uri` and `broken-scriptfilename`.

use super::config::HostConf;
use crate::http::cgi_env::{each_var, CgiRequest};
use crate::request::{ErrorHandlerState, Request};

/// Split a listener token (`ip:port`, `[v6]:port`, `/unix/path`) into
/// address and port text.
pub fn socket_parts(token: &str) -> (&str, &str) {
    if token.starts_with('/') {
        return ("", "0");
    }
    match token.rsplit_once(':') {
        Some((addr, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => {
            (addr.trim_start_matches('[').trim_end_matches(']'), port)
        }
        _ => (token, "80"),
    }
}

/// The environment for SCGI/uwsgi.
pub fn build(r: &Request, host: &HostConf) -> Vec<(String, String)> {
    let mut e = Vec::with_capacity(32);
    each(r, host, false, false, &mut |k, v| {
        e.push((k.to_string(), v.to_string()))
    });
    e
}

/// The environment for FastCGI (`fastcgi` = true: strip-request-uri and
/// broken-scriptfilename apply) or SCGI, pair by pair to `set`.
pub fn each(
    r: &Request,
    host: &HostConf,
    authorizer: bool,
    fastcgi: bool,
    set: &mut dyn FnMut(&str, &str),
) {
    let (_, server_port) = socket_parts(&r.server_socket);
    let server_addr = r.server_addr.as_str();
    let req = CgiRequest {
        authorizer,
        content_length: r.body.received,
        query: &r.uri.query,
        target_orig: &r.target_orig,
        target: &r.target,
        strip_request_uri: host.strip_request_uri.as_deref().filter(|_| fastcgi),
        error_handler: r.error_handler != ErrorHandlerState::None,
        uri_path: &r.uri.path,
        path_info: &r.physical.path_info,
        backend_docroot: host.docroot.as_deref(),
        basedir: &r.physical.basedir,
        physical_path: &r.physical.path,
        break_scriptfilename: fastcgi && host.broken_scriptfilename,
        method: r.method.as_str(),
        protocol: r.version.as_str(),
        server_tag: r.conf.server_tag.as_deref().filter(|t| !t.is_empty()),
        scheme: r.uri.scheme,
        server_port,
        server_addr,
        server_name: &r.server_name,
        remote_addr: &r.remote_ip,
        remote_port: r.remote_port.unwrap_or(0),
        headers: Some(&r.headers),
        env: &r.env,
    };
    each_var(&req, set);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listener_tokens_split() {
        assert_eq!(socket_parts("127.0.0.1:8080"), ("127.0.0.1", "8080"));
        assert_eq!(socket_parts("[::1]:81"), ("::1", "81"));
        assert_eq!(socket_parts("/run/l.sock"), ("", "0"));
    }
}
