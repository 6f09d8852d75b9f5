//! The final `server.modules` list (lighttpd configfile.c
//! `config_check_module_duplicates`, `config_compat_module_load`,
//! `config_deprecate_module_compress`; section 7) and the warnings lighttpd
//! prints while computing it.

use super::{get_list, global_bool, global_value};
use crate::config::diagnostic::Diagnostic;
use crate::config::directive::TLS_MODULES;
use crate::config::source::Span;
use crate::config::tree::{ConfigTree, Directive};
use crate::config::value::Value;

/// Does any context enable `key` (a non-empty array, or a true bool-ish)?
fn any_enabled(tree: &ConfigTree, key: &str) -> bool {
    tree.contexts
        .iter()
        .any(|c| match c.get(key).map(|d| &d.value) {
            Some(Value::Array(a)) => !a.items.is_empty(),
            Some(v) => v.as_bool().unwrap_or(false),
            None => false,
        })
}

/// Does any context set `key` to exactly the string `value`?
/// The first directive setting `key` to exactly the string `value`.
fn find_value<'a>(tree: &'a ConfigTree, key: &str, value: &str) -> Option<&'a Directive> {
    tree.contexts
        .iter()
        .filter_map(|c| c.get(key))
        .find(|d| d.value.as_str() == Some(value))
}

/// The first directive whose key starts with `prefix` (case-sensitive,
/// as lighttpd's strncmp).
fn first_key_with_prefix<'a>(tree: &'a ConfigTree, prefix: &str) -> Option<&'a Directive> {
    tree.all_directives()
        .map(|(_, d)| d)
        .find(|d| d.key.starts_with(prefix))
}

const DYNAMIC_BACKENDS: [&str; 7] = [
    "mod_ajp13",
    "mod_cgi",
    "mod_fastcgi",
    "mod_proxy",
    "mod_scgi",
    "mod_sockproxy",
    "mod_wstunnel",
];

/// The final module order of section 7: duplicates removed, implicit
/// modules added or removed, mod_compress renamed.
pub fn module_list(tree: &ConfigTree) -> Vec<String> {
    module_list_checked(tree).0
}

/// The user's `server.modules` list, if it is a valid list.
fn configured_modules(tree: &ConfigTree) -> (Vec<String>, Option<Span>) {
    match global_value(tree, "server.modules") {
        Some(d) => (
            get_list("server.modules", &d.value).unwrap_or_default(),
            Some(d.span),
        ),
        None => (Vec::new(), None),
    }
}

/// [`module_list`] plus the warnings lighttpd prints while computing it.
pub fn module_list_checked(tree: &ConfigTree) -> (Vec<String>, Vec<Diagnostic>) {
    let (listed, span) = configured_modules(tree);
    let mut mods: Vec<String> = Vec::new();
    for m in listed {
        if !mods.contains(&m) {
            mods.push(m);
        }
    }
    let mut warnings = Vec::new();
    if global_bool(tree, "server.compat-module-load").unwrap_or(true) {
        compat_module_load(tree, &mut mods, span, &mut warnings);
    }
    deprecate_mod_compress(tree, &mut mods, span, &mut warnings);
    (mods, warnings)
}

fn has(mods: &[String], name: &str) -> bool {
    mods.iter().any(|m| m == name)
}

fn compat_module_load(
    tree: &ConfigTree,
    mods: &mut Vec<String>,
    span: Option<Span>,
    warnings: &mut Vec<Diagnostic>,
) {
    let mut contains_auth = false;
    let mut prepend_auth = false;
    let mut vhostdb_listed = false;
    let mut prepend_vhostdb = false;
    let mut dyn_name: Option<&str> = None;
    for m in mods.iter() {
        if m.starts_with("mod_auth") {
            if m == "mod_auth" {
                if !contains_auth {
                    contains_auth = true;
                    if let Some(dn) = dyn_name {
                        warnings.push(Diagnostic::warning(
                            format!("Warning: mod_auth should be listed in server.modules before dynamic backends such as {dn}"),
                            span,
                        ));
                    }
                }
            } else if !contains_auth {
                prepend_auth = true;
            }
        } else if m.starts_with("mod_vhostdb") {
            if m == "mod_vhostdb" {
                vhostdb_listed = true;
            } else if !vhostdb_listed {
                prepend_vhostdb = true;
            }
        } else if dyn_name.is_none() && DYNAMIC_BACKENDS.iter().any(|b| m.starts_with(b)) {
            dyn_name = Some(m);
        }
    }
    let index_on = any_enabled(tree, "index-file.names") || any_enabled(tree, "server.indexfiles");
    let dirlist_on =
        any_enabled(tree, "dir-listing.activate") || any_enabled(tree, "server.dir-listing");
    if !index_on {
        mods.retain(|m| m != "mod_indexfile");
    } else if !has(mods, "mod_indexfile") {
        mods.insert(0, "mod_indexfile".to_string());
    }
    if !dirlist_on {
        mods.retain(|m| m != "mod_dirlisting");
    } else if !has(mods, "mod_dirlisting") {
        mods.push("mod_dirlisting".to_string());
    }
    if !has(mods, "mod_staticfile") {
        mods.push("mod_staticfile".to_string());
    }
    let tls_listed = TLS_MODULES.iter().any(|t| has(mods, t));
    let first_ssl = first_key_with_prefix(tree, "ssl.").filter(|_| !tls_listed);
    if let Some(d) = first_ssl {
        mods.push("mod_openssl".to_string());
        warnings.push(Diagnostic::warning(
            "Warning: please add \"mod_openssl\" to server.modules list in lighttpd.conf.  A future release of lighttpd 1.4.x *will not* automatically load mod_openssl and lighttpd *will not* use SSL/TLS where your lighttpd.conf contains ssl.* directives",
            Some(d.span),
        ).with_help("add \"mod_openssl\" to server.modules"));
    }
    if contains_auth && !has(mods, "mod_authn_file") {
        let backend = ["htdigest", "htpasswd", "plain"]
            .into_iter()
            .find_map(|v| find_value(tree, "auth.backend", v).map(|d| (v, d.span)));
        if let Some((v, at)) = backend {
            mods.push("mod_authn_file".to_string());
            warnings.push(Diagnostic::warning(
                format!("Warning: please add \"mod_authn_file\" to server.modules list in lighttpd.conf.  A future release of lighttpd 1.4.x will not automatically load mod_authn_file and lighttpd will fail to start up since your lighttpd.conf uses auth.backend = \"{v}\"."),
                Some(at),
            ).with_help("add \"mod_authn_file\" to server.modules"));
        }
    }
    if prepend_auth {
        mods.insert(0, "mod_auth".to_string());
    }
    if prepend_vhostdb {
        mods.insert(0, "mod_vhostdb".to_string());
    }
}

fn deprecate_mod_compress(
    tree: &ConfigTree,
    mods: &mut Vec<String>,
    span: Option<Span>,
    warnings: &mut Vec<Diagnostic>,
) {
    let Some(idx) = mods.iter().position(|m| m == "mod_compress") else {
        return;
    };
    let first = first_key_with_prefix(tree, "compress.");
    let has_directive = first.is_some();
    if has_directive {
        warnings.push(Diagnostic::warning(
            "Warning: \"mod_compress\" is DEPRECATED and has been replaced with \"mod_deflate\".  A future release of lighttpd 1.4.x will not contain mod_compress and lighttpd may fail to start up",
            span,
        ).with_help("use mod_deflate and the deflate.* directives"));
    }
    if has(mods, "mod_deflate") || !has_directive {
        mods.retain(|m| m != "mod_compress");
    } else {
        mods[idx] = "mod_deflate".to_string();
    }
}
