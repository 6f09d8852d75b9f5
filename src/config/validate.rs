//! Validation of a [`ConfigTree`] against the directive registry, in
//! lighttpd 1.4.69's phases and with its exact messages:
//!
//! - [`syntax_check`]: what `-p`/`-t` check after parsing (core directive
//!   types, server/socket scope warnings, `server.http-parseopts`,
//!   `server.stat-cache-engine`, the implicit-module warnings);
//! - [`preflight`]: what `-tt` and startup add (document root, event
//!   handler, module loading, listen addresses, module directive types,
//!   unknown keys);
//! - [`module_list`]: the final `server.modules` order (section 7).
//!
//! lighttpd stops at the first failing phase; these functions report every
//! problem, in the order lighttpd would print them ([`lighttpd_messages`] /
//! [`lighttpd_preflight`] stop like lighttpd, for `-t`/`-tt`).
//!
//! Parts: `typed` (the getters [`get_bool`], [`get_short`], … modules use
//! to read values with lighttpd's error texts), `modules` (the module
//! list), `preflight` (the `-tt` phases), `listen` (listen addresses).

use super::cond::{CondField, CondOp};
use super::core::{build_parseopts, ParseOptsInput};
use super::diagnostic::Diagnostic;
use super::directive::{DirectiveInfo, Scope, DIRECTIVES};
use super::tree::{ConfigTree, Context, Directive};

/// Where lighttpd looks for loadable modules (its `LIBRARY_DIR`).
pub const MODULE_DIR: &str = "/usr/lib/lighttpd";

// ---------------------------------------------------------------------------
// Directive groups, as lighttpd checks them

/// Core keys lighttpd's `network_init` reads (checked at `-tt` only).
const NETWORK_KEYS: [&str; 7] = [
    "server.listen-backlog",
    "server.socket-perms",
    "server.bsd-accept-filter",
    "server.defer-accept",
    "server.use-ipv6",
    "server.set-v6only",
    "server.v4mapped",
];

fn is_network_key(info: &DirectiveInfo) -> bool {
    NETWORK_KEYS.contains(&info.name)
}

/// Is a context a `$SERVER["socket"] == "..."` block?
fn is_socket_eq(ctx: &Context) -> bool {
    ctx.cond
        .as_ref()
        .is_some_and(|c| c.field == CondField::ServerSocket && c.op == CondOp::Eq)
}

/// Scope warnings then type errors for one group of keys (one lighttpd
/// `config_plugin_values_init` call).
fn check_group(tree: &ConfigTree, keys: &[DirectiveInfo], out: &mut Vec<Diagnostic>) {
    for ctx in tree.contexts.iter().skip(1) {
        for info in keys {
            if let Some(d) = ctx.get(info.name) {
                scope_warning(info, ctx, d, out);
            }
        }
    }
    for ctx in &tree.contexts {
        for info in keys {
            if let Some(d) = ctx.get(info.name) {
                if let Err(msg) = check_type(info, &d.value) {
                    out.push(Diagnostic::error(msg, Some(d.span)));
                }
            }
        }
    }
}

fn scope_warning(info: &DirectiveInfo, ctx: &Context, d: &Directive, out: &mut Vec<Diagnostic>) {
    let key = info.name;
    match info.scope {
        Scope::Server => out.push(
            Diagnostic::warning(
                format!("DEPRECATED: do not set server options in conditionals, variable: {key}"),
                Some(d.span),
            )
            .with_help("server options only take effect in the global block; this value is ignored"),
        ),
        Scope::Socket if !is_socket_eq(ctx) => out.push(
            Diagnostic::warning(
                format!(
                    "WARNING: {key} must be in global scope or $SERVER[\"socket\"] with '==', or else is ignored"
                ),
                Some(d.span),
            ),
        ),
        _ => {}
    }
}

fn keys_where(pred: impl Fn(&DirectiveInfo) -> bool) -> Vec<DirectiveInfo> {
    DIRECTIVES.iter().filter(|d| pred(d)).collect()
}

// ---------------------------------------------------------------------------
// -p / -t

/// What lighttpd checks after parsing (`-p`, `-t`, and every start).
pub fn syntax_check(tree: &ConfigTree) -> Vec<Diagnostic> {
    syntax_phases(tree).concat()
}

/// Exactly what lighttpd prints for `-t` (`tt` false) or `-tt`: the
/// phases in order, stopping after the first one with an error.
pub fn lighttpd_messages(tree: &ConfigTree, tt: bool) -> Vec<Diagnostic> {
    let mut phases = syntax_phases(tree);
    if tt {
        phases.extend(preflight_phases(tree, &Lighttpd1469));
    }
    until_first_error(phases)
}

/// What lighttpd prints after a successful syntax check for `-tt` or a
/// start ([`preflight`] with the modules `plugins` loads and constructs,
/// stopping after the first failing phase).
pub fn lighttpd_preflight(tree: &ConfigTree, plugins: &dyn Plugins) -> Vec<Diagnostic> {
    until_first_error(preflight_phases(tree, plugins))
}

fn until_first_error(phases: Vec<Vec<Diagnostic>>) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for phase in phases {
        let failed = phase.iter().any(Diagnostic::is_error);
        out.extend(phase);
        if failed {
            break;
        }
    }
    out
}

/// `config_insert_srvconf` (types, then processing) and `config_insert`.
fn syntax_phases(tree: &ConfigTree) -> Vec<Vec<Diagnostic>> {
    // config_insert_srvconf: server-scope core keys and ssl.engine
    let srv_keys =
        keys_where(|d| d.module == "core" && d.scope != Scope::Connection && !is_network_key(d));
    let mut srv_types = Vec::new();
    check_group(tree, &srv_keys, &mut srv_types);
    let mut srv_processing = Vec::new();
    // (lighttpd stops after type errors; checking the well-typed values
    // anyway lets `check` report every problem)
    check_parseopts(tree, &mut srv_processing);
    check_stat_cache_engine(tree, &mut srv_processing);
    srv_processing.extend(module_list_checked(tree).1);
    // config_insert: connection-scope core keys
    let conn_keys = keys_where(|d| d.module == "core" && d.scope == Scope::Connection);
    let mut conn_types = Vec::new();
    check_group(tree, &conn_keys, &mut conn_types);
    vec![srv_types, srv_processing, conn_types]
}

fn global_value<'a>(tree: &'a ConfigTree, key: &str) -> Option<&'a Directive> {
    tree.global().get(key)
}

fn global_bool(tree: &ConfigTree, key: &str) -> Option<bool> {
    global_value(tree, key).and_then(|d| d.value.as_bool())
}

fn check_parseopts(tree: &ConfigTree, out: &mut Vec<Diagnostic>) {
    let opts = global_value(tree, "server.http-parseopts");
    if opts.is_some_and(|d| get_kvstring("server.http-parseopts", &d.value).is_err()) {
        return;
    }
    let input = ParseOptsInput {
        parseopts: opts.and_then(|d| d.value.as_array()),
        header_strict: global_bool(tree, "server.http-parseopt-header-strict"),
        host_strict: global_bool(tree, "server.http-parseopt-host-strict"),
        host_normalize: global_bool(tree, "server.http-parseopt-host-normalize"),
    };
    let span = opts.map(|d| d.span);
    for msg in build_parseopts(&input).1 {
        let d = Diagnostic::error(msg, span);
        let d = match d
            .message
            .strip_prefix("unrecognized key for server.http-parseopts: ")
        {
            Some(k) => match super::directive::suggest(k, super::core::PARSEOPT_KEYS) {
                Some(s) => d.clone().with_help(format!("did you mean `{s}`?")),
                None => d,
            },
            None => d,
        };
        out.push(d);
    }
}

/// The `server.stat-cache-engine` values lighttpd 1.4.69 on Linux accepts.
pub const STAT_CACHE_ENGINES: [&str; 6] = ["", "simple", "inotify", "fam", "disable", "none"];

fn check_stat_cache_engine(tree: &ConfigTree, out: &mut Vec<Diagnostic>) {
    let Some(d) = global_value(tree, "server.stat-cache-engine") else {
        return;
    };
    let Some(v) = d.value.as_str() else { return };
    if !STAT_CACHE_ENGINES.contains(&v.trim_matches([' ', '\t', '\r', '\n'])) {
        out.push(Diagnostic::error(
            format!(
                "server.stat-cache-engine can be one of \"disable\", \"simple\", \"inotify\", \"fam\", but not: {v}"
            ),
            Some(d.span),
        ));
    }
}

pub mod listen;
mod modules;
mod preflight;
mod typed;

pub use modules::{module_list, module_list_checked};
use preflight::preflight_phases;
pub use preflight::{
    check_privileges, preflight, preflight_with, Lighttpd1469, Plugins, NETWORK_BACKENDS,
};
pub use typed::*;

#[cfg(test)]
pub(crate) mod testing;

#[cfg(test)]
mod tests;
