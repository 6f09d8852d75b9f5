//! mod_proxy (lighttpd src/mod_proxy.c): `proxy.server` backends over
//! HTTP/1.1 with `proxy.header`, `proxy.forwarded` and
//! `proxy.replace-http-host`. The shared gateway logic lives in
//! [`crate::gw`], the HTTP codec in [`crate::gw::proxy`].

use crate::config::diagnostic::Diagnostic;
use crate::config::scoped::{Patch, Scoped};
use crate::config::tree::ConfigTree;
use crate::config::validate::get_bool;
use crate::gw::config::ServerKind;
use crate::gw::module;
use crate::gw::proxy::{
    parse_forwarded, parse_header_opts, Forwarded, HeaderOpts, Proxy, ProxyConf,
};
use crate::plugin::registry::ModuleInit;
use crate::plugin::Module;

#[derive(Debug, Clone)]
pub enum Item {
    Forwarded(Forwarded),
    Header(HeaderOpts),
    ReplaceHost(bool),
}

impl Patch for ProxyConf {
    type Item = Item;
    fn apply(&mut self, item: &Item) {
        match item {
            Item::Forwarded(f) => self.forwarded = *f,
            Item::Header(h) => self.header = h.clone(),
            Item::ReplaceHost(b) => self.replace_http_host = *b,
        }
    }
}

/// `server.feature-flags` "proxy.force-http10".
fn force_http10_flag(tree: &ConfigTree) -> bool {
    tree.global()
        .get("server.feature-flags")
        .and_then(|d| {
            d.value
                .as_array()
                .and_then(|a| a.get("proxy.force-http10"))
                .and_then(|v| v.as_bool())
        })
        .unwrap_or(false)
}

pub fn compile(tree: &ConfigTree) -> Result<Scoped<ProxyConf>, Vec<Diagnostic>> {
    let force10 = force_http10_flag(tree);
    let mut defaults = ProxyConf::default();
    defaults.header.force_http10 = force10;
    let keys = ["proxy.forwarded", "proxy.header", "proxy.replace-http-host"];
    Scoped::build(tree, defaults, &keys, |key, d| match key {
        "proxy.forwarded" => parse_forwarded(key, &d.value).map(Item::Forwarded),
        "proxy.header" => parse_header_opts(key, &d.value, force10).map(Item::Header),
        _ => get_bool(key, &d.value).map(Item::ReplaceHost),
    })
}

/// Registry constructor.
pub fn new(init: &ModuleInit) -> Result<Box<dyn Module>, Vec<Diagnostic>> {
    let kind = ServerKind {
        key: "proxy.server",
        sh_exec: false,
        proxy: true,
    };
    let conf = compile(init.tree)?;
    let make: module::MakeProtocol = Box::new(move |r, _| Box::new(Proxy::new(r.resolve(&conf))));
    Ok(Box::new(module::build(
        init.tree,
        "mod_proxy",
        kind,
        "proxy",
        make,
    )?))
}
