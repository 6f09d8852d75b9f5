//! mod_scgi (lighttpd src/mod_scgi.c): `scgi.server` backends over SCGI, or
//! uwsgi with `scgi.protocol = "uwsgi"`. The shared gateway logic lives in
//! [`crate::gw`].

use crate::config::diagnostic::Diagnostic;
use crate::config::scoped::{Patch, Scoped};
use crate::config::validate::get_str;
use crate::gw::config::ServerKind;
use crate::gw::module;
use crate::gw::scgi::{Flavor, Scgi};
use crate::plugin::registry::ModuleInit;
use crate::plugin::Module;

impl Patch for Flavor {
    type Item = Flavor;
    fn apply(&mut self, item: &Flavor) {
        *self = *item;
    }
}

/// `scgi.protocol`: "scgi" or "uwsgi".
fn parse_protocol(key: &str, v: &crate::config::value::Value) -> Result<Flavor, String> {
    match get_str(key, v)? {
        "scgi" => Ok(Flavor::Scgi),
        "uwsgi" => Ok(Flavor::Uwsgi),
        // (lighttpd's text, without a space after the key)
        _ => Err(format!(
            "unexpected type for key: {key}expected \"scgi\" or \"uwsgi\""
        )),
    }
}

/// Registry constructor.
pub fn new(init: &ModuleInit) -> Result<Box<dyn Module>, Vec<Diagnostic>> {
    let kind = ServerKind {
        key: "scgi.server",
        sh_exec: true,
        proxy: false,
    };
    let flavor: Scoped<Flavor> =
        Scoped::build(init.tree, Flavor::Scgi, &["scgi.protocol"], |k, d| {
            parse_protocol(k, &d.value)
        })?;
    let make: module::MakeProtocol = Box::new(move |r, _| {
        Box::new(Scgi {
            flavor: r.resolve(&flavor),
        })
    });
    Ok(Box::new(module::build(
        init.tree, "mod_scgi", kind, "scgi", make,
    )?))
}
