//! HAProxy PROXY protocol v1 and v2 headers (lighttpd `hap_PROXY_recv`,
//! `mod_extforward_hap_PROXY_v1/_v2`), parsed from the first bytes of a
//! connection. Hostile input: every length is checked, nothing panics.
//!
//! As lighttpd, a header is at most [`MAX_HEADER`] bytes (its peek buffer);
//! the v1 destination address is not checked; v2 families other than
//! TCP over IPv4/IPv6 and unix sockets keep the connection's address; the
//! v2 TLVs lighttpd knows (unique id, SSL) become environment variables.
//! Differences: lighttpd decides on the bytes of the first read alone; we
//! wait for the rest of a header (bounded by the connection's read
//! timeout). v1 ports over 65535 are refused (lighttpd truncates them).

use crate::request::env_set;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The v2 signature.
pub const V2_SIG: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";
/// Longest header accepted, either version (lighttpd's 256-byte peek).
pub const MAX_HEADER: usize = 256;

/// What a valid header said.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Header {
    /// Bytes the header takes at the start of the connection.
    pub len: usize,
    /// The real client (address text, port); None = keep the connection's
    /// own address (LOCAL, UNKNOWN, unsupported family).
    pub client: Option<(String, Option<u16>)>,
    /// Variables from v2 TLVs (`PP2_UNIQUE_ID`, `SSL_*`).
    pub env: Vec<(String, String)>,
    /// The SSL TLV says a client certificate was presented and verified.
    pub ssl_client_verify: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyError {
    /// Not enough bytes yet.
    Incomplete,
    /// Not a valid PROXY header: close the connection.
    Invalid,
}

/// Parse a header at the start of `buf`.
pub fn parse(buf: &[u8]) -> Result<Header, ProxyError> {
    let sig = buf.len().min(V2_SIG.len());
    if buf[..sig] == V2_SIG[..sig] {
        if buf.len() < 16 {
            return Err(ProxyError::Incomplete);
        }
        if buf[12] >> 4 == 2 {
            return parse_v2(buf);
        }
    }
    parse_v1(buf)
}

fn parse_v1(buf: &[u8]) -> Result<Header, ProxyError> {
    let prefix = b"PROXY ";
    let n = buf.len().min(prefix.len());
    if buf[..n] != prefix[..n] {
        return Err(ProxyError::Invalid);
    }
    let window = &buf[..buf.len().min(MAX_HEADER)];
    let Some(cr) = window.iter().position(|&b| b == b'\r') else {
        return Err(if buf.len() >= MAX_HEADER {
            ProxyError::Invalid
        } else {
            ProxyError::Incomplete
        });
    };
    match window.get(cr + 1) {
        Some(b'\n') => {}
        Some(_) => return Err(ProxyError::Invalid),
        None if buf.len() >= MAX_HEADER => return Err(ProxyError::Invalid),
        None => return Err(ProxyError::Incomplete),
    }
    let len = cr + 2;
    let line = &buf[prefix.len()..cr];
    if line.starts_with(b"UNKNOWN") && matches!(line.get(7), None | Some(b' ')) {
        return Ok(Header {
            len,
            ..Header::default()
        });
    }
    let v6 = match line.get(..5) {
        Some(b"TCP4 ") => false,
        Some(b"TCP6 ") => true,
        _ => return Err(ProxyError::Invalid),
    };
    let line = std::str::from_utf8(&line[5..]).map_err(|_| ProxyError::Invalid)?;
    let mut parts = line.splitn(4, ' ');
    let (Some(src), Some(_dst), Some(sport), Some(dport)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ProxyError::Invalid);
    };
    let src: IpAddr = src.parse().map_err(|_| ProxyError::Invalid)?;
    if src.is_ipv6() != v6 {
        return Err(ProxyError::Invalid);
    }
    let sport = port(sport)?;
    port(dport)?;
    Ok(Header {
        len,
        client: Some((src.to_string(), Some(sport))),
        ..Header::default()
    })
}

/// 1 to 5 decimal digits, not 0 (lighttpd `mod_extforward_str_to_port`).
fn port(s: &str) -> Result<u16, ProxyError> {
    if s.is_empty() || s.len() > 5 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ProxyError::Invalid);
    }
    match s.parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(ProxyError::Invalid),
    }
}

/// v2 address families.
const TCP4: u8 = 0x11;
const TCP6: u8 = 0x21;
const UNIX: u8 = 0x31;
/// Sizes of the v2 address blocks.
const IP4_LEN: usize = 12;
const IP6_LEN: usize = 36;
const UNIX_LEN: usize = 216;

fn parse_v2(buf: &[u8]) -> Result<Header, ProxyError> {
    let body_len = usize::from(u16::from_be_bytes([buf[14], buf[15]]));
    let len = 16 + body_len;
    if len > MAX_HEADER {
        return Err(ProxyError::Invalid);
    }
    if buf.len() < len {
        return Err(ProxyError::Incomplete);
    }
    let mut h = Header {
        len,
        ..Header::default()
    };
    match buf[12] & 0xf {
        0 => return Ok(h),
        1 => {}
        _ => return Err(ProxyError::Invalid),
    }
    let body = &buf[16..len];
    let be16 = |b: &[u8]| u16::from_be_bytes([b[0], b[1]]);
    let addr_len = match buf[13] {
        TCP4 => {
            let a = body.get(..IP4_LEN).ok_or(ProxyError::Invalid)?;
            let ip = Ipv4Addr::new(a[0], a[1], a[2], a[3]);
            h.client = Some((ip.to_string(), Some(be16(&a[8..10]))));
            IP4_LEN
        }
        TCP6 => {
            let a = body.get(..IP6_LEN).ok_or(ProxyError::Invalid)?;
            let mut octets = [0u8; 16];
            octets.copy_from_slice(&a[..16]);
            let ip = Ipv6Addr::from(octets);
            h.client = Some((ip.to_string(), Some(be16(&a[32..34]))));
            IP6_LEN
        }
        UNIX => {
            let a = body.get(..UNIX_LEN).ok_or(ProxyError::Invalid)?;
            let path = &a[..108];
            let end = path
                .iter()
                .position(|&b| b == 0)
                .ok_or(ProxyError::Invalid)?;
            let path = String::from_utf8_lossy(&path[..end]).into_owned();
            h.client = Some((path, None));
            UNIX_LEN
        }
        // UDP and unknown families: keep the connection's address.
        _ => return Ok(h),
    };
    read_tlvs(&body[addr_len..], &mut h);
    Ok(h)
}

/// TLV types lighttpd reads.
const PP2_TYPE_UNIQUE_ID: u8 = 0x05;
const PP2_TYPE_SSL: u8 = 0x20;
/// `client` bits of the SSL TLV.
const PP2_CLIENT_CERT: u8 = 0x02 | 0x04;

/// Iterate `type, length, value` vectors; stop at the first malformed one.
fn tlvs(mut b: &[u8]) -> impl Iterator<Item = (u8, &[u8])> {
    std::iter::from_fn(move || {
        let (&t, rest) = b.split_first()?;
        let n = usize::from(u16::from_be_bytes([*rest.first()?, *rest.get(1)?]));
        let value = rest.get(2..2 + n)?;
        b = &rest[2 + n..];
        Some((t, value))
    })
}

fn read_tlvs(b: &[u8], h: &mut Header) {
    let text = |v: &[u8]| String::from_utf8_lossy(v).into_owned();
    for (t, value) in tlvs(b) {
        match t {
            PP2_TYPE_UNIQUE_ID => env_set(&mut h.env, "PP2_UNIQUE_ID", &text(value)),
            PP2_TYPE_SSL if value.len() >= 5 => {
                let verify = u32::from_be_bytes([value[1], value[2], value[3], value[4]]);
                if value[0] & PP2_CLIENT_CERT != 0 && verify == 0 {
                    h.ssl_client_verify = true;
                }
                for (st, sv) in tlvs(&value[5..]) {
                    let key = match st {
                        0x21 => "SSL_PROTOCOL",
                        0x22 => "SSL_CLIENT_S_DN_CN",
                        0x23 => "SSL_CIPHER",
                        0x24 => "SSL_SERVER_A_SIG",
                        0x25 => "SSL_SERVER_A_KEY",
                        _ => continue,
                    };
                    env_set(&mut h.env, key, &text(sv));
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests;
