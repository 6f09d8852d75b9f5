//! An accepted TLS connection on the non-blocking event loop: ciphertext
//! moves between the TCP socket and rustls (`read_tls` /
//! `process_new_packets` / `write_tls`), plaintext between rustls and the
//! connection's buffers. Response chunks (files included: sendfile cannot
//! encrypt) are read with pread into a bounded buffer and encrypted a
//! record-sized piece at a time, so at most one piece waits in rustls.

use std::io::{self, Read, Write};
use std::sync::Arc;

use rustls::{ServerConfig, ServerConnection};

use super::ClientEnvConf;
use crate::chunk::{ChunkQueue, Written};

/// Plaintext encrypted per step (one TLS record).
const PIECE: usize = 16 * 1024;

/// A TLS server connection over a mio TCP stream.
#[derive(Debug)]
pub struct TlsStream {
    pub tcp: mio::net::TcpStream,
    conn: ServerConnection,
    /// Plaintext taken from the write queue, reused.
    piece: Vec<u8>,
    /// The peer sent close_notify (or the socket hit EOF).
    eof: bool,
    /// The first byte was looked at (plain HTTP is not answered).
    first_seen: bool,
    /// close_notify was queued.
    closed: bool,
    env_conf: Arc<ClientEnvConf>,
    /// The request environment, made once the handshake is done.
    env: Option<Vec<(String, String)>>,
}

impl TlsStream {
    pub fn new(
        tcp: mio::net::TcpStream,
        config: Arc<ServerConfig>,
        env_conf: Arc<ClientEnvConf>,
    ) -> io::Result<TlsStream> {
        let conn = ServerConnection::new(config).map_err(io::Error::other)?;
        Ok(TlsStream {
            tcp,
            conn,
            piece: Vec::new(),
            eof: false,
            first_seen: false,
            closed: false,
            env_conf,
            env: None,
        })
    }

    /// The SNI name the client sent.
    pub fn server_name(&self) -> Option<&str> {
        self.conn.server_name()
    }

    /// The client certificate chain (`ssl.verifyclient.activate`).
    pub fn peer_certificates(&self) -> Option<&[rustls::pki_types::CertificateDer<'static>]> {
        self.conn.peer_certificates()
    }

    /// Append the connection's request environment (SSL_PROTOCOL, ...).
    pub fn add_env(&mut self, out: &mut Vec<(String, String)>) {
        if self.env.is_none() && !self.conn.is_handshaking() {
            self.env = Some(super::env::request_env(&self.conn, &self.env_conf));
        }
        out.extend(self.env.iter().flatten().cloned());
    }

    /// Encrypted bytes wait for the socket.
    pub fn wants_write(&self) -> bool {
        self.conn.wants_write()
    }

    /// Send what rustls has queued; Ok(false) when the socket blocked.
    pub fn flush_tls(&mut self) -> io::Result<bool> {
        while self.conn.wants_write() {
            match self.conn.write_tls(&mut self.tcp) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }

    /// Append up to `max` plaintext bytes to `out` (Ok(0): the client
    /// closed). Reads the socket until rustls has `max` bytes or the
    /// socket would block, so a short result means the socket is drained
    /// (edge-triggered readiness reports more). Handshake replies are sent
    /// on the way; a failed handshake is an error (after the alert went).
    pub fn read_append(&mut self, out: &mut Vec<u8>, max: usize) -> io::Result<usize> {
        let start = out.len();
        loop {
            let got = out.len() - start;
            if got < max {
                out.resize(start + max, 0);
                let r = self.conn.reader().read(&mut out[start + got..]);
                out.truncate(start + got + *r.as_ref().unwrap_or(&0));
                match r {
                    Ok(0) => self.eof = true,
                    Ok(_) => continue,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => self.eof = true,
                    Err(e) => return Err(e),
                }
            }
            let got = out.len() - start;
            if got >= max || self.eof {
                return Ok(got);
            }
            if !self.first_seen {
                self.reject_plain_http()?;
            }
            match self.conn.read_tls(&mut self.tcp) {
                Ok(0) => self.eof = true,
                Ok(_) => self.process()?,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    return if got > 0 { Ok(got) } else { Err(e) };
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// A request in clear text on a TLS port is closed without a reply
    /// (as with OpenSSL, no alert either).
    fn reject_plain_http(&mut self) -> io::Result<()> {
        let mut first = [0u8; 1];
        match self.tcp.peek(&mut first) {
            Ok(1) => {
                self.first_seen = true;
                if first[0].is_ascii_alphabetic() {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "http request on a TLS port",
                    ));
                }
                Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Err(e),
            _ => Ok(()),
        }
    }

    /// Decrypt what was read; send the handshake replies (or the alert).
    fn process(&mut self) -> io::Result<()> {
        match self.conn.process_new_packets() {
            Ok(_) => {
                self.flush_tls()?;
                Ok(())
            }
            Err(e) => {
                let _ = self.flush_tls();
                Err(io::Error::new(io::ErrorKind::InvalidData, e))
            }
        }
    }

    /// Encrypt and send up to `max` bytes of `q` (memory and file chunks).
    /// When this returns unblocked, nothing waits in rustls.
    pub fn write_queue(&mut self, q: &mut ChunkQueue, max: u64) -> io::Result<Written> {
        let mut total = 0u64;
        loop {
            if !self.flush_tls()? {
                return Ok(Written {
                    bytes: total,
                    blocked: true,
                });
            }
            if q.is_empty() || total >= max {
                return Ok(Written {
                    bytes: total,
                    blocked: false,
                });
            }
            let want = usize::try_from(max - total).unwrap_or(PIECE).min(PIECE);
            self.piece.clear();
            let n = q.read_into(&mut self.piece, want)?;
            if n == 0 {
                return Err(io::Error::new(io::ErrorKind::WriteZero, "empty chunk"));
            }
            self.conn.writer().write_all(&self.piece)?;
            total += n as u64;
        }
    }

    /// close_notify, then shut the write side (best effort: the socket
    /// is not waited for).
    pub fn shutdown_write(&mut self) {
        self.close_notify();
        let _ = self.tcp.shutdown(std::net::Shutdown::Write);
    }

    /// Tell the client the stream ends (once; not before the handshake
    /// is done, so a failed or clear-text start gets no bytes).
    fn close_notify(&mut self) {
        if !self.closed && !self.conn.is_handshaking() {
            self.closed = true;
            self.conn.send_close_notify();
            let _ = self.flush_tls();
        }
    }
}

impl Drop for TlsStream {
    /// Idle timeouts and aborts close with close_notify too (lighttpd).
    fn drop(&mut self) {
        self.close_notify();
    }
}
