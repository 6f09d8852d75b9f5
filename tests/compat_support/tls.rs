//! The TLS side of the raw client (`== connection tls`): a rustls client that offers ALPN
//! `http/1.1` only (lighttpd would otherwise pick h2), sends SNI when the case names one,
//! accepts any certificate, and describes the handshake in a stable line: the protocol
//! version, the ALPN result and which fixture certificate (compat-tests/tls/*.pem) the
//! server presented, or `handshake failed`.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, IpAddr, ServerName};
use rustls::{ClientConfig, ClientConnection, StreamOwned};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[path = "../common/any_cert.rs"]
mod any_cert;
use any_cert::AnyCert;

/// The fixture certificates and the placeholders that name them in configs and answers.
pub const CERTS: [(&str, &str); 2] = [("@TLSPEM@", "server.pem"), ("@TLSPEM2@", "other.pem")];

/// What a TLS connection needs: the SNI name to send and the known certificates.
#[derive(Debug, Clone)]
pub struct TlsClient {
    pub sni: Option<String>,
    /// (placeholder, leaf certificate DER) of each fixture certificate.
    pub known: Arc<Vec<(&'static str, Vec<u8>)>>,
}

/// Loads the fixture certificates from `dir` (compat-tests/tls).
pub fn known_certs(dir: &Path) -> Result<Vec<(&'static str, Vec<u8>)>, String> {
    CERTS
        .iter()
        .map(|(placeholder, file)| {
            let path = dir.join(file);
            let der = CertificateDer::pem_file_iter(&path)
                .map_err(|e| format!("{}: {e}", path.display()))?
                .next()
                .ok_or_else(|| format!("{}: no certificate", path.display()))?
                .map_err(|e| format!("{}: {e}", path.display()))?;
            Ok((*placeholder, der.to_vec()))
        })
        .collect()
}

/// A plain or TLS client socket.
pub enum Stream {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
}

impl Stream {
    /// The TCP socket underneath (for timeouts).
    pub fn socket(&self) -> &TcpStream {
        match self {
            Stream::Plain(s) => s,
            Stream::Tls(s) => &s.sock,
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}

/// Performs the handshake on `tcp` within `limit`. Returns the stream and the rendered
/// handshake (`TLSv1.3 alpn=http/1.1 cert=@TLSPEM@`), or `None` and `handshake failed`.
pub fn handshake(tcp: TcpStream, client: &TlsClient, limit: Duration) -> (Option<Stream>, String) {
    let failed = (None, "handshake failed".to_string());
    let Some(mut conn) = client_connection(client.sni.as_deref()) else {
        return failed;
    };
    let mut tcp = tcp;
    let deadline = Instant::now() + limit;
    while conn.is_handshaking() {
        let Some(left) = deadline.checked_duration_since(Instant::now()) else {
            return failed;
        };
        let left = left.max(Duration::from_millis(1));
        if tcp.set_read_timeout(Some(left)).is_err() || tcp.set_write_timeout(Some(left)).is_err() {
            return failed;
        }
        if conn.complete_io(&mut tcp).is_err() {
            return failed;
        }
    }
    let summary = describe(&conn, &client.known);
    (
        Some(Stream::Tls(Box::new(StreamOwned::new(conn, tcp)))),
        summary,
    )
}

fn describe(conn: &ClientConnection, known: &[(&'static str, Vec<u8>)]) -> String {
    let version = match conn.protocol_version() {
        Some(rustls::ProtocolVersion::TLSv1_3) => "TLSv1.3".to_string(),
        Some(rustls::ProtocolVersion::TLSv1_2) => "TLSv1.2".to_string(),
        other => format!("{other:?}"),
    };
    let alpn = conn.alpn_protocol().map_or("none".to_string(), |p| {
        String::from_utf8_lossy(p).into_owned()
    });
    let leaf = conn.peer_certificates().and_then(|certs| certs.first());
    let cert = leaf
        .and_then(|leaf| known.iter().find(|(_, der)| der[..] == leaf[..]))
        .map_or("unknown", |(name, _)| name);
    format!("{version} alpn={alpn} cert={cert}")
}

fn client_connection(sni: Option<&str>) -> Option<ClientConnection> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .ok()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCert(provider)))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    // Without a name, the address: rustls sends no SNI for it.
    let name = match sni {
        Some(name) => ServerName::try_from(name.to_string()).ok()?,
        None => ServerName::IpAddress(IpAddr::from(std::net::Ipv4Addr::LOCALHOST)),
    };
    ClientConnection::new(Arc::new(config), name).ok()
}
