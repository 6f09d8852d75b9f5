//! HAProxy PROXY protocol v1 and v2 headers (lighttpd
//! `mod_extforward_hap_PROXY_v1/_v2`), parsed from the first bytes of a
//! connection. Hostile input: every length is checked, nothing panics.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The v2 signature.
pub const V2_SIG: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";
/// Longest v1 line (including CRLF).
pub const V1_MAX: usize = 107;
/// Longest v2 header we accept (16 + 536: lighttpd's buffer).
pub const V2_MAX: usize = 16 + 536;

/// What the header said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Proxied {
    /// Real client and destination.
    Addr {
        src: IpAddr,
        src_port: u16,
        dst: IpAddr,
        dst_port: u16,
    },
    /// `UNKNOWN` / LOCAL: keep the connection's own addresses.
    Local,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyError {
    /// Not enough bytes yet.
    Incomplete,
    /// Not a valid PROXY header: close the connection.
    Invalid,
}

/// Parse a header at the start of `buf`: (bytes consumed, result).
pub fn parse(buf: &[u8]) -> Result<(usize, Proxied), ProxyError> {
    if buf.len() >= 12 && &buf[..12] == V2_SIG {
        return parse_v2(buf);
    }
    if V2_SIG.starts_with(&buf[..buf.len().min(12)]) && !buf.is_empty() && buf.len() < 12 {
        return Err(ProxyError::Incomplete);
    }
    parse_v1(buf)
}

fn parse_v1(buf: &[u8]) -> Result<(usize, Proxied), ProxyError> {
    let prefix = b"PROXY ";
    let n = buf.len().min(prefix.len());
    if buf[..n] != prefix[..n] {
        return Err(ProxyError::Invalid);
    }
    let Some(end) = buf.iter().take(V1_MAX).position(|&b| b == b'\n') else {
        return Err(if buf.len() >= V1_MAX {
            ProxyError::Invalid
        } else {
            ProxyError::Incomplete
        });
    };
    if end == 0 || buf[end - 1] != b'\r' {
        return Err(ProxyError::Invalid);
    }
    let line = std::str::from_utf8(&buf[6..end - 1]).map_err(|_| ProxyError::Invalid)?;
    let parts: Vec<&str> = line.split(' ').collect();
    let consumed = end + 1;
    match parts.as_slice() {
        ["UNKNOWN", ..] => Ok((consumed, Proxied::Local)),
        [fam @ ("TCP4" | "TCP6"), src, dst, sp, dp] => {
            let v6 = *fam == "TCP6";
            let addr = |s: &str| -> Result<IpAddr, ProxyError> {
                let ip: IpAddr = s.parse().map_err(|_| ProxyError::Invalid)?;
                if ip.is_ipv6() != v6 {
                    return Err(ProxyError::Invalid);
                }
                Ok(ip)
            };
            Ok((
                consumed,
                Proxied::Addr {
                    src: addr(src)?,
                    dst: addr(dst)?,
                    src_port: port(sp)?,
                    dst_port: port(dp)?,
                },
            ))
        }
        _ => Err(ProxyError::Invalid),
    }
}

/// A decimal port without sign or leading zeros (lighttpd `str_to_port`).
fn port(s: &str) -> Result<u16, ProxyError> {
    if s.is_empty()
        || s.len() > 5
        || !s.bytes().all(|b| b.is_ascii_digit())
        || (s.len() > 1 && s.starts_with('0'))
    {
        return Err(ProxyError::Invalid);
    }
    s.parse().map_err(|_| ProxyError::Invalid)
}

fn parse_v2(buf: &[u8]) -> Result<(usize, Proxied), ProxyError> {
    if buf.len() < 16 {
        return Err(ProxyError::Incomplete);
    }
    let ver_cmd = buf[12];
    let fam = buf[13];
    let len = usize::from(u16::from_be_bytes([buf[14], buf[15]]));
    if ver_cmd >> 4 != 2 || 16 + len > V2_MAX {
        return Err(ProxyError::Invalid);
    }
    if buf.len() < 16 + len {
        return Err(ProxyError::Incomplete);
    }
    let body = &buf[16..16 + len];
    let consumed = 16 + len;
    match ver_cmd & 0xf {
        0 => return Ok((consumed, Proxied::Local)),
        1 => {}
        _ => return Err(ProxyError::Invalid),
    }
    let be16 = |b: &[u8]| u16::from_be_bytes([b[0], b[1]]);
    match fam {
        0x11 | 0x12 if body.len() >= 12 => {
            let ip = |o: usize| {
                IpAddr::V4(Ipv4Addr::new(
                    body[o],
                    body[o + 1],
                    body[o + 2],
                    body[o + 3],
                ))
            };
            Ok((
                consumed,
                Proxied::Addr {
                    src: ip(0),
                    dst: ip(4),
                    src_port: be16(&body[8..10]),
                    dst_port: be16(&body[10..12]),
                },
            ))
        }
        0x21 | 0x22 if body.len() >= 36 => {
            let ip = |o: usize| {
                let mut a = [0u8; 16];
                a.copy_from_slice(&body[o..o + 16]);
                IpAddr::V6(Ipv6Addr::from(a))
            };
            Ok((
                consumed,
                Proxied::Addr {
                    src: ip(0),
                    dst: ip(16),
                    src_port: be16(&body[32..34]),
                    dst_port: be16(&body[34..36]),
                },
            ))
        }
        0x00 | 0x31 | 0x32 => Ok((consumed, Proxied::Local)),
        _ => Err(ProxyError::Invalid),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_lines() {
        let (n, p) = parse(b"PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\nGET /").expect("valid");
        assert_eq!(n, "PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n".len());
        assert_eq!(
            p,
            Proxied::Addr {
                src: "192.0.2.1"
                    .parse()
                    .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
                src_port: 56324,
                dst: "198.51.100.2"
                    .parse()
                    .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
                dst_port: 443
            }
        );
        assert!(matches!(
            parse(b"PROXY TCP6 ::1 ::2 1 2\r\n"),
            Ok((_, Proxied::Addr { .. }))
        ));
        assert_eq!(
            parse(b"PROXY UNKNOWN whatever\r\n"),
            Ok((24, Proxied::Local))
        );
        assert_eq!(parse(b"PROXY TCP4 1.2.3.4"), Err(ProxyError::Incomplete));
        assert_eq!(parse(b"PRO"), Err(ProxyError::Incomplete));
        for bad in [
            &b"GET / HTTP/1.0\r\n"[..],
            b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n",
            b"PROXY TCP4 ::1 5.6.7.8 1 2\r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 99999 2\r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n",
            b"PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n",
            b"PROXY \xff\xfe\r\n",
        ] {
            assert_eq!(
                parse(bad),
                Err(ProxyError::Invalid),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        let long = [b"PROXY ".to_vec(), vec![b'1'; 200]].concat();
        assert_eq!(parse(&long), Err(ProxyError::Invalid));
    }

    fn v2(cmd: u8, fam: u8, body: &[u8]) -> Vec<u8> {
        let mut v = V2_SIG.to_vec();
        v.extend_from_slice(&[0x20 | cmd, fam]);
        v.extend_from_slice(&(body.len() as u16).to_be_bytes());
        v.extend_from_slice(body);
        v
    }

    #[test]
    fn v2_headers() {
        let body = [127, 0, 0, 9, 10, 0, 0, 1, 0x1f, 0x90, 0, 80];
        let (n, p) = parse(&v2(1, 0x11, &body)).expect("valid");
        assert_eq!(n, 28);
        assert!(matches!(
            p,
            Proxied::Addr {
                src_port: 8080,
                dst_port: 80,
                ..
            }
        ));
        let mut six = vec![0u8; 36];
        six[15] = 1;
        assert!(matches!(
            parse(&v2(1, 0x21, &six)),
            Ok((52, Proxied::Addr { .. }))
        ));
        assert_eq!(parse(&v2(0, 0x00, &[])), Ok((16, Proxied::Local)));
        // TLVs after the addresses are skipped.
        let mut tlv = body.to_vec();
        tlv.extend_from_slice(&[0x20, 0, 1, 5]);
        assert_eq!(parse(&v2(1, 0x11, &tlv)).map(|(n, _)| n), Ok(32));
        assert_eq!(
            parse(&v2(1, 0x11, &body[..8])),
            Err(ProxyError::Invalid),
            "short address block"
        );
        assert_eq!(
            parse(&v2(2, 0x11, &body)),
            Err(ProxyError::Invalid),
            "bad command"
        );
        assert_eq!(
            parse(&v2(1, 0x77, &body)),
            Err(ProxyError::Invalid),
            "bad family"
        );
        let mut wrong_ver = v2(1, 0x11, &body);
        wrong_ver[12] = 0x11;
        assert_eq!(parse(&wrong_ver), Err(ProxyError::Invalid));
        let mut huge = v2(1, 0x11, &body);
        huge[14] = 0xff;
        assert_eq!(
            parse(&huge),
            Err(ProxyError::Invalid),
            "length over the limit"
        );
        assert_eq!(
            parse(&v2(1, 0x11, &body)[..20]),
            Err(ProxyError::Incomplete)
        );
        assert_eq!(parse(&V2_SIG[..5]), Err(ProxyError::Incomplete));
    }
}
