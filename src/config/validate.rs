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
//! problem, in the order lighttpd would print them.
//!
//! The typed getters ([`get_bool`], [`get_short`], …) are what modules use
//! to read their values with lighttpd's error texts.

use super::cond::{CondField, CondOp};
use super::core::{build_parseopts, ParseOptsInput};
use super::diagnostic::Diagnostic;
use super::directive::{
    is_module, lookup, owner_loaded, suggest_key, suggest_module, DirectiveInfo, Scope, ValueType,
    DIRECTIVES,
};
use super::tree::{ConfigTree, Context, Directive};
use super::value::{Array, Value};

/// Where lighttpd looks for loadable modules (its `LIBRARY_DIR`).
pub const MODULE_DIR: &str = "/usr/lib/lighttpd";

// ---------------------------------------------------------------------------
// Typed getters (lighttpd src/configfile-glue.c config_plugin_values_init_block)

/// lighttpd's internal type number, printed in "unexpected type" errors.
fn type_number(v: &Value) -> u8 {
    match v {
        Value::Str(_) => 0,
        Value::Array(_) => 1,
        Value::Int(_) => 2,
    }
}

/// `strtol(s, &e, 10)` accepted as a whole: leading whitespace, a sign,
/// digits, nothing after. Saturates like strtol.
fn parse_c_long(s: &str) -> Option<i64> {
    let t = s.trim_start_matches([' ', '\t', '\n', '\x0b', '\x0c', '\r']);
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut n: i64 = 0;
    for b in digits.bytes() {
        n = n.saturating_mul(10).saturating_add(i64::from(b - b'0'));
    }
    Some(if neg { -n } else { n })
}

/// A string directive.
pub fn get_str<'a>(key: &str, v: &'a Value) -> Result<&'a str, String> {
    v.as_str()
        .ok_or_else(|| format!("{key} should have been a string like ... = \"...\""))
}

/// A short (0..65535) directive; integers are truncated mod 65536.
pub fn get_short(key: &str, v: &Value) -> Result<u16, String> {
    match v {
        Value::Int(i) => Ok(*i as u16),
        Value::Str(s) => match parse_c_long(s) {
            Some(l) if (0..=65535).contains(&l) && !s.is_empty() => Ok(l as u16),
            _ => Err(format!("got a string but expected a short: {key} {s}")),
        },
        Value::Array(_) => Err(format!(
            "unexpected type for key: {key} {} expected a short integer, range 0 ... 65535",
            type_number(v)
        )),
    }
}

/// An unsigned 32-bit directive.
pub fn get_int(key: &str, v: &Value) -> Result<u32, String> {
    match v {
        Value::Int(i) => Ok(*i as u32),
        Value::Str(s) => match parse_c_long(s) {
            Some(l) if l >= 0 => Ok(l as u32),
            _ => Err(format!("got a string but expected an integer: {key} {s}")),
        },
        Value::Array(_) => Err(format!(
            "unexpected type for key: {key} {} expected an integer, range 0 ... 4294967295",
            type_number(v)
        )),
    }
}

/// A boolean directive (`enable`/`disable`/… or an integer).
pub fn get_bool(key: &str, v: &Value) -> Result<bool, String> {
    v.as_bool().ok_or_else(|| {
        format!("ERROR: unexpected type for key: {key} (string) \"(enable|disable)\"")
    })
}

/// Any array.
pub fn get_array<'a>(key: &str, v: &'a Value) -> Result<&'a Array, String> {
    v.as_array()
        .ok_or_else(|| format!("{key} should have been a list like {key} = ( \"...\" )"))
}

/// A list of unkeyed strings.
pub fn get_list(key: &str, v: &Value) -> Result<Vec<String>, String> {
    let arr = get_array(key, v)?;
    arr.items
        .iter()
        .map(|(k, v)| match (k, v) {
            (None, Value::Str(s)) => Some(s.clone()),
            _ => None,
        })
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| {
            format!(
                "{key} should have been a list of string values like {key} = ( \"...\", \"...\" )"
            )
        })
}

/// A list of `key => string`.
pub fn get_kvstring(key: &str, v: &Value) -> Result<Vec<(String, String)>, String> {
    let arr = get_array(key, v)?;
    arr.items
        .iter()
        .map(|(k, v)| match (k, v) {
            (Some(k), Value::Str(s)) => Some((k.clone(), s.clone())),
            _ => None,
        })
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| {
            format!(
                "{key} should have been a list of key => string values like {key} = ( \"...\" => \"...\", \"...\" => \"...\" )"
            )
        })
}

/// A list of `key => anything`.
pub fn get_kvany<'a>(key: &str, v: &'a Value) -> Result<&'a Array, String> {
    let arr = get_array(key, v)?;
    if arr.items.iter().all(|(k, _)| k.is_some()) {
        Ok(arr)
    } else {
        Err(format!(
            "{key} should have been a list of key => values like {key} = ( \"...\" => \"...\", \"...\" => \"...\" )"
        ))
    }
}

/// A list of `key => list`.
pub fn get_kvarray<'a>(key: &str, v: &'a Value) -> Result<&'a Array, String> {
    let arr = get_array(key, v)?;
    if arr
        .items
        .iter()
        .all(|(k, v)| k.is_some() && matches!(v, Value::Array(_)))
    {
        Ok(arr)
    } else {
        Err(format!(
            "{key} should have been a list of key => list like {key} = ( \"...\" => ( \"...\" => \"...\" ) )"
        ))
    }
}

/// Check a value against a directive's type; the error is lighttpd's text.
pub fn check_type(info: &DirectiveInfo, v: &Value) -> Result<(), String> {
    let key = info.name;
    match info.ty {
        ValueType::Str => get_str(key, v).map(drop),
        ValueType::Short => get_short(key, v).map(drop),
        ValueType::Int => get_int(key, v).map(drop),
        ValueType::Bool => get_bool(key, v).map(drop),
        ValueType::List => get_list(key, v).map(drop),
        ValueType::KvString => get_kvstring(key, v).map(drop),
        ValueType::KvAny => get_kvany(key, v).map(drop),
        ValueType::KvArray => get_kvarray(key, v).map(drop),
        ValueType::Array => get_array(key, v).map(drop),
    }
}

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
fn check_group(tree: &ConfigTree, keys: &[&DirectiveInfo], out: &mut Vec<Diagnostic>) {
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

fn keys_where(pred: impl Fn(&DirectiveInfo) -> bool) -> Vec<&'static DirectiveInfo> {
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
        phases.extend(preflight_phases(tree));
    }
    until_first_error(phases)
}

/// What lighttpd prints after a successful syntax check for `-tt` or a
/// start ([`preflight`], stopping after the first failing phase).
pub fn lighttpd_preflight(tree: &ConfigTree) -> Vec<Diagnostic> {
    until_first_error(preflight_phases(tree))
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

// ---------------------------------------------------------------------------
// server.modules (lighttpd configfile.c config_compat_module_load)

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
fn configured_modules(tree: &ConfigTree) -> (Vec<String>, Option<super::source::Span>) {
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
    span: Option<super::source::Span>,
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
    let tls_listed = super::directive::TLS_MODULES.iter().any(|t| has(mods, t));
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
    span: Option<super::source::Span>,
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

// ---------------------------------------------------------------------------
// -tt / startup

/// What `-tt` and a real start check beyond [`syntax_check`].
pub fn preflight(tree: &ConfigTree) -> Vec<Diagnostic> {
    preflight_phases(tree).concat()
}

/// `config_set_defaults`, `plugins_load`, `network_init`, each module's
/// `set_defaults`, `config_finalize`.
fn preflight_phases(tree: &ConfigTree) -> Vec<Vec<Diagnostic>> {
    let mut phases = Vec::new();
    let mut defaults = Vec::new();
    check_set_defaults(tree, &mut defaults);
    phases.push(defaults);
    let modules = module_list(tree);
    let mut loading = Vec::new();
    check_modules_loadable(tree, &modules, &mut loading);
    phases.push(loading);
    if modules.iter().any(|m| is_tls(m)) {
        phases.push(tls_phase(tree));
    }
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
fn tls_phase(tree: &ConfigTree) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let main_keys = keys_where(|d| {
        d.module == "mod_openssl" && (d.name == "ssl.pemfile" || !TLS_SOCKET_KEYS.contains(&d.name))
    });
    check_group(tree, &main_keys, &mut out);
    if !out.iter().any(Diagnostic::is_error) {
        let socket_keys: Vec<&DirectiveInfo> =
            TLS_SOCKET_KEYS.iter().filter_map(|k| lookup(k)).collect();
        check_group(tree, &socket_keys, &mut out);
        if !out.iter().any(Diagnostic::is_error) {
            tls_socket_scope_notes(tree, &mut out);
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
fn deprecated_aliases(tree: &ConfigTree, keys: &[&DirectiveInfo], out: &mut Vec<Diagnostic>) {
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
        if let Some(s) = super::directive::suggest(v, NETWORK_BACKENDS) {
            diag = diag.with_help(format!("did you mean `{s}`?"));
        }
        out.push(diag);
    }
}

fn is_tls(m: &str) -> bool {
    super::directive::TLS_MODULES.contains(&m)
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
            if let Some(s) = super::directive::suggest(v, HANDLERS) {
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

/// lighttpd `plugins_load`: every module must exist.
fn check_modules_loadable(tree: &ConfigTree, modules: &[String], out: &mut Vec<Diagnostic>) {
    let span = global_value(tree, "server.modules").map(|d| d.span);
    let mut failed = false;
    for m in modules.iter().filter(|m| !is_module(m)) {
        let path = format!("{MODULE_DIR}/{m}.so");
        let mut d = Diagnostic::error(
            format!("dlopen() failed for: {path} {path}: cannot open shared object file: No such file or directory"),
            span,
        );
        if let Some(s) = suggest_module(m) {
            d = d.with_help(format!("did you mean `{s}`?"));
        } else if matches!(
            m.as_str(),
            "mod_secdownload" | "mod_evasive" | "mod_uploadprogress" | "mod_usertrack"
        ) {
            d = d.with_help(format!("{m} was removed in lighttpd 1.4.68"));
        }
        out.push(d);
        failed = true;
    }
    if failed {
        out.push(Diagnostic::error("loading plugins finally failed", None));
    }
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
            None => match suggest_key(key) {
                Some(s) => format!("did you mean `{s}`?"),
                None => "no module of lighttpd 1.4.69 knows this key".to_string(),
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

pub mod listen;

#[cfg(test)]
pub(crate) mod testing;

#[cfg(test)]
mod tests;
