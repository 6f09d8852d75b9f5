//! The request environment of a TLS connection (lighttpd mod_openssl's
//! `request_env` hook): `SSL_PROTOCOL`, `SSL_CIPHER`, the key sizes and,
//! with `ssl.verifyclient.activate`, the client certificate's
//! `SSL_CLIENT_*` values (subject read with a small DER walker: the
//! certificate's serial and subject name are all that is needed).

use rustls::pki_types::CertificateDer;
use rustls::{CipherSuite, ProtocolVersion, ServerConnection};

/// The listener's `ssl.verifyclient.*` settings the environment needs.
#[derive(Debug, Clone, Default)]
pub struct ClientEnvConf {
    pub activate: bool,
    /// `ssl.verifyclient.username`: the variable copied to REMOTE_USER.
    pub username: Option<String>,
    /// `ssl.verifyclient.exportcert`: SSL_CLIENT_CERT in PEM.
    pub export_cert: bool,
}

/// The variables of an established connection.
pub fn request_env(conn: &ServerConnection, conf: &ClientEnvConf) -> Vec<(String, String)> {
    let mut env = Vec::new();
    let mut put = |k: &str, v: String| env.push((k.to_string(), v));
    if let Some(v) = conn.protocol_version() {
        let name = match v {
            ProtocolVersion::TLSv1_3 => "TLSv1.3",
            ProtocolVersion::TLSv1_2 => "TLSv1.2",
            _ => "unknown",
        };
        put("SSL_PROTOCOL", name.to_string());
    }
    if let Some(suite) = conn.negotiated_cipher_suite() {
        let (name, bits) = openssl_cipher(suite.suite());
        put("SSL_CIPHER", name.to_string());
        put("SSL_CIPHER_USEKEYSIZE", bits.to_string());
        put("SSL_CIPHER_ALGKEYSIZE", bits.to_string());
    }
    if conf.activate {
        client_entries(
            conn.peer_certificates().and_then(|c| c.first()),
            conf,
            &mut env,
        );
    }
    env
}

/// OpenSSL's name and key bits of a suite (the names CGI scripts know).
fn openssl_cipher(s: CipherSuite) -> (&'static str, u16) {
    match s {
        CipherSuite::TLS13_AES_128_GCM_SHA256 => ("TLS_AES_128_GCM_SHA256", 128),
        CipherSuite::TLS13_AES_256_GCM_SHA384 => ("TLS_AES_256_GCM_SHA384", 256),
        CipherSuite::TLS13_CHACHA20_POLY1305_SHA256 => ("TLS_CHACHA20_POLY1305_SHA256", 256),
        CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 => {
            ("ECDHE-ECDSA-AES128-GCM-SHA256", 128)
        }
        CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 => {
            ("ECDHE-ECDSA-AES256-GCM-SHA384", 256)
        }
        CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 => {
            ("ECDHE-ECDSA-CHACHA20-POLY1305", 256)
        }
        CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 => ("ECDHE-RSA-AES128-GCM-SHA256", 128),
        CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 => ("ECDHE-RSA-AES256-GCM-SHA384", 256),
        CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 => {
            ("ECDHE-RSA-CHACHA20-POLY1305", 256)
        }
        _ => ("unknown", 0),
    }
}

fn client_entries(
    cert: Option<&CertificateDer<'_>>,
    conf: &ClientEnvConf,
    env: &mut Vec<(String, String)>,
) {
    let Some(cert) = cert else {
        env.push(("SSL_CLIENT_VERIFY".into(), "NONE".into()));
        return;
    };
    env.push(("SSL_CLIENT_VERIFY".into(), "SUCCESS".into()));
    if let Some((serial, subject)) = serial_and_subject(cert) {
        let oneline: Vec<String> = subject.iter().map(|(k, v)| format!("{k} = {v}")).collect();
        env.push(("SSL_CLIENT_S_DN".into(), oneline.join(", ")));
        for (k, v) in &subject {
            env.push((format!("SSL_CLIENT_S_DN_{k}"), v.clone()));
        }
        env.push(("SSL_CLIENT_M_SERIAL".into(), serial));
    }
    if let Some(var) = &conf.username {
        if let Some(v) = env.iter().find(|(k, _)| k == var).map(|(_, v)| v.clone()) {
            env.push(("REMOTE_USER".into(), v));
            env.push(("AUTH_TYPE".into(), "SSL_CLIENT_VERIFY".into()));
        }
    }
    if conf.export_cert {
        env.push(("SSL_CLIENT_CERT".into(), pem(cert)));
    }
}

/// A certificate in PEM.
fn pem(der: &[u8]) -> String {
    let b64 = base64(der);
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for c in data.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(char::from(T[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// One DER element: (tag, contents, rest).
fn tlv(data: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = data.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |a, &b| (a << 8) | usize::from(b));
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

/// A certificate's serial number, issuer and subject (DER contents).
pub fn serial_issuer_subject(der: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
    let (_, cert, _) = tlv(der)?;
    let (_, tbs, _) = tlv(cert)?;
    let (mut tag, mut field, mut rest) = tlv(tbs)?;
    if tag == 0xa0 {
        (tag, field, rest) = tlv(rest)?; // skip the version
    }
    if tag != 0x02 {
        return None;
    }
    let (_, _sigalg, rest) = tlv(rest)?;
    let (_, issuer, rest) = tlv(rest)?;
    let (_, _validity, rest) = tlv(rest)?;
    let (_, subject, _) = tlv(rest)?;
    Some((field, issuer, subject))
}

/// The serial (hex, as OpenSSL's BN_bn2hex) and the subject's
/// (short name, value) pairs of a certificate.
pub fn serial_and_subject(der: &[u8]) -> Option<(String, Vec<(String, String)>)> {
    let (serial, _, mut subject) = serial_issuer_subject(der)?;
    let serial = hex_serial(serial);
    let mut names = Vec::new();
    while !subject.is_empty() {
        let (_, set, next) = tlv(subject)?;
        subject = next;
        let (_, atv, _) = tlv(set)?;
        let (_, oid, after) = tlv(atv)?;
        let (_, value, _) = tlv(after)?;
        names.push((oid_name(oid), String::from_utf8_lossy(value).into_owned()));
    }
    Some((serial, names))
}

fn hex_serial(bytes: &[u8]) -> String {
    let trimmed = match bytes {
        [0, rest @ ..] if !rest.is_empty() => rest,
        b => b,
    };
    trimmed.iter().map(|b| format!("{b:02X}")).collect()
}

/// OpenSSL's short name of an attribute type (dotted OID otherwise).
fn oid_name(oid: &[u8]) -> String {
    let known: &[(&[u8], &str)] = &[
        (&[0x55, 0x04, 0x03], "CN"),
        (&[0x55, 0x04, 0x04], "SN"),
        (&[0x55, 0x04, 0x05], "serialNumber"),
        (&[0x55, 0x04, 0x06], "C"),
        (&[0x55, 0x04, 0x07], "L"),
        (&[0x55, 0x04, 0x08], "ST"),
        (&[0x55, 0x04, 0x0a], "O"),
        (&[0x55, 0x04, 0x0b], "OU"),
        (&[0x55, 0x04, 0x0c], "title"),
        (&[0x55, 0x04, 0x2a], "GN"),
        (
            &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01],
            "emailAddress",
        ),
        (
            &[0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x01],
            "UID",
        ),
        (
            &[0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x19],
            "DC",
        ),
    ];
    if let Some((_, n)) = known.iter().find(|(o, _)| *o == oid) {
        return (*n).to_string();
    }
    let mut parts = Vec::new();
    if let Some((&first, rest)) = oid.split_first() {
        parts.push(u64::from(first / 40));
        parts.push(u64::from(first % 40));
        let mut acc = 0u64;
        for &b in rest {
            acc = (acc << 7) | u64::from(b & 0x7f);
            if b & 0x80 == 0 {
                parts.push(acc);
                acc = 0;
            }
        }
    }
    parts
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (tag, contents) as DER.
    fn der(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        if body.len() < 128 {
            out.push(body.len() as u8);
        } else {
            out.extend([0x82, (body.len() >> 8) as u8, body.len() as u8]);
        }
        out.extend_from_slice(body);
        out
    }

    fn atv(oid: &[u8], value: &str) -> Vec<u8> {
        let mut seq = der(0x06, oid);
        seq.extend(der(0x0c, value.as_bytes()));
        der(0x31, &der(0x30, &seq))
    }

    #[test]
    fn subject_and_serial_are_read_from_the_certificate() {
        let mut subject = atv(&[0x55, 0x04, 0x06], "DE");
        subject.extend(atv(&[0x55, 0x04, 0x03], "alice"));
        subject.extend(atv(&[0x2a, 0x03, 0x04], "x"));
        let mut tbs = der(0xa0, &der(0x02, &[2]));
        tbs.extend(der(0x02, &[0x00, 0x9a, 0x01]));
        tbs.extend(der(0x30, &[]));
        tbs.extend(der(0x30, &[]));
        tbs.extend(der(0x30, &[]));
        tbs.extend(der(0x30, &subject));
        let cert = der(0x30, &der(0x30, &tbs));
        let (serial, names) = serial_and_subject(&cert).expect("parsed");
        assert_eq!(serial, "9A01");
        let names: Vec<(&str, &str)> = names
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(names, vec![("C", "DE"), ("CN", "alice"), ("1.2.3.4", "x")]);
        assert!(serial_and_subject(&cert[..cert.len() - 3]).is_none());
    }

    #[test]
    fn pem_wraps_base64_at_64_columns() {
        assert_eq!(base64(b"abcd"), "YWJjZA==");
        let p = pem(&[0u8; 60]);
        assert!(p.starts_with("-----BEGIN CERTIFICATE-----\nAAAA"));
        assert_eq!(p.lines().nth(1).map(str::len), Some(64));
    }
}
