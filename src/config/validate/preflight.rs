//! What `-tt` and a real start check after the syntax check, phase by
//! phase as lighttpd (server.c): `config_set_defaults`, `plugins_load`,
//! the TLS module's defaults at plugin init, `network_init`, the account
//! checks of a root start, each module's `set_defaults`, `config_finalize`.

use super::modules::module_list;
use super::{check_group, get_list, global_value, is_network_key, keys_where, listen};
use crate::config::cond::CondField;
use crate::config::diagnostic::Diagnostic;
use crate::config::directive::{
    is_module, lookup, owner_loaded, removed_module_of_key, suggest, suggest_key, suggest_module,
    DirectiveInfo, REMOVED_MODULES, TLS_MODULES,
};
use crate::config::tree::ConfigTree;

use super::MODULE_DIR;

/// What the `-tt` phases need from the module loader (lighttpd's
/// `plugins_load` and each plugin's `set_defaults`).
pub trait Plugins {
    /// Can module `name` be loaded?
    fn loadable(&self, name: &str) -> bool;
    /// The directory a failed load names (`-m`).
    fn module_dir(&self) -> &str;
    /// Construct module `name` from the configuration: what it reports
    /// beyond the directive types (regexes, enumerations, backend specs).
    fn set_defaults(&self, name: &str) -> Vec<Diagnostic>;
}

/// The modules of lighttpd 1.4.69 as installed in [`MODULE_DIR`], with
/// only the directive types checked (what `check` and [`preflight`] use).
pub struct Lighttpd1469;

impl Plugins for Lighttpd1469 {
    fn loadable(&self, name: &str) -> bool {
        is_module(name)
    }
    fn module_dir(&self) -> &str {
        MODULE_DIR
    }
    fn set_defaults(&self, _name: &str) -> Vec<Diagnostic> {
        Vec::new()
    }
}

/// What `-tt` and a real start check beyond [`syntax_check`].
pub fn preflight(tree: &ConfigTree) -> Vec<Diagnostic> {
    preflight_with(tree, &Lighttpd1469)
}

/// [`preflight`] with the modules `plugins` loads and constructs.
pub fn preflight_with(tree: &ConfigTree, plugins: &dyn Plugins) -> Vec<Diagnostic> {
    preflight_phases(tree, plugins).concat()
}

/// `config_set_defaults`, `plugins_load`, `network_init`, each module's
/// `set_defaults`, `config_finalize`.
pub(super) fn preflight_phases(tree: &ConfigTree, plugins: &dyn Plugins) -> Vec<Vec<Diagnostic>> {
    let mut phases = Vec::new();
    let mut defaults = Vec::new();
    check_set_defaults(tree, &mut defaults);
    phases.push(defaults);
    let modules = module_list(tree);
    phases.extend(check_modules_loadable(tree, &modules, plugins));
    if let Some(tls) = modules.iter().find(|m| is_tls(m)) {
        phases.push(tls_phase(tree, tls, plugins));
    }
    phases.push(indexfile_order(tree, &modules));
    let mut network = Vec::new();
    check_network_backend(tree, &mut network);
    let net_keys = keys_where(|d| d.name == "ssl.engine" || is_network_key(d));
    check_group(tree, &net_keys, &mut network);
    listen::check_listeners(tree, &mut network);
    phases.push(network);
    if nix::unistd::geteuid().is_root() {
        let mut privileges = Vec::new();
        check_privileges(tree, &mut privileges);
        phases.push(privileges);
    }
    for m in modules.iter().filter(|m| !is_tls(m)) {
        let keys = keys_where(|d| d.module == m.as_str());
        let mut module = Vec::new();
        check_group(tree, &keys, &mut module);
        if !module.iter().any(Diagnostic::is_error) {
            deprecated_aliases(tree, &keys, &mut module);
            module.extend(plugins.set_defaults(m));
        }
        if module.iter().any(Diagnostic::is_error) {
            module.push(Diagnostic::error(
                "Configuration of plugins failed. Going down.",
                None,
            ));
        }
        phases.push(module);
    }
    let mut unknown = Vec::new();
    check_unknown_keys(tree, &modules, &mut unknown);
    phases.push(unknown);
    phases
}

/// The modules of lighttpd 1.4.69 that answer requests from both of the
/// subrequest hooks (`handle_subrequest_start` and `handle_subrequest`).
const SUBREQUEST_HANDLERS: [&str; 5] = [
    "mod_cgi",
    "mod_dirlisting",
    "mod_fastcgi",
    "mod_scgi",
    "mod_ssi",
];

/// lighttpd server.c after the plugins' init: mod_indexfile listed after
/// such a handler comes too late for the requests that handler takes.
fn indexfile_order(tree: &ConfigTree, modules: &[String]) -> Vec<Diagnostic> {
    let mut handler = None;
    for m in modules {
        if m == "mod_indexfile" {
            let span = global_value(tree, "server.modules").map(|d| d.span);
            return handler
                .map(|h: &String| {
                    Diagnostic::warning(
                        format!("Warning: mod_indexfile should be listed in server.modules prior to {h}"),
                        span,
                    )
                    .with_help(format!("move \"mod_indexfile\" before \"{h}\""))
                })
                .into_iter()
                .collect();
        }
        if handler.is_none() && SUBREQUEST_HANDLERS.contains(&m.as_str()) {
            handler = Some(m);
        }
    }
    Vec::new()
}

/// The keys mod_openssl reads per listener (`set_defaults_sockets`).
const TLS_SOCKET_KEYS: [&str; 5] = [
    "ssl.engine",
    "ssl.cipher-list",
    "ssl.openssl.ssl-conf-cmd",
    "ssl.pemfile",
    "ssl.stek-file",
];

/// The TLS module's defaults, run while plugins are initialised (before
/// the listeners): its connection keys, then its per-socket keys, which
/// only count in the global block or a `$SERVER["socket"]` block.
fn tls_phase(tree: &ConfigTree, module: &str, plugins: &dyn Plugins) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let main_keys = keys_where(|d| {
        d.module == "mod_openssl" && (d.name == "ssl.pemfile" || !TLS_SOCKET_KEYS.contains(&d.name))
    });
    check_group(tree, &main_keys, &mut out);
    if !out.iter().any(Diagnostic::is_error) {
        let socket_keys: Vec<DirectiveInfo> =
            TLS_SOCKET_KEYS.iter().filter_map(|k| lookup(k)).collect();
        check_group(tree, &socket_keys, &mut out);
        if !out.iter().any(Diagnostic::is_error) {
            tls_socket_scope_notes(tree, &mut out);
            out.extend(plugins.set_defaults(module));
        }
    }
    if out.iter().any(Diagnostic::is_error) {
        out.push(Diagnostic::error(
            "Initialization of plugins failed. Going down.",
            None,
        ));
    }
    out
}

fn tls_socket_scope_notes(tree: &ConfigTree, out: &mut Vec<Diagnostic>) {
    for ctx in tree.contexts.iter().skip(1) {
        let socket = ctx
            .cond
            .as_ref()
            .is_some_and(|c| c.field == CondField::ServerSocket);
        if socket {
            continue;
        }
        for key in TLS_SOCKET_KEYS.iter().filter(|k| **k != "ssl.pemfile") {
            if let Some(d) = ctx.get(key) {
                out.push(Diagnostic::warning(
                    format!("{key} is valid only in global scope or $SERVER[\"socket\"] condition"),
                    Some(d.span),
                ));
            }
        }
    }
}

/// mod_deflate's notes for the old `compress.*` names (after its types
/// were checked).
fn deprecated_aliases(tree: &ConfigTree, keys: &[DirectiveInfo], out: &mut Vec<Diagnostic>) {
    for ctx in &tree.contexts {
        for info in keys.iter().filter(|i| i.name.starts_with("compress.")) {
            if let (Some(d), Some(new)) = (ctx.get(info.name), info.alias_of) {
                out.push(Diagnostic::warning(
                    format!("DEPRECATED: {} replaced with {new}", info.name),
                    Some(d.span),
                ));
            }
        }
    }
}

/// The accounts lighttpd switches to when started as root (server.c):
/// they must exist and not be root.
pub fn check_privileges(tree: &ConfigTree, out: &mut Vec<Diagnostic>) {
    use nix::unistd::{Gid, Group, User};
    let named = |key: &str| {
        global_value(tree, key).and_then(|d| {
            d.value
                .as_str()
                .filter(|v| !v.is_empty())
                .map(|v| (v.to_string(), d.span))
        })
    };
    let mut gid = None;
    if let Some((name, span)) = named("server.groupname") {
        match Group::from_name(&name) {
            Ok(Some(g)) => gid = Some(g.gid),
            _ => {
                out.push(Diagnostic::error(
                    format!("can't find groupname {name}"),
                    Some(span),
                ));
                return;
            }
        }
    }
    if let Some((name, span)) = named("server.username") {
        let user = match User::from_name(&name) {
            Ok(Some(u)) => u,
            _ => {
                out.push(Diagnostic::error(
                    format!("can't find username {name}"),
                    Some(span),
                ));
                return;
            }
        };
        if user.uid.is_root() {
            out.push(Diagnostic::error(
                "I will not set uid to 0.  Perhaps you should comment out server.username in lighttpd.conf\\n",
                Some(span),
            ));
            return;
        }
        if gid.is_none() {
            match Group::from_gid(user.gid) {
                Ok(Some(g)) => gid = Some(g.gid),
                _ => {
                    out.push(Diagnostic::error(
                        format!("can't find group id {}", user.gid),
                        Some(span),
                    ));
                    return;
                }
            }
        }
    }
    if gid == Some(Gid::from_raw(0)) {
        let span = named("server.groupname")
            .or_else(|| named("server.username"))
            .map(|n| n.1);
        out.push(Diagnostic::error(
            "I will not set gid to 0.  Perhaps you should comment out server.groupname in lighttpd.conf\\n",
            span,
        ));
    }
}

/// The `server.network-backend` names lighttpd 1.4.69 accepts.
pub const NETWORK_BACKENDS: [&str; 6] = [
    "sendfile",
    "linux-sendfile",
    "freebsd-sendfile",
    "solaris-sendfilev",
    "writev",
    "write",
];

/// lighttpd `network_write_init`.
fn check_network_backend(tree: &ConfigTree, out: &mut Vec<Diagnostic>) {
    let Some(d) = global_value(tree, "server.network-backend") else {
        return;
    };
    let Some(v) = d.value.as_str().filter(|v| !v.is_empty()) else {
        return;
    };
    if !NETWORK_BACKENDS.contains(&v) {
        let mut diag = Diagnostic::error(
            format!("server.network-backend has an unknown value: {v}"),
            Some(d.span),
        );
        if let Some(s) = suggest(v, NETWORK_BACKENDS) {
            diag = diag.with_help(format!("did you mean `{s}`?"));
        }
        out.push(diag);
    }
}

fn is_tls(m: &str) -> bool {
    TLS_MODULES.contains(&m)
}

/// lighttpd `config_set_defaults`: event handler, chroot, upload dirs,
/// document root.
fn check_set_defaults(tree: &ConfigTree, out: &mut Vec<Diagnostic>) {
    let before = out.len();
    if let Some(d) = global_value(tree, "server.event-handler") {
        let v = d.value.as_str().unwrap_or("");
        const HANDLERS: [&str; 5] = ["linux-sysepoll", "epoll", "poll", "select", "libev"];
        if !HANDLERS.contains(&v) {
            let mut diag = Diagnostic::error(
                format!("the selected event-handler in unknown or not supported: {v}"),
                Some(d.span),
            );
            if let Some(s) = suggest(v, HANDLERS) {
                diag = diag.with_help(format!("did you mean `{s}`?"));
            }
            out.push(diag);
        }
    }
    check_chroot(tree, out);
    check_upload_dirs(tree, out);
    let root = global_value(tree, "server.document-root");
    let root_text = root.and_then(|d| d.value.as_str()).unwrap_or("");
    if root_text.is_empty() {
        out.push(
            Diagnostic::error("server.document-root is not set", root.map(|d| d.span))
                .with_help("set server.document-root in the global block (not only in conditions)"),
        );
    }
    if out[before..].iter().any(Diagnostic::is_error) {
        out.push(Diagnostic::error("setting default values failed", None));
    }
}

fn check_chroot(tree: &ConfigTree, out: &mut Vec<Diagnostic>) {
    let Some(d) = global_value(tree, "server.chroot") else {
        return;
    };
    let Some(path) = d.value.as_str().filter(|s| !s.trim().is_empty()) else {
        return;
    };
    match std::fs::metadata(path) {
        Err(_) => out.push(Diagnostic::error(
            format!("server.chroot doesn't exist: {path}"),
            Some(d.span),
        )),
        Ok(m) if !m.is_dir() => out.push(Diagnostic::error(
            format!("server.chroot isn't a directory: {path}"),
            Some(d.span),
        )),
        Ok(_) => {}
    }
}

fn check_upload_dirs(tree: &ConfigTree, out: &mut Vec<Diagnostic>) {
    let Some(d) = global_value(tree, "server.upload-dirs") else {
        return;
    };
    let chroot = global_value(tree, "server.chroot")
        .and_then(|c| c.value.as_str())
        .unwrap_or("");
    for dir in get_list("server.upload-dirs", &d.value).unwrap_or_default() {
        let path = if chroot.is_empty() {
            dir.clone()
        } else {
            format!(
                "{}/{}",
                chroot.trim_end_matches('/'),
                dir.trim_start_matches('/')
            )
        };
        match std::fs::metadata(&path) {
            Err(_) => out.push(Diagnostic::warning(
                format!("server.upload-dirs doesn't exist: {path}"),
                Some(d.span),
            )),
            Ok(m) if !m.is_dir() => out.push(Diagnostic::warning(
                format!("server.upload-dirs isn't a directory: {path}"),
                Some(d.span),
            )),
            Ok(_) => {}
        }
    }
}

/// lighttpd `plugins_load`: every module must exist. lighttpd stops at
/// the first missing one (first phase); the others follow in a second
/// phase, for `check`.
fn check_modules_loadable(
    tree: &ConfigTree,
    modules: &[String],
    plugins: &dyn Plugins,
) -> [Vec<Diagnostic>; 2] {
    let span = global_value(tree, "server.modules").map(|d| d.span);
    let dir = plugins.module_dir();
    let mut missing = modules.iter().filter(|m| !plugins.loadable(m)).map(|m| {
        let path = format!("{dir}/{m}.so");
        let d = Diagnostic::error(
            format!("dlopen() failed for: {path} {path}: cannot open shared object file: No such file or directory"),
            span,
        );
        if is_module(m) {
            d.with_help(format!("lighttpd-rs does not implement {m} (yet)"))
        } else if REMOVED_MODULES.iter().any(|(r, _)| r == m) {
            d.with_help(format!("{m} is not part of lighttpd 1.4.69 (removed upstream)"))
        } else if let Some(s) = suggest_module(m) {
            d.with_help(format!("did you mean `{s}`?"))
        } else {
            d
        }
    });
    let mut first = Vec::new();
    if let Some(d) = missing.next() {
        first.push(d);
        first.push(Diagnostic::error("loading plugins finally failed", None));
    }
    [first, missing.collect()]
}

/// lighttpd `config_finalize`: keys no loaded module reads.
fn check_unknown_keys(tree: &ConfigTree, modules: &[String], out: &mut Vec<Diagnostic>) {
    for (_, d) in tree.all_directives() {
        let key = d.key.as_str();
        if key.starts_with("var.")
            || (key.starts_with("dir-listing.") && key != "dir-listing.activate")
        {
            continue;
        }
        let help = match lookup(key) {
            Some(info) if owner_loaded(info.module, modules) => continue,
            Some(info) => format!(
                "{} is read by {}, which is not loaded (add it to server.modules)",
                info.name, info.module
            ),
            None => match (removed_module_of_key(key), suggest_key(key)) {
                (Some(m), _) => format!("{m} is not part of lighttpd 1.4.69 (removed upstream)"),
                (None, Some(s)) => format!("did you mean `{s}`?"),
                (None, None) => "no module of lighttpd 1.4.69 knows this key".to_string(),
            },
        };
        out.push(
            Diagnostic::warning(
                format!("WARNING: unknown config-key: {key} (ignored)"),
                Some(d.span),
            )
            .with_help(help),
        );
    }
}
