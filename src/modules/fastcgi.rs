//! mod_fastcgi (lighttpd src/mod_fastcgi.c): `fastcgi.server` backends
//! (responders and authorizers) over the FastCGI record protocol. The shared
//! gateway logic lives in [`crate::gw`].

use crate::config::diagnostic::Diagnostic;
use crate::gw::config::ServerKind;
use crate::gw::fastcgi::FastCgi;
use crate::gw::module;
use crate::plugin::registry::ModuleInit;
use crate::plugin::Module;

/// Registry constructor.
pub fn new(init: &ModuleInit) -> Result<Box<dyn Module>, Vec<Diagnostic>> {
    let kind = ServerKind {
        key: "fastcgi.server",
        sh_exec: false,
        proxy: false,
    };
    let make: module::MakeProtocol = Box::new(|_r, authorizer| Box::new(FastCgi::new(authorizer)));
    Ok(Box::new(module::build(
        init.tree,
        "mod_fastcgi",
        kind,
        "fastcgi",
        make,
    )?))
}
