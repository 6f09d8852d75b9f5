//! Host (authority) validation and normalisation (lighttpd src/request.c
//! `request_check_hostname`, `http_request_host_normalize`,
//! `http_request_host_policy`). Input is already lowercased.

use std::borrow::Cow;
use std::net::Ipv6Addr;

use crate::config::core::ParseOpts;

/// The host value is not acceptable (lighttpd answers 400).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadHost;

/// Applies `host-strict` / `host-normalize` to a lowercased host value and
/// returns the value to use, or `Err(BadHost)` (→ 400). `scheme_port` is 80 or 443;
/// an explicit port equal to it is dropped when normalising.
pub fn host_policy(host: &str, opts: &ParseOpts, scheme_port: u16) -> Result<String, BadHost> {
    let mut out = String::new();
    host_policy_into(host, opts, scheme_port, &mut out)?;
    Ok(out)
}

/// [`host_policy`] into `out` (cleared first; no allocation once it is large
/// enough, except for IPv6 literals).
pub fn host_policy_into(
    host: &str,
    opts: &ParseOpts,
    scheme_port: u16,
    out: &mut String,
) -> Result<(), BadHost> {
    out.clear();
    let host = if opts.host_strict {
        check_hostname(host)?
    } else if host.bytes().any(|c| matches!(c, 0 | b'\r' | b'\n')) {
        return Err(BadHost);
    } else {
        Cow::Borrowed(host)
    };
    if opts.host_strict || opts.host_normalize {
        normalize_into(&host, scheme_port, out)
    } else {
        out.push_str(&host);
        Ok(())
    }
}

/// Strict syntax: labels of alnum and `-` (no leading `-`, no empty label), an
/// all-numeric last label only as a dotted quad, or `[v6]`; then an optional
/// numeric port. A trailing `.` on the name and a trailing `:` are removed.
pub fn check_hostname(host: &str) -> Result<Cow<'_, str>, BadHost> {
    let b = host.as_bytes();
    let (name, rest) = if b.first() == Some(&b'[') {
        let end = check_ipv6_literal(b)?;
        (&host[..end], &host[end..])
    } else {
        let colon = b.iter().position(|&c| c == b':').unwrap_or(b.len());
        let name = host[..colon].strip_suffix('.').unwrap_or(&host[..colon]);
        check_name(name.as_bytes())?;
        (name, &host[colon..])
    };
    match rest.strip_prefix(':') {
        None if rest.is_empty() => Ok(Cow::Borrowed(name)),
        None => Err(BadHost),
        Some("") => Ok(Cow::Borrowed(name)),
        Some(port) if port.bytes().all(|c| c.is_ascii_digit()) => {
            if name.len() + rest.len() == host.len() {
                Ok(Cow::Borrowed(host)) // nothing was removed
            } else {
                Ok(Cow::Owned(format!("{name}:{port}")))
            }
        }
        Some(_) => Err(BadHost),
    }
}

fn check_name(h: &[u8]) -> Result<(), BadHost> {
    if h.is_empty() {
        return Err(BadHost);
    }
    let (mut label_len, mut all_numeric, mut numeric, mut level) = (0, true, true, 0);
    for (i, &c) in h.iter().enumerate() {
        label_len += 1;
        if c.is_ascii_digit() {
            continue;
        } else if c.is_ascii_alphabetic() || (c == b'-' && i != 0) {
            numeric = false;
        } else if c == b'.' && label_len != 1 && h.get(i + 1) != Some(&b'-') {
            all_numeric &= numeric;
            numeric = true;
            label_len = 0;
            level += 1;
        } else {
            return Err(BadHost);
        }
    }
    if label_len == 0 || (numeric && (level != 3 || !all_numeric)) {
        return Err(BadHost);
    }
    Ok(())
}

/// `[` hex digits, dots and at most 7 colons `]`; returns the index after `]`.
fn check_ipv6_literal(b: &[u8]) -> Result<usize, BadHost> {
    let mut colons = 0;
    let mut i = 1;
    while let Some(&c) = b.get(i) {
        if c == b':' {
            colons += 1;
            if colons >= 8 {
                break;
            }
        } else if !(c.is_ascii_hexdigit() || c == b'.') {
            break;
        }
        i += 1;
    }
    if b.get(i) != Some(&b']') || i == 1 {
        return Err(BadHost);
    }
    Ok(i + 1)
}

/// Canonical numeric addresses and port: dotted-quad IPv4 and bracketed IPv6
/// literals are re-printed, a port equal to `scheme_port` is dropped.
pub fn normalize(host: &str, scheme_port: u16) -> Result<String, BadHost> {
    let mut out = String::new();
    normalize_into(host, scheme_port, &mut out)?;
    Ok(out)
}

/// [`normalize`] appending to `out`.
fn normalize_into(host: &str, scheme_port: u16, out: &mut String) -> Result<(), BadHost> {
    let port = if host.starts_with('[') {
        let (v6, port) = normalize_v6(host)?;
        out.push_str(&v6);
        port
    } else {
        let (name, port) = match host.bytes().position(|c| c == b':') {
            Some(0) => return Err(BadHost),
            Some(colon) => (&host[..colon], parse_port(&host[colon + 1..])?),
            None => (host, 0),
        };
        // A dotted quad is re-printed; std's parser takes only canonical
        // ones (no leading zeros), so the re-printed form is `name` itself.
        out.push_str(name);
        port
    };
    if port != 0 && port != u32::from(scheme_port) {
        out.push(':');
        out.push_str(itoa::Buffer::new().format(port));
    }
    Ok(())
}

fn normalize_v6(host: &str) -> Result<(String, u32), BadHost> {
    if host.len() <= 2 {
        return Err(BadHost);
    }
    let close = host.find(']').ok_or(BadHost)?;
    let port = match &host[close + 1..] {
        "" => 0,
        rest => {
            let p = rest.strip_prefix(':').ok_or(BadHost)?;
            if close == 1 {
                return Err(BadHost);
            }
            parse_port(p)?
        }
    };
    let inner = &host[1..close];
    let (addr, zone) = match inner.find('%') {
        Some(i) => (&inner[..i], &inner[i..]),
        None if host[close..].contains('%') => return Err(BadHost),
        None => (inner, ""),
    };
    let addr: Ipv6Addr = addr.parse().map_err(|_| BadHost)?;
    Ok((format!("[{addr}{zone}]"), port))
}

/// A port as strtol(…, 0) reads it (decimal, 0octal, 0xhex), 1..=65535; an
/// empty port (trailing ':') is ignored (0).
fn parse_port(p: &str) -> Result<u32, BadHost> {
    if p.is_empty() {
        return Ok(0);
    }
    let t = p.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let t = t.strip_prefix('+').unwrap_or(t);
    let (digits, radix) = if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        (h, 16)
    } else if t.len() > 1 && t.starts_with('0') {
        (&t[1..], 8)
    } else {
        (t, 10)
    };
    match u32::from_str_radix(digits, radix) {
        Ok(n) if (1..=65535).contains(&n) && !digits.starts_with(['+', '-']) => Ok(n),
        _ => Err(BadHost),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(h: &str) -> Result<String, BadHost> {
        host_policy(h, &ParseOpts::default(), 80)
    }

    #[test]
    fn strict_accepts_and_normalises() {
        for (i, o) in [
            ("example.com", "example.com"),
            ("example.com.", "example.com"),
            ("example.com:80", "example.com"),
            ("example.com:8080", "example.com:8080"),
            ("example.com:", "example.com"),
            ("3com.com", "3com.com"),
            ("a-b.c-", "a-b.c-"),
            ("127.0.0.1", "127.0.0.1"),
            ("127.0.0.1:0100", "127.0.0.1:64"),
            ("[::1]", "[::1]"),
            ("[0:0::1]:8080", "[::1]:8080"),
            ("[::ffff:1.2.3.4]", "[::ffff:1.2.3.4]"),
            ("localhost", "localhost"),
        ] {
            assert_eq!(policy(i), Ok(o.to_string()), "{i:?}");
        }
    }

    #[test]
    fn strict_rejects() {
        for h in [
            "",
            ".",
            "a..b",
            "-a",
            "a.-b",
            "a_b",
            "a b",
            "123",
            "1.2.3",
            "1.2.3.4.5",
            "a.123",
            "x:abc",
            "x:1:2",
            "[]",
            "[::1",
            "[::1]x",
            "[g::1]",
            ":80",
            "ex.com:0",
            "ex.com:99999",
            "[1:2:3:4:5:6:7:8:9]",
        ] {
            assert_eq!(policy(h), Err(BadHost), "{h:?}");
        }
    }

    #[test]
    fn dotted_quads_that_parse_print_as_written() {
        use std::net::Ipv4Addr;
        for q in ["127.0.0.1", "0.0.0.0", "255.255.255.255", "10.20.30.40"] {
            let addr: Ipv4Addr = q.parse().expect("valid");
            assert_eq!(addr.to_string(), q);
        }
        for q in ["010.0.0.1", "1.2.3.04", "256.1.1.1", "1.2.3"] {
            assert!(q.parse::<Ipv4Addr>().is_err(), "{q}");
        }
    }

    #[test]
    fn lax_policy() {
        let o = ParseOpts {
            host_strict: false,
            ..ParseOpts::default()
        };
        assert_eq!(host_policy("a_b:80", &o, 80), Ok("a_b:80".into()));
        assert_eq!(host_policy("a\rb", &o, 80), Err(BadHost));
        let o = ParseOpts {
            host_strict: false,
            host_normalize: true,
            ..ParseOpts::default()
        };
        assert_eq!(host_policy("a_b:80", &o, 80), Ok("a_b".into()));
        assert_eq!(host_policy("x:443", &o, 443), Ok("x".into()));
        assert_eq!(host_policy("x:0x50", &o, 80), Ok("x".into()));
    }
}
