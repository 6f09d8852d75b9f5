//! The request environment of a TLS connection (lighttpd mod_openssl's
//! `request_env` hook): `SSL_PROTOCOL`, `SSL_CIPHER`, the key sizes and,
//! with `ssl.verifyclient.activate`, the client certificate's
//! `SSL_CLIENT_*` values (the certificate is hostile input: it is parsed
//! with the RustCrypto `x509-cert` crate, never by hand).

use der::asn1::ObjectIdentifier;
use der::Decode;
use rustls::pki_types::CertificateDer;
use rustls::{CipherSuite, ProtocolVersion, ServerConnection};
use x509_cert::attr::AttributeTypeAndValue;
use x509_cert::name::Name;
use x509_cert::Certificate;

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
    if let Some(s) = serial_and_subject(cert) {
        env.push(("SSL_CLIENT_S_DN".into(), s.oneline));
        for (k, v) in s.entries {
            env.push((format!("SSL_CLIENT_S_DN_{k}"), v));
        }
        env.push(("SSL_CLIENT_M_SERIAL".into(), s.serial));
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

/// A certificate in PEM (base64 wrapped at 64 columns, as OpenSSL writes it).
fn pem(der: &[u8]) -> String {
    der::pem::encode_string("CERTIFICATE", der::pem::LineEnding::LF, der).unwrap_or_default()
}

/// A certificate parsed by `x509-cert` (strict DER; None on any error).
fn parse(der: &[u8]) -> Option<Certificate> {
    Certificate::from_der(der).ok()
}

/// A certificate's serial number (content bytes), issuer and subject.
pub fn serial_issuer_subject(der: &[u8]) -> Option<(Vec<u8>, Name, Name)> {
    let tbs = parse(der)?.tbs_certificate;
    Some((
        tbs.serial_number.as_bytes().to_vec(),
        tbs.issuer,
        tbs.subject,
    ))
}

/// What the environment shows of a client certificate.
#[derive(Debug)]
pub struct ClientSubject {
    /// Hex, as OpenSSL's BN_bn2hex.
    pub serial: String,
    /// OpenSSL's one-line form ("CN = a, O = b").
    pub oneline: String,
    /// (short name, value) of each subject entry.
    pub entries: Vec<(String, String)>,
}

/// The serial and subject of a certificate.
pub fn serial_and_subject(der: &[u8]) -> Option<ClientSubject> {
    let tbs = parse(der)?.tbs_certificate;
    let rdns: Vec<Vec<(String, String)>> = tbs
        .subject
        .0
        .iter()
        .map(|rdn| rdn.0.iter().map(name_entry).collect())
        .collect();
    let oneline = rdns
        .iter()
        .map(|rdn| {
            let parts: Vec<String> = rdn.iter().map(|(k, v)| format!("{k} = {v}")).collect();
            parts.join(" + ")
        })
        .collect::<Vec<_>>()
        .join(", ");
    let serial = hex_serial(tbs.serial_number.as_bytes());
    Some(ClientSubject {
        serial,
        oneline,
        entries: rdns.into_iter().flatten().collect(),
    })
}

/// One subject entry: OpenSSL's short name and the string's bytes.
fn name_entry(atv: &AttributeTypeAndValue) -> (String, String) {
    let value = String::from_utf8_lossy(atv.value.value()).into_owned();
    (oid_name(&atv.oid), value)
}

fn hex_serial(bytes: &[u8]) -> String {
    let trimmed = match bytes {
        [0, rest @ ..] if !rest.is_empty() => rest,
        b => b,
    };
    trimmed.iter().map(|b| format!("{b:02X}")).collect()
}

/// OpenSSL's short name of an attribute type (dotted OID otherwise).
fn oid_name(oid: &ObjectIdentifier) -> String {
    use der::oid::db::{rfc3280, rfc4519};
    let known = [
        (rfc4519::CN, "CN"),
        (rfc4519::SN, "SN"),
        (rfc4519::SERIAL_NUMBER, "serialNumber"),
        (rfc4519::C, "C"),
        (rfc4519::L, "L"),
        (rfc4519::ST, "ST"),
        (rfc4519::O, "O"),
        (rfc4519::OU, "OU"),
        (rfc4519::TITLE, "title"),
        (rfc4519::GIVEN_NAME, "GN"),
        (rfc3280::EMAIL_ADDRESS, "emailAddress"),
        (rfc4519::UID, "UID"),
        (rfc4519::DC, "DC"),
    ];
    match known.iter().find(|(o, _)| o == oid) {
        Some((_, name)) => (*name).to_string(),
        None => oid.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `openssl req -x509 -multivalue-rdn -set_serial 0x9A01
    /// -subj "/C=DE/CN=alice+O=Ex/testOid=x"` (testOid = 1.2.3.4, P-256);
    /// OpenSSL prints its subject as `C = DE, O = Ex + CN = alice, 1.2.3.4 = x`.
    const CERT_PEM: &str = "\
-----BEGIN CERTIFICATE-----\n\
MIIBUTCB+AIDAJoBMAoGCCqGSM49BAMCMDQxCzAJBgNVBAYTAkRFMRkwCQYDVQQK\n\
DAJFeDAMBgNVBAMMBWFsaWNlMQowCAYDKgMEDAF4MB4XDTI2MTEyNjAxMTYzM1oX\n\
DTM2MTEyMzAxMTYzM1owNDELMAkGA1UEBhMCREUxGTAJBgNVBAoMAkV4MAwGA1UE\n\
AwwFYWxpY2UxCjAIBgMqAwQMAXgwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAASj\n\
sCoTp5Y6ozkjYkv3sRB43uY4p64/8t7gDt9i0GxoBgsF6HCkLOig1zL7rF2fOdDb\n\
EmGBQNHFMZYiwgmnjluNMAoGCCqGSM49BAMCA0gAMEUCIHWD7fzaJuuEmcDBlc7g\n\
fO26aZz49Koteo7HtIw6JczKAiEAyqQ+MajDt8lhs5qGhMFd/kgpk3nfyVwlJdEt\n\
w3LWczY=\n\
-----END CERTIFICATE-----\n\
";

    fn cert_der() -> Vec<u8> {
        match der::pem::decode_vec(CERT_PEM.as_bytes()) {
            Ok((_, der)) => der,
            Err(e) => panic!("test certificate: {e}"),
        }
    }

    #[test]
    fn subject_and_serial_are_read_from_the_certificate() {
        let s = serial_and_subject(&cert_der()).expect("parsed");
        assert_eq!(s.serial, "9A01");
        assert_eq!(s.oneline, "C = DE, O = Ex + CN = alice, 1.2.3.4 = x");
        let names: Vec<(&str, &str)> = s
            .entries
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            names,
            vec![("C", "DE"), ("O", "Ex"), ("CN", "alice"), ("1.2.3.4", "x")]
        );
        let (serial, issuer, subject) = serial_issuer_subject(&cert_der()).expect("parsed");
        assert_eq!(serial, [0x00, 0x9a, 0x01]);
        assert_eq!(issuer, subject, "self-signed");
    }

    #[test]
    fn hostile_or_truncated_der_gives_nothing() {
        let der = cert_der();
        for cut in 0..der.len() {
            assert!(serial_and_subject(&der[..cut]).is_none(), "cut at {cut}");
            assert!(serial_issuer_subject(&der[..cut]).is_none(), "cut at {cut}");
        }
        let mut trailing = der.clone();
        trailing.push(0);
        assert!(serial_and_subject(&trailing).is_none(), "trailing byte");
        // lengths that overrun the input, indefinite and 2^64-ish lengths
        for bad in [
            &[0x30, 0x84, 0xff, 0xff, 0xff, 0xff][..],
            &[0x30, 0x80, 0x30, 0x80, 0x00, 0x00, 0x00, 0x00],
            &[0x30, 0x88, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
            &[0x30, 0x03, 0x30, 0x01],
            &[],
        ] {
            assert!(serial_and_subject(bad).is_none(), "{bad:02x?}");
        }
        // every single-byte corruption parses or is refused, never panics
        for i in 0..der.len() {
            let mut bent = der.clone();
            bent[i] ^= 0x80;
            let _ = serial_and_subject(&bent);
        }
    }

    #[test]
    fn pem_is_what_openssl_writes() {
        assert_eq!(pem(&cert_der()), CERT_PEM);
        let p = pem(&[0u8; 60]);
        assert!(p.starts_with("-----BEGIN CERTIFICATE-----\nAAAA"));
        assert_eq!(p.lines().nth(1).map(str::len), Some(64));
        assert!(p.ends_with("\n-----END CERTIFICATE-----\n"));
    }
}
