//! mod_openssl: TLS on listeners with `ssl.engine = "enable"` (rustls, see
//! [`crate::tls`]). The module itself has no request hooks: constructing
//! it loads and checks the certificates and keys of every TLS listener
//! (so `-tt` and startup fail on an unreadable pemfile or a key that does
//! not match, with lighttpd's messages); the server builds the same
//! configs for its listeners.

use crate::config::diagnostic::Diagnostic;
use crate::plugin::registry::ModuleInit;
use crate::plugin::Module;
use crate::tls::TlsListeners;

struct OpenSsl;

/// Check the TLS listeners' settings (lighttpd `mod_openssl_set_defaults`).
pub fn new(init: &ModuleInit) -> Result<Box<dyn Module>, Vec<Diagnostic>> {
    // (a server option of the wrong type is reported by the network checks)
    let Ok(server) = crate::config::core::compile_server(init.tree, Vec::new()) else {
        return Ok(Box::new(OpenSsl));
    };
    TlsListeners::build(init.tree, &crate::sockets::listen_specs(&server), true)?;
    Ok(Box::new(OpenSsl))
}

impl Module for OpenSsl {
    fn name(&self) -> &'static str {
        "mod_openssl"
    }

    fn hooks(&self) -> &'static [crate::plugin::Hook] {
        &[]
    }
}
