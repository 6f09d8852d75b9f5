//! mod_sockproxy (lighttpd src/mod_sockproxy.c): a plain TCP proxy. A
//! connection accepted where `sockproxy.server` is in effect (only
//! `$SERVER["socket"]` and remote-IP conditions are known then) is relayed
//! byte for byte to a backend and back, until either side closes; no HTTP
//! is parsed. Hosts, balancing and the gw statistics come from
//! [`crate::gw`]; the relay is the connection's upgrade tunnel. Client
//! bytes that arrived before the backend connected go out first, as they
//! are (the stream protocols' default `feed_body`).

use crate::config::diagnostic::Diagnostic;
use crate::gw::config::{HostConf, ServerKind};
use crate::gw::{module, GwProtocol};
use crate::http::backend_response::Backend;
use crate::plugin::registry::ModuleInit;
use crate::plugin::Module;
use crate::request::Request;

/// The "protocol": nothing added, nothing decoded.
struct Transparent;

impl GwProtocol for Transparent {
    fn backend(&self) -> Backend {
        Backend::Proxy
    }

    fn create_request(&mut self, _r: &Request, _host: &HostConf) -> Result<Vec<u8>, u16> {
        Ok(Vec::new())
    }
}

/// Registry constructor.
pub fn new(init: &ModuleInit) -> Result<Box<dyn Module>, Vec<Diagnostic>> {
    let kind = ServerKind {
        key: "sockproxy.server",
        sh_exec: false,
        proxy: true,
    };
    let make: module::MakeProtocol = Box::new(|_, _| Box::new(Transparent));
    let m = module::build(init.tree, "mod_sockproxy", kind, "sockproxy", make)?;
    Ok(Box::new(m.into_tunnel()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunk::ChunkQueue;

    #[test]
    fn bytes_pass_unchanged() {
        let mut out = Vec::new();
        let p = Transparent.process_response(b"\x00raw\r\n", &mut out);
        assert_eq!(out, b"\x00raw\r\n");
        assert!(!p.ended);
        assert!(Transparent.eof_is_end());
    }

    #[test]
    fn early_client_bytes_are_kept() {
        let (mut body, mut out) = (ChunkQueue::new(), ChunkQueue::new());
        body.append_mem(b"GET / HTTP/1.0\r\n\r\n");
        Transparent.feed_body(&mut body, &mut out);
        assert!(body.is_empty());
        assert_eq!(out.len(), 18);
    }
}
