//! What mod_fastcgi, mod_scgi and mod_proxy share (lighttpd
//! src/gw_backend.c): backend hosts from `<m>.server` ([`config`]), their
//! processes and balancing ([`host`], [`spawn`]), the per-request backend
//! state machine ([`handler`]), the module glue ([`module`]) and the
//! protocol codecs behind [`GwProtocol`]: [`fastcgi`], [`scgi`] (and
//! uwsgi), [`proxy`] (HTTP/1.1).
//!
//! As lighttpd with its defaults (`server.stream-request-body` and
//! `server.stream-response-body` 0), the request body is complete before the
//! backend is contacted and the response is buffered (spilling to temp
//! files) before it is sent; with `server.stream-response-body` 1/2 the
//! response is sent as it arrives, with back-pressure ([`handler`]). Deliberate difference: bin-path backends are
//! spawned on first use or the first 1 s tick, not while the config is
//! read, because this server goes to the background after reading it.

pub mod config;
pub mod env;
pub mod fastcgi;
pub mod handler;
pub mod host;
pub mod module;
pub mod proxy;
pub mod scgi;
pub mod spawn;

use crate::chunk::ChunkQueue;
use crate::http::backend_response::Backend;
use crate::request::Request;
use config::HostConf;

/// What decoding backend bytes gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// The protocol itself marked the end of the response (FastCGI
    /// END_REQUEST).
    pub ended: bool,
}

/// A backend wire protocol: request encoding and response decoding. The
/// decoded response stream is a CGI-style or HTTP head plus body, parsed by
/// the handler with [`crate::http::backend_response::parse_backend_head`].
pub trait GwProtocol {
    /// Which head flavour the response has.
    fn backend(&self) -> Backend;
    /// The request head: FastCGI BEGIN_REQUEST + PARAMS, the SCGI
    /// netstring, or the HTTP request head. Err(status) refuses the request.
    fn create_request(&mut self, r: &Request, host: &HostConf) -> Result<Vec<u8>, u16>;
    /// Move the complete request body from `body` into `out`, framed, with
    /// the protocol's end marker (default: as it is, for stream protocols).
    fn feed_body(&mut self, body: &mut ChunkQueue, out: &mut ChunkQueue) {
        out.append_queue(body);
    }
    /// Decode bytes from the backend, appending response-stream bytes to
    /// `out` (bounded internal buffering only; default: passed through).
    fn process_response(&mut self, input: &[u8], out: &mut Vec<u8>) -> Progress {
        out.extend_from_slice(input);
        Progress { ended: false }
    }
    /// The backend closing the connection ends the response normally
    /// (default: SCGI, HTTP without length); else it is an error (FastCGI).
    fn eof_is_end(&self) -> bool {
        true
    }
    /// Adjust the parsed response headers (proxy remapping).
    fn response_headers(&mut self, _headers: &mut crate::http::headers::Headers) {}
    /// The request asked the backend to switch protocols (proxy `upgrade`):
    /// a 101 answer makes the connection a tunnel.
    fn upgrading(&self) -> bool {
        false
    }
}
