//! Listen address checks of `-tt` / startup (lighttpd src/network.c
//! `network_host_parse_addr`): every `$SERVER["socket"] == "..."` block and
//! the main `server.bind` + `server.port` listener.

use std::net::{Ipv4Addr, Ipv6Addr, ToSocketAddrs};

use super::{get_bool, get_short};
use crate::config::cond::{CondField, CondOp};
use crate::config::diagnostic::Diagnostic;
use crate::config::source::Span;
use crate::config::tree::{ConfigTree, Context};

/// The port used for addresses without one: `server.port`, or 80 / 443
/// (when `ssl.engine` is enabled globally).
pub fn default_port(tree: &ConfigTree) -> u16 {
    let g = tree.global();
    let port = g
        .get("server.port")
        .and_then(|d| get_short("server.port", &d.value).ok())
        .unwrap_or(0);
    if port != 0 {
        return port;
    }
    let ssl = g
        .get("ssl.engine")
        .and_then(|d| get_bool("ssl.engine", &d.value).ok())
        .unwrap_or(false);
    if ssl {
        443
    } else {
        80
    }
}

fn ctx_bool(ctx: &Context, key: &str) -> Option<bool> {
    ctx.get(key).and_then(|d| get_bool(key, &d.value).ok())
}

/// Check every listener the configuration creates.
pub fn check_listeners(tree: &ConfigTree, out: &mut Vec<Diagnostic>) {
    let port = default_port(tree);
    let global_v6 = ctx_bool(tree.global(), "server.use-ipv6").unwrap_or(false);
    for ctx in &tree.contexts {
        let Some(cond) = &ctx.cond else { continue };
        if cond.field != CondField::ServerSocket || cond.op != CondOp::Eq || ctx.is_else {
            continue;
        }
        let v6 = ctx_bool(ctx, "server.use-ipv6").unwrap_or(global_v6);
        if let Err(msg) = check_addr(&cond.value, v6, port) {
            out.push(Diagnostic::error(msg, Some(ctx.span)));
        }
    }
    let g = tree.global();
    let bind = g.get("server.bind");
    let bind_text = bind.and_then(|d| d.value.as_str()).unwrap_or("");
    let activation = ctx_bool(g, "server.systemd-socket-activation").unwrap_or(false);
    if bind_text == "/dev/stdin" || (activation && bind_text.trim().is_empty()) {
        return;
    }
    let addr = if bind_text.starts_with(['/', '\\']) {
        bind_text.to_string()
    } else {
        format!("{bind_text}:{port}")
    };
    if let Err(msg) = check_addr(&addr, global_v6, port) {
        let span: Option<Span> = bind.map(|d| d.span);
        let mut d = Diagnostic::error(msg, span);
        if bind_text.contains(':') && !bind_text.starts_with('[') {
            d = d.with_help(
                "server.bind takes an address without port; put the port in server.port",
            );
        }
        out.push(d);
    }
}

/// Could a getaddrinfo lookup of `host` succeed at all? (Avoids resolver
/// calls for text that is no host name.)
fn looks_like_hostname(host: &str) -> bool {
    !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
}

fn resolves(host: &str, want_v4: bool) -> bool {
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    if !looks_like_hostname(host) {
        return false;
    }
    match (host, 0u16).to_socket_addrs() {
        Ok(mut addrs) => addrs.any(|a| !want_v4 || a.is_ipv4()),
        Err(_) => false,
    }
}

/// One listen address, as lighttpd parses it; the error is lighttpd's text.
pub fn check_addr(addr: &str, use_ipv6: bool, _default_port: u16) -> Result<(), String> {
    if addr.trim().is_empty() {
        return Err("value of $SERVER[\"socket\"] must not be empty".to_string());
    }
    if addr.starts_with(['/', '\\']) {
        return Ok(());
    }
    let mut v6 = use_ipv6;
    let (mut host, port_text) = if let Some(rest) = addr.strip_prefix('[') {
        v6 = true;
        match rest.split_once(']') {
            Some((h, after)) => (h, after.strip_prefix(':')),
            None => (rest, None),
        }
    } else {
        match addr.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (addr, None),
        }
    };
    if let Some(p) = port_text {
        let digits: String = p.chars().take_while(char::is_ascii_digit).collect();
        let port: u64 = digits.parse().unwrap_or(0);
        if port == 0 || port > 65535 {
            return Err(format!("port not set or out of range: {}", port as u32));
        }
    }
    if host == "*" {
        v6 = false;
        host = "";
    }
    if host.is_empty() {
        return Ok(());
    }
    if v6 {
        if host.parse::<Ipv6Addr>().is_ok()
            || host.parse::<Ipv4Addr>().is_ok()
            || resolves(host, false)
        {
            return Ok(());
        }
        return Err(format!(
            "getaddrinfo failed: Name or service not known '{host}'"
        ));
    }
    if host.parse::<Ipv4Addr>().is_ok() {
        return Ok(());
    }
    if host.parse::<Ipv6Addr>().is_ok() {
        return Err(format!(
            "getaddrinfo failed: Address family for hostname not supported '{host}'"
        ));
    }
    if resolves(host, true) {
        Ok(())
    } else {
        Err(format!(
            "getaddrinfo failed: Name or service not known '{host}'"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_follow_network_host_parse_addr() {
        assert_eq!(check_addr("127.0.0.1:8080", false, 80), Ok(()));
        assert_eq!(check_addr(":8080", false, 80), Ok(()));
        assert_eq!(check_addr("*:8080", true, 80), Ok(()));
        assert_eq!(check_addr("[::1]:8080", false, 80), Ok(()));
        assert_eq!(check_addr("/run/lighttpd.sock", false, 80), Ok(()));
        assert_eq!(check_addr("localhost:81", false, 80), Ok(()));
        assert_eq!(
            check_addr("", false, 80),
            Err("value of $SERVER[\"socket\"] must not be empty".into())
        );
        assert_eq!(
            check_addr("127.0.0.1:8080:80", false, 80),
            Err("getaddrinfo failed: Name or service not known '127.0.0.1:8080'".into())
        );
        assert_eq!(
            check_addr("::1:80", false, 80),
            Err("getaddrinfo failed: Address family for hostname not supported '::1'".into())
        );
        assert_eq!(check_addr("::1:80", true, 80), Ok(()));
        assert_eq!(
            check_addr("127.0.0.1:0", false, 80),
            Err("port not set or out of range: 0".into())
        );
        assert_eq!(
            check_addr("127.0.0.1:70000", false, 80),
            Err("port not set or out of range: 70000".into())
        );
    }
}
