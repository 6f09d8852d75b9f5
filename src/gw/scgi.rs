//! SCGI and uwsgi request encoding (lighttpd src/mod_scgi.c). SCGI: a
//! netstring `<len>:` of NUL-separated name/value pairs, CONTENT_LENGTH
//! first and `SCGI=1` added, then `,` and the body. uwsgi: a 4-byte header
//! (modifier1 0, 16-bit little-endian size, modifier2 0) and 16-bit
//! little-endian length-prefixed names and values; more than 65535 bytes of
//! variables is a 431. The response is a CGI-style head and body, ended by
//! the backend closing the connection.

use super::config::HostConf;
use super::GwProtocol;
use crate::http::backend_response::Backend;
use crate::request::Request;

/// `scgi.protocol`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Flavor {
    #[default]
    Scgi,
    Uwsgi,
}

/// The SCGI/uwsgi codec.
#[derive(Debug, Default)]
pub struct Scgi {
    pub flavor: Flavor,
}

/// SCGI netstring of the environment (which starts with CONTENT_LENGTH)
/// and `SCGI=1` last, as lighttpd.
pub fn scgi_head(env: &[(String, String)]) -> Vec<u8> {
    let mut pairs = Vec::with_capacity(1024);
    let scgi = ("SCGI".to_string(), "1".to_string());
    for (k, v) in env.iter().chain(std::iter::once(&scgi)) {
        pairs.extend_from_slice(k.as_bytes());
        pairs.push(0);
        pairs.extend_from_slice(v.as_bytes());
        pairs.push(0);
    }
    let mut out = format!("{}:", pairs.len()).into_bytes();
    out.extend_from_slice(&pairs);
    out.push(b',');
    out
}

/// uwsgi packet head; Err(431) when the variables exceed 65535 bytes.
pub fn uwsgi_head(env: &[(String, String)]) -> Result<Vec<u8>, u16> {
    let mut vars = Vec::with_capacity(1024);
    for (k, v) in env {
        for s in [k.as_bytes(), v.as_bytes()] {
            let len = u16::try_from(s.len()).map_err(|_| 431u16)?;
            vars.extend_from_slice(&len.to_le_bytes());
            vars.extend_from_slice(s);
        }
    }
    let size = u16::try_from(vars.len()).map_err(|_| 431u16)?;
    let mut out = vec![0];
    out.extend_from_slice(&size.to_le_bytes());
    out.push(0);
    out.extend_from_slice(&vars);
    Ok(out)
}

impl GwProtocol for Scgi {
    fn backend(&self) -> Backend {
        Backend::Scgi
    }

    fn create_request(&mut self, r: &Request, host: &HostConf) -> Result<Vec<u8>, u16> {
        let env = super::env::build(r, host);
        match self.flavor {
            Flavor::Scgi => Ok(scgi_head(&env)),
            Flavor::Uwsgi => uwsgi_head(&env),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn scgi_netstring_ends_with_scgi_1() {
        let head = scgi_head(&env(&[("CONTENT_LENGTH", "0"), ("A", "b")]));
        assert_eq!(head, b"28:CONTENT_LENGTH\x000\x00A\x00b\x00SCGI\x001\x00,");
    }

    #[test]
    fn uwsgi_header_and_limit() {
        let head = uwsgi_head(&env(&[("AB", "c")])).unwrap();
        assert_eq!(head, b"\x00\x07\x00\x00\x02\x00AB\x01\x00c");
        let big = env(&[("K", &"v".repeat(70_000))]);
        assert_eq!(uwsgi_head(&big), Err(431));
        let many: Vec<(String, String)> = (0..5000)
            .map(|i| (format!("K{i}"), "value".to_string()))
            .collect();
        assert_eq!(uwsgi_head(&many), Err(431));
    }
}
