//! The built-in module registry: `server.modules` name → constructor.
//!
//! To add a module, write `src/modules/<name>.rs` with
//! `pub fn new(init: &ModuleInit) -> Result<Box<dyn Module>, Vec<Diagnostic>>`
//! and add one line to [`BUILTIN`]. Names not listed here make startup fail
//! the way lighttpd's failed `dlopen()` does.

use std::cell::RefCell;

use super::Module;
use crate::config::diagnostic::Diagnostic;
use crate::config::tree::ConfigTree;
use crate::config::validate::Plugins;
use crate::modules;

/// What a module constructor gets: the whole evaluated configuration (build
/// your `Scoped<Conf>` from it) and the final module list.
pub struct ModuleInit<'a> {
    pub tree: &'a ConfigTree,
    pub modules: &'a [String],
}

/// A module constructor.
pub type Ctor = fn(&ModuleInit) -> Result<Box<dyn Module>, Vec<Diagnostic>>;

/// Every module built into this binary, by `server.modules` name.
pub const BUILTIN: &[(&str, Ctor)] = &[
    ("mod_indexfile", modules::indexfile::new),
    ("mod_openssl", modules::openssl::new),
    ("mod_deflate", modules::deflate::new),
    ("mod_dirlisting", modules::dirlisting::new),
    ("mod_staticfile", modules::staticfile::new),
    ("mod_access", modules::access::new),
    ("mod_accesslog", modules::accesslog::new),
    ("mod_alias", modules::alias::new),
    ("mod_auth", modules::auth::new),
    ("mod_authn_file", modules::authn_file::new),
    ("mod_cgi", modules::cgi::new),
    ("mod_evhost", modules::evhost::new),
    ("mod_expire", modules::expire::new),
    ("mod_extforward", modules::extforward::new),
    ("mod_fastcgi", modules::fastcgi::new),
    ("mod_proxy", modules::proxy::new),
    ("mod_redirect", modules::redirect::new),
    ("mod_rewrite", modules::rewrite::new),
    ("mod_rrdtool", modules::rrdtool::new),
    ("mod_scgi", modules::scgi::new),
    ("mod_setenv", modules::setenv::new),
    ("mod_sockproxy", modules::sockproxy::new),
    ("mod_simple_vhost", modules::simple_vhost::new),
    ("mod_ssi", modules::ssi::new),
    ("mod_status", modules::status::new),
    ("mod_userdir", modules::userdir::new),
];

/// Construct the modules of `names` in order. Unknown names fail like
/// lighttpd (`dlopen() failed for: ...` then `loading plugins finally failed`).
pub fn load(
    tree: &ConfigTree,
    names: &[String],
    module_dir: &str,
) -> Result<Vec<Box<dyn Module>>, Vec<Diagnostic>> {
    let init = ModuleInit {
        tree,
        modules: names,
    };
    let mut out = Vec::with_capacity(names.len());
    let mut errors = Vec::new();
    for name in names {
        match BUILTIN.iter().find(|(n, _)| n == name) {
            Some((_, ctor)) => match ctor(&init) {
                Ok(m) => out.push(m),
                Err(mut e) => errors.append(&mut e),
            },
            None => {
                errors.push(Diagnostic::error(
                    format!(
                        "dlopen() failed for: {module_dir}/{name}.so {module_dir}/{name}.so: \
                         cannot open shared object file: No such file or directory"
                    ),
                    None,
                ));
                errors.push(Diagnostic::error("loading plugins finally failed", None));
                return Err(errors);
            }
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// The built-in modules as lighttpd's plugin loader for `-tt` and startup
/// ([`crate::config::validate::lighttpd_preflight`]): a module is loadable
/// when it is in [`BUILTIN`]; `set_defaults` constructs it (no files are
/// opened, no backends spawned, no sockets bound before the server starts).
pub struct Loader<'a> {
    tree: &'a ConfigTree,
    module_dir: &'a str,
    modules: Vec<String>,
    /// What `set_defaults` constructed, in order.
    built: RefCell<Vec<Box<dyn Module>>>,
}

impl<'a> Loader<'a> {
    pub fn new(tree: &'a ConfigTree, module_dir: &'a str) -> Loader<'a> {
        Loader {
            tree,
            module_dir,
            modules: crate::config::validate::module_list(tree),
            built: RefCell::default(),
        }
    }

    /// The constructed modules, in `server.modules` order, if every one
    /// of them was constructed (the checks passed); for the server to use
    /// instead of setting them up a second time.
    pub fn into_modules(self) -> Option<Vec<Box<dyn Module>>> {
        let built = self.built.into_inner();
        (built.len() == self.modules.len()).then_some(built)
    }
}

impl Plugins for Loader<'_> {
    fn loadable(&self, name: &str) -> bool {
        BUILTIN.iter().any(|(n, _)| *n == name)
    }

    fn module_dir(&self) -> &str {
        self.module_dir
    }

    fn set_defaults(&self, name: &str) -> Vec<Diagnostic> {
        let Some((_, ctor)) = BUILTIN.iter().find(|(n, _)| *n == name) else {
            return Vec::new();
        };
        let init = ModuleInit {
            tree: self.tree,
            modules: &self.modules,
        };
        match ctor(&init) {
            Ok(module) => {
                self.built.borrow_mut().push(module);
                Vec::new()
            }
            Err(errors) => errors,
        }
    }
}
