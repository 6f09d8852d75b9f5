//! mod_proxy's HTTP/1.1 codec (lighttpd src/mod_proxy.c): the request head
//! sent to the backend (request line with the current target, Host, the
//! client headers minus hop-by-hop ones, Content-Length for the de-chunked
//! body, `Forwarded` per `proxy.forwarded`, X-Forwarded-For/-Host/-Proto,
//! X-Host, `Connection: close`), `proxy.header` URL and host remapping in
//! both directions, and `proxy.replace-http-host`. The response is an HTTP
//! status line and head, parsed by the shared head parser.
//!
//! `proxy.header` `upgrade` (websockets): a client's Upgrade (HTTP/1.1,
//! with a Connection header) is forwarded with `Connection: close,
//! upgrade`; the backend's 101 turns the connection into a tunnel
//! ([`super::handler`]). Without it Upgrade is not forwarded.
//! Not supported: `connect` tunnels (CONNECT gets 405, as with it off).

use super::config::HostConf;
use super::GwProtocol;
use crate::config::validate::{get_kvany, get_kvstring, value_tobool};
use crate::config::value::{Array, Value};
use crate::http::backend_response::Backend;
use crate::http::headers::Headers;
use crate::request::Request;

/// `proxy.forwarded` parameters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Forwarded {
    pub for_: bool,
    pub proto: bool,
    pub host: bool,
    pub by: bool,
    pub remote_user: bool,
}

impl Forwarded {
    fn any(&self) -> bool {
        self.for_ || self.proto || self.host || self.by || self.remote_user
    }
}

/// `proxy.header`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeaderOpts {
    pub map_host_request: Vec<(String, String)>,
    pub map_host_response: Vec<(String, String)>,
    pub map_urlpath: Vec<(String, String)>,
    pub https_remap: bool,
    pub upgrade: bool,
    pub connect: bool,
    pub force_http10: bool,
}

/// The proxy-only settings of a request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxyConf {
    pub forwarded: Forwarded,
    pub header: HeaderOpts,
    pub replace_http_host: bool,
}

/// lighttpd `mod_proxy_parse_forwarded`.
pub fn parse_forwarded(key: &str, v: &Value) -> Result<Forwarded, String> {
    let arr = get_kvany(key, v)?;
    let mut f = Forwarded::default();
    for (k, val) in &arr.items {
        let k = k.as_deref().unwrap_or("");
        let slot = match k {
            "by" => &mut f.by,
            "for" => &mut f.for_,
            "host" => &mut f.host,
            "proto" => &mut f.proto,
            "remote_user" => &mut f.remote_user,
            _ => {
                return Err(format!(
                    "{key} keys must be one of: by, for, host, proto, remote_user, but not: {k}"
                ))
            }
        };
        *slot = value_tobool(val).ok_or_else(|| {
            format!("{key} values must be one of: 0, 1, enable, disable; error for key: {k}")
        })?;
    }
    Ok(f)
}

/// lighttpd `mod_proxy_parse_header_opts`.
pub fn parse_header_opts(key: &str, v: &Value, force_http10: bool) -> Result<HeaderOpts, String> {
    let arr: &Array = get_kvany(key, v)?;
    let mut h = HeaderOpts {
        force_http10,
        ..HeaderOpts::default()
    };
    for (k, val) in &arr.items {
        let k = k.as_deref().unwrap_or("");
        let flag = match k {
            "https-remap" => Some(&mut h.https_remap),
            "force-http10" => Some(&mut h.force_http10),
            "upgrade" => Some(&mut h.upgrade),
            "connect" => Some(&mut h.connect),
            _ => None,
        };
        if let Some(flag) = flag {
            *flag = value_tobool(val).ok_or_else(|| {
                format!("unexpected value for {key}; expected \"{k}\" => \"enable\" or \"disable\"")
            })?;
            continue;
        }
        let near = |what: &str| {
            format!("unexpected {what} for {key}; expected ( \"param\" => ( \"key\" => \"value\" ) ) near key {k}")
        };
        let pairs = get_kvstring(key, val).map_err(|_| near("value"))?;
        match k {
            "map-urlpath" => h.map_urlpath = pairs,
            "map-host-request" => h.map_host_request = pairs,
            "map-host-response" => h.map_host_response = pairs,
            _ => return Err(near("key")),
        }
    }
    Ok(h)
}

/// The proxy codec for one request.
#[derive(Debug, Default)]
pub struct Proxy {
    pub conf: ProxyConf,
    /// The client's Host (for response remapping).
    http_host: Option<String>,
    /// The backend host name we sent after map-host-request.
    forwarded_host: Option<String>,
    /// The map-urlpath entry used for the request.
    forwarded_urlpath: Option<(String, String)>,
    /// The request forwarded the client's Upgrade.
    upgrading: bool,
}

impl Proxy {
    pub fn new(conf: ProxyConf) -> Proxy {
        Proxy {
            conf,
            ..Proxy::default()
        }
    }

    fn remapping(&self) -> bool {
        !self.conf.header.map_urlpath.is_empty() || !self.conf.header.map_host_request.is_empty()
    }

    /// map-host-request / map-host-response for an authority.
    fn map_host(&mut self, authority: &str, is_req: bool) -> Option<String> {
        let list = if is_req {
            &self.conf.header.map_host_request
        } else {
            &self.conf.header.map_host_response
        };
        for (k, v) in list {
            let key = if k == "-" {
                let alt = if is_req {
                    &self.http_host
                } else {
                    &self.forwarded_host
                };
                match alt {
                    Some(a) => a.clone(),
                    None => continue,
                }
            } else {
                k.clone()
            };
            if !key.eq_ignore_ascii_case(authority) {
                continue;
            }
            if v == "-" {
                return self.http_host.clone();
            }
            if v.is_empty() {
                return None;
            }
            if is_req && self.forwarded_host.is_none() {
                self.forwarded_host = Some(v.clone());
            }
            return Some(v.clone());
        }
        None
    }

    fn map_urlpath(&mut self, path: &str, is_req: bool) -> String {
        if is_req {
            let hit = self
                .conf
                .header
                .map_urlpath
                .iter()
                .find(|(k, _)| path.starts_with(k.as_str()))
                .cloned();
            if let Some((k, v)) = hit {
                self.forwarded_urlpath.get_or_insert((k.clone(), v.clone()));
                return format!("{v}{}", &path[k.len()..]);
            }
            return path.to_string();
        }
        let first = self.forwarded_urlpath.iter();
        for (k, v) in first.chain(self.conf.header.map_urlpath.iter()) {
            if path.starts_with(v.as_str()) {
                return format!("{k}{}", &path[v.len()..]);
            }
        }
        path.to_string()
    }

    /// lighttpd `http_header_remap_uri`: an absolute URI or URL-path.
    pub fn remap_uri(&mut self, uri: &str, is_req: bool) -> String {
        if uri.starts_with('/') {
            return self.map_urlpath(uri, is_req);
        }
        let Some(colon) = uri.find("://") else {
            return uri.to_string();
        };
        let (scheme, rest) = (&uri[..colon], &uri[colon + 3..]);
        let slash = rest.find('/').unwrap_or(rest.len());
        let (authority, path) = (&rest[..slash], &rest[slash..]);
        if authority.is_empty() {
            return uri.to_string();
        }
        let path = if path.is_empty() { "/" } else { path };
        let mut scheme = scheme.to_string();
        let authority = match self.map_host(authority, is_req) {
            Some(m) => {
                if self.conf.header.https_remap {
                    if is_req && scheme == "https" {
                        scheme = "http".into();
                    } else if !is_req && scheme == "http" {
                        scheme = "https".into();
                    }
                }
                m
            }
            None => authority.to_string(),
        };
        format!("{scheme}://{authority}{}", self.map_urlpath(path, is_req))
    }

    /// The request head.
    pub fn request_head(&mut self, r: &Request, host: &HostConf) -> Vec<u8> {
        let remap = self.remapping();
        let http10 = self.conf.header.force_http10;
        let mut target = r.target.clone();
        if remap {
            target = self.remap_uri(&target, true);
        }
        let client_host = r
            .headers
            .get("Host")
            .filter(|h| !h.is_empty())
            .map(str::to_string);
        self.http_host = client_host.clone();
        let mut out = format!("{} {target}", r.method.as_str());
        let mut lines = String::new();
        let host_line = if self.conf.replace_http_host && !host.label.is_empty() {
            Some(host.label.clone())
        } else {
            client_host.as_ref().map(|h| match remap {
                true => self.map_host(h, true).unwrap_or_else(|| h.clone()),
                false => h.clone(),
            })
        };
        out.push_str(if http10 || host_line.is_none() {
            " HTTP/1.0"
        } else {
            " HTTP/1.1"
        });
        if let Some(h) = host_line {
            lines.push_str(&format!("\r\nHost: {h}"));
        }
        let mut headers = r.headers.clone();
        headers.remove("Transfer-Encoding");
        let len = r.body.received;
        if (len > 0 || !r.method.is_get_or_head()) && !headers.contains("Content-Length") {
            headers.append("Content-Length", &len.to_string());
        }
        self.forwarded_headers(r, &mut headers);
        let mut te = false;
        let mut conn_hdr: Option<String> = None;
        let http11 = r.version.as_str() == "HTTP/1.1";
        self.upgrading = self.conf.header.upgrade
            && !http10
            && crate::http::backend_response::client_wants_upgrade(&r.headers, http11);
        for (k, v) in headers.iter() {
            let is = |n: &str| k.eq_ignore_ascii_case(n);
            if is("host")
                || is("proxy-connection")
                || is("proxy")
                || is("set-cookie")
                || (is("upgrade") && !self.upgrading)
            {
                continue;
            }
            if is("connection") {
                conn_hdr = Some(v.to_string());
                continue;
            }
            if is("te") {
                if http10 || r.version.as_str() == "HTTP/1.0" || !v.eq_ignore_ascii_case("trailers")
                {
                    continue;
                }
                te = true;
            }
            if k.is_empty() || v.is_empty() {
                continue;
            }
            let v = if remap && (is("destination") || is("content-location")) {
                self.remap_uri(v, true)
            } else {
                v.to_string()
            };
            lines.push_str(&format!("\r\n{k}: {v}"));
        }
        lines.push_str("\r\nConnection: close");
        let client_keeps = conn_hdr.is_some_and(|c| !c.eq_ignore_ascii_case("close"));
        if te && client_keeps && !http10 && http11 {
            lines.push_str(", te");
        }
        if self.upgrading && client_keeps {
            lines.push_str(", upgrade");
        }
        lines.push_str("\r\n\r\n");
        out.push_str(&lines);
        out.into_bytes()
    }

    /// lighttpd `proxy_set_Forwarded`: Forwarded (when configured), then
    /// X-Forwarded-For, X-Host, X-Forwarded-Host, X-Forwarded-Proto.
    fn forwarded_headers(&self, r: &Request, headers: &mut Headers) {
        let f = self.conf.forwarded;
        let ip = &r.remote_ip;
        let host = r
            .headers
            .get("Host")
            .filter(|h| !h.is_empty())
            .map(str::to_string);
        if f.any() {
            let mut b = match headers.get("Forwarded") {
                Some(old) => format!("{old}, "),
                None => seed_from_xff(headers.get("X-Forwarded-For")),
            };
            let mut parts = Vec::new();
            if f.for_ {
                parts.push(if ip.contains(':') {
                    format!("for=\"[{ip}]\"")
                } else {
                    format!("for={ip}")
                });
            }
            if f.by {
                parts.push(format!("by=\"{}\"", escape(&r.server_socket)));
            }
            if f.proto {
                parts.push(format!("proto={}", r.uri.scheme));
            }
            if let (true, Some(h)) = (f.host, &host) {
                parts.push(format!("host=\"{}\"", escape(h)));
            }
            if f.remote_user {
                if let Some((_, u)) = r.env.iter().find(|(k, _)| k == "REMOTE_USER") {
                    parts.push(format!("remote_user=\"{}\"", escape(u)));
                }
            }
            b.push_str(&parts.join(";"));
            headers.set("Forwarded", &b);
        }
        match headers.get("X-Forwarded-For") {
            Some(old) => {
                let v = format!("{old}, {ip}");
                headers.set("X-Forwarded-For", &v);
            }
            None => headers.append("X-Forwarded-For", ip),
        }
        if let Some(h) = &host {
            headers.set("X-Host", h);
            headers.set("X-Forwarded-Host", h);
        }
        headers.set("X-Forwarded-Proto", r.uri.scheme);
    }

    /// Reverse-map Location and Content-Location.
    fn remap_response(&mut self, headers: &mut Headers) {
        if self.conf.header.map_urlpath.is_empty() && self.conf.header.map_host_response.is_empty()
        {
            return;
        }
        for name in ["Location", "Content-Location"] {
            if let Some(v) = headers.get(name).map(str::to_string) {
                let mapped = self.remap_uri(&v, false);
                headers.set(name, &mapped);
            }
        }
    }
}

/// Seed a new Forwarded header from X-Forwarded-For (quoted `for=` items).
fn seed_from_xff(xff: Option<&str>) -> String {
    let mut b = String::new();
    for ip in xff
        .unwrap_or("")
        .split([' ', '\t', ','])
        .filter(|s| !s.is_empty())
    {
        if ip.contains(':') {
            b.push_str(&format!("for=\"[{}]\", ", escape(ip)));
        } else {
            b.push_str(&format!("for=\"{}\", ", escape(ip)));
        }
    }
    b
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

impl GwProtocol for Proxy {
    fn backend(&self) -> Backend {
        Backend::Proxy
    }

    fn create_request(&mut self, r: &Request, host: &HostConf) -> Result<Vec<u8>, u16> {
        Ok(self.request_head(r, host))
    }

    fn response_headers(&mut self, headers: &mut Headers) {
        self.remap_response(headers);
    }

    fn upgrading(&self) -> bool {
        self.upgrading
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::validate::testing::{kv, s};

    fn proxy(header: HeaderOpts) -> Proxy {
        Proxy::new(ProxyConf {
            header,
            ..ProxyConf::default()
        })
    }

    #[test]
    fn urlpath_maps_both_ways() {
        let mut p = proxy(HeaderOpts {
            map_urlpath: vec![("/app/".into(), "/".into())],
            ..HeaderOpts::default()
        });
        assert_eq!(p.remap_uri("/app/x?y", true), "/x?y");
        assert_eq!(p.remap_uri("/z", false), "/app/z");
        assert_eq!(p.remap_uri("http://b:8080/q", false), "http://b:8080/app/q");
    }

    #[test]
    fn host_maps_with_dash_and_https_remap() {
        let mut p = proxy(HeaderOpts {
            map_host_request: vec![("-".into(), "backend.internal".into())],
            map_host_response: vec![("-".into(), "-".into())],
            https_remap: true,
            ..HeaderOpts::default()
        });
        p.http_host = Some("www.example.org".into());
        assert_eq!(
            p.remap_uri("https://www.example.org/a", true),
            "http://backend.internal/a"
        );
        assert_eq!(
            p.remap_uri("http://backend.internal/b", false),
            "https://www.example.org/b"
        );
        assert_eq!(p.remap_uri("http://other/b", false), "http://other/b");
    }

    #[test]
    fn option_parsing() {
        let f =
            parse_forwarded("proxy.forwarded", &kv(&[("for", "enable"), ("proto", "1")])).unwrap();
        assert!(f.for_ && f.proto && !f.host);
        assert!(parse_forwarded("proxy.forwarded", &kv(&[("bogus", "1")])).is_err());
        let v = Value::Array(Array {
            items: vec![
                (Some("map-urlpath".into()), kv(&[("/a", "/b")])),
                (Some("https-remap".into()), s("enable")),
            ],
        });
        let h = parse_header_opts("proxy.header", &v, false).unwrap();
        assert_eq!(h.map_urlpath, vec![("/a".to_string(), "/b".to_string())]);
        assert!(h.https_remap);
    }

    #[test]
    fn xff_seeds_forwarded() {
        assert_eq!(
            seed_from_xff(Some("1.2.3.4, ::1")),
            "for=\"1.2.3.4\", for=\"[::1]\", "
        );
    }
}
