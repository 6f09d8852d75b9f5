//! Typed core configuration: `server.http-parseopts` ([`ParseOpts`]), the
//! server/socket-scope settings ([`ServerConf`]) and the connection-scope
//! settings resolved per request ([`CoreConf`]), compiled from a
//! [`ConfigTree`](super::tree::ConfigTree).
//!
//! Mirrors lighttpd 1.4.69 `configfile.c` (`config_insert_srvconf`,
//! `config_insert`, `config_http_parseopts`).

use std::rc::Rc;

use super::diagnostic::Diagnostic;
use super::scoped::{CondTree, Scoped};
use super::tree::ConfigTree;
use super::value::Array;

mod conn;
mod server;

pub use conn::{compile_core, CoreConf, CoreItem, DebugFlags, DirListingConf, DEFAULT_SERVER_TAG};
pub use server::{compile_server, Listener, ServerConf, SocketConf};

/// A configuration compiled for serving.
#[derive(Debug, Clone)]
pub struct Compiled {
    pub server: ServerConf,
    /// Connection-scope core settings, resolved per request.
    pub core: Scoped<CoreConf>,
    /// The final module order (also in `server.modules`).
    pub modules: Vec<String>,
    /// The condition blocks, for each request's `CondCache`.
    pub conds: Rc<CondTree>,
}

/// Compile the core configuration of a tree. Diagnostics (warnings, and
/// checks that do not affect the typed values) come from
/// `validate::syntax_check` / `validate::preflight`, which callers run first.
pub fn compile(tree: &ConfigTree) -> Result<Compiled, Vec<Diagnostic>> {
    let modules = super::validate::module_list(tree);
    let server = compile_server(tree, modules.clone());
    let core = compile_core(tree);
    match (server, core) {
        (Ok(server), Ok(core)) => Ok(Compiled {
            server,
            core,
            modules,
            conds: Rc::new(CondTree::new(tree)),
        }),
        (server, core) => {
            let mut errors = server.err().unwrap_or_default();
            errors.extend(core.err().unwrap_or_default());
            Err(errors)
        }
    }
}

/// `server.http-parseopts`: the effective HTTP parsing / URL normalisation
/// flags (lighttpd's `HTTP_PARSEOPT_*` bits), one bool per option.
///
/// `Default` gives lighttpd 1.4.69's effective defaults. `host_strict`
/// implies `host_normalize` at request time, as in lighttpd (configfile.c);
/// `host_normalize` holds the configured value. When any url option is on,
/// `url_normalize` is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseOpts {
    /// `header-strict`: strict header character checks.
    pub header_strict: bool,
    /// `host-strict`: strict Host syntax (implies host-normalize).
    pub host_strict: bool,
    /// `host-normalize`: normalise Host (numeric IP, default port).
    pub host_normalize: bool,
    /// `method-get-body`: allow a request body with GET.
    pub method_get_body: bool,
    /// `url-normalize`: master switch of every `url_*` option.
    pub url_normalize: bool,
    /// `url-normalize-unreserved`: decode %-encoded unreserved chars.
    pub url_normalize_unreserved: bool,
    /// `url-normalize-required`: encode everything not required to stay.
    pub url_normalize_required: bool,
    /// `url-ctrls-reject`: 400 for control characters.
    pub url_ctrls_reject: bool,
    /// `url-path-backslash-trans`: `\` → `/`.
    pub url_path_backslash_trans: bool,
    /// `url-path-2f-decode`: decode `%2F` in the path.
    pub url_path_2f_decode: bool,
    /// `url-path-2f-reject`: 400 on `%2F` in the path.
    pub url_path_2f_reject: bool,
    /// `url-path-dotseg-remove`: remove `.`/`..` segments (and `//`).
    pub url_path_dotseg_remove: bool,
    /// `url-path-dotseg-reject`: 400 on dot segments.
    pub url_path_dotseg_reject: bool,
    /// `url-query-20-plus`: `%20` → `+` in the query string.
    pub url_query_20_plus: bool,
    /// `url-invalid-utf8-reject`: 400 on invalid UTF-8 in the url.
    pub url_invalid_utf8_reject: bool,
}

impl Default for ParseOpts {
    /// lighttpd 1.4.69's defaults (`config_init`, `config_insert`).
    fn default() -> ParseOpts {
        ParseOpts {
            header_strict: true,
            host_strict: true,
            host_normalize: false,
            method_get_body: false,
            url_normalize: true,
            url_normalize_unreserved: true,
            url_normalize_required: false,
            url_ctrls_reject: true,
            url_path_backslash_trans: false,
            url_path_2f_decode: true,
            url_path_2f_reject: false,
            url_path_dotseg_remove: true,
            url_path_dotseg_reject: false,
            url_query_20_plus: false,
            url_invalid_utf8_reject: true,
        }
    }
}

/// Every key `server.http-parseopts` accepts.
pub const PARSEOPT_KEYS: [&str; 15] = [
    "header-strict",
    "host-strict",
    "host-normalize",
    "method-get-body",
    "url-normalize",
    "url-normalize-unreserved",
    "url-normalize-required",
    "url-ctrls-reject",
    "url-path-backslash-trans",
    "url-path-2f-decode",
    "url-path-2f-reject",
    "url-path-dotseg-remove",
    "url-path-dotseg-reject",
    "url-query-20-plus",
    "url-invalid-utf8-reject",
];

/// The url options of `server.http-parseopts` (the keys from `url-normalize` on), in lighttpd's order.
const URL_OPTS: &[&str] = PARSEOPT_KEYS.split_at(4).1;

impl ParseOpts {
    fn url_flag(&mut self, name: &str) -> Option<&mut bool> {
        Some(match name {
            "url-normalize" => &mut self.url_normalize,
            "url-normalize-unreserved" => &mut self.url_normalize_unreserved,
            "url-normalize-required" => &mut self.url_normalize_required,
            "url-ctrls-reject" => &mut self.url_ctrls_reject,
            "url-path-backslash-trans" => &mut self.url_path_backslash_trans,
            "url-path-2f-decode" => &mut self.url_path_2f_decode,
            "url-path-2f-reject" => &mut self.url_path_2f_reject,
            "url-path-dotseg-remove" => &mut self.url_path_dotseg_remove,
            "url-path-dotseg-reject" => &mut self.url_path_dotseg_reject,
            "url-query-20-plus" => &mut self.url_query_20_plus,
            "url-invalid-utf8-reject" => &mut self.url_invalid_utf8_reject,
            _ => return None,
        })
    }

    fn any_url_opt(&mut self) -> bool {
        URL_OPTS
            .iter()
            .any(|n| self.url_flag(n).is_some_and(|f| *f))
    }

    fn clear_url_opts(&mut self) {
        for &n in URL_OPTS {
            if let Some(f) = self.url_flag(n) {
                *f = false;
            }
        }
    }
}

/// Raw (not yet implied) header/host options, as lighttpd keeps them in
/// `srvconf` until the end of config processing.
#[derive(Debug, Clone, Copy)]
struct HostOpts {
    header_strict: bool,
    host_strict: bool,
    host_normalize: bool,
    method_get_body: bool,
}

/// The global-block inputs of `server.http-parseopts` processing.
#[derive(Debug, Clone, Default)]
pub struct ParseOptsInput<'a> {
    /// `server.http-parseopts` (already type-checked as kvstring).
    pub parseopts: Option<&'a Array>,
    /// `server.http-parseopt-header-strict`
    pub header_strict: Option<bool>,
    /// `server.http-parseopt-host-strict`
    pub host_strict: Option<bool>,
    /// `server.http-parseopt-host-normalize`
    pub host_normalize: Option<bool>,
}

/// Compute the effective [`ParseOpts`] as lighttpd does; the error list holds
/// lighttpd's messages (each fatal).
pub fn build_parseopts(input: &ParseOptsInput) -> (ParseOpts, Vec<String>) {
    let mut opts = ParseOpts::default();
    let mut host = HostOpts {
        header_strict: true,
        host_strict: true,
        host_normalize: false,
        method_get_body: false,
    };
    let mut errors = Vec::new();
    if let Some(arr) = input.parseopts {
        apply_parseopts_array(arr, &mut opts, &mut host, &mut errors);
    }
    // The legacy keys come later in lighttpd's key table, so they win.
    host.header_strict = input.header_strict.unwrap_or(host.header_strict);
    host.host_strict = input.host_strict.unwrap_or(host.host_strict);
    host.host_normalize = input.host_normalize.unwrap_or(host.host_normalize);
    opts.header_strict = host.header_strict;
    opts.host_strict = host.host_strict;
    opts.host_normalize = host.host_normalize;
    opts.method_get_body = host.method_get_body;
    (opts, errors)
}

fn apply_parseopts_array(
    arr: &Array,
    opts: &mut ParseOpts,
    host: &mut HostOpts,
    errors: &mut Vec<String>,
) {
    let mut decode_2f = true;
    for (key, value) in &arr.items {
        let key = key.as_deref().unwrap_or("");
        // lighttpd treats an unrecognised value as "true" after reporting it.
        let val = value.as_bool().unwrap_or_else(|| {
            let shown = value.as_str().unwrap_or("");
            errors.push(format!(
                "unrecognized value for server.http-parseopts: {key} => {shown} (expect \"[enable|disable]\")"
            ));
            true
        });
        match key {
            "header-strict" => host.header_strict = val,
            "host-strict" => host.host_strict = val,
            "host-normalize" => host.host_normalize = val,
            "method-get-body" => host.method_get_body = val,
            _ => match opts.url_flag(key) {
                None => errors.push(format!("unrecognized key for server.http-parseopts: {key}")),
                Some(flag) => {
                    *flag = val;
                    if !val && key == "url-normalize" {
                        // 1.4.69 stops processing the list here.
                        opts.clear_url_opts();
                        return;
                    }
                    if !val && key == "url-path-2f-decode" {
                        decode_2f = false;
                    }
                }
            },
        }
    }
    finish_url_opts(opts, decode_2f, errors);
}

fn finish_url_opts(opts: &mut ParseOpts, decode_2f: bool, errors: &mut Vec<String>) {
    if !opts.any_url_opt() {
        return;
    }
    opts.url_normalize = true;
    if opts.url_path_2f_decode && opts.url_path_2f_reject {
        errors.push(
            "conflicting options in server.http-parseopts:url-path-2f-decode, url-path-2f-reject"
                .to_string(),
        );
    }
    if opts.url_path_dotseg_remove && opts.url_path_dotseg_reject {
        errors.push(
            "conflicting options in server.http-parseopts:url-path-dotseg-remove, url-path-dotseg-reject"
                .to_string(),
        );
    }
    if !opts.url_normalize_unreserved && !opts.url_normalize_required {
        opts.url_normalize_unreserved = true;
        opts.url_invalid_utf8_reject = true;
        if decode_2f && !opts.url_path_2f_reject {
            opts.url_path_2f_decode = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::value::Value;

    fn kv_array(pairs: &[(&str, &str)]) -> Array {
        Array {
            items: pairs
                .iter()
                .map(|(k, v)| (Some((*k).to_string()), Value::Str((*v).to_string())))
                .collect(),
        }
    }

    fn with(pairs: &[(&str, &str)]) -> (ParseOpts, Vec<String>) {
        let arr = kv_array(pairs);
        build_parseopts(&ParseOptsInput {
            parseopts: Some(&arr),
            ..Default::default()
        })
    }

    #[test]
    fn parseopts_defaults_match_lighttpd() {
        let (o, e) = build_parseopts(&ParseOptsInput::default());
        assert!(e.is_empty());
        assert_eq!(o, ParseOpts::default());
        assert!(o.host_strict && !o.host_normalize);
        assert!(o.url_path_2f_decode && !o.url_path_2f_reject);
    }

    #[test]
    fn parseopts_unknown_key_and_value_are_errors() {
        let (_, e) = with(&[("bogus", "enable")]);
        assert_eq!(e, ["unrecognized key for server.http-parseopts: bogus"]);
        let (_, e) = with(&[("url-normalize", "maybe")]);
        assert_eq!(
            e,
            ["unrecognized value for server.http-parseopts: url-normalize => maybe (expect \"[enable|disable]\")"]
        );
    }

    #[test]
    fn parseopts_url_normalize_disable_clears_all_and_stops() {
        let (o, e) = with(&[("url-normalize", "disable"), ("bogus", "x")]);
        assert!(
            e.is_empty(),
            "1.4.69 stops processing after url-normalize disable"
        );
        assert!(!o.url_normalize && !o.url_path_2f_decode && !o.url_ctrls_reject);
        assert!(o.header_strict);
    }

    #[test]
    fn parseopts_conflicts_are_errors() {
        let (_, e) = with(&[("url-path-2f-reject", "enable")]);
        assert_eq!(
            e,
            ["conflicting options in server.http-parseopts:url-path-2f-decode, url-path-2f-reject"]
        );
        let (o, e) = with(&[
            ("url-path-2f-decode", "disable"),
            ("url-path-2f-reject", "enable"),
        ]);
        assert!(e.is_empty());
        assert!(o.url_path_2f_reject && !o.url_path_2f_decode);
        let (_, e) = with(&[("url-path-dotseg-reject", "enable")]);
        assert_eq!(e.len(), 1);
    }

    #[test]
    fn parseopts_required_replaces_unreserved() {
        let (o, _) = with(&[("url-normalize-unreserved", "disable")]);
        // neither unreserved nor required → unreserved is added back
        assert!(o.url_normalize_unreserved && o.url_invalid_utf8_reject);
        let (o, _) = with(&[
            ("url-normalize-unreserved", "disable"),
            ("url-normalize-required", "enable"),
        ]);
        assert!(!o.url_normalize_unreserved && o.url_normalize_required);
    }

    #[test]
    fn parseopts_host_options_and_legacy_keys() {
        let (o, _) = with(&[("host-strict", "disable")]);
        assert!(!o.host_strict && !o.host_normalize);
        let (o, _) = with(&[("host-strict", "disable"), ("host-normalize", "enable")]);
        assert!(!o.host_strict && o.host_normalize);
        let arr = kv_array(&[("header-strict", "enable")]);
        let (o, _) = build_parseopts(&ParseOptsInput {
            parseopts: Some(&arr),
            header_strict: Some(false),
            ..Default::default()
        });
        assert!(!o.header_strict, "legacy key wins");
        let (o, _) = with(&[("method-get-body", "enable")]);
        assert!(o.method_get_body);
    }

    #[test]
    fn compile_builds_server_core_and_modules() {
        use crate::config::cond::{CondField, CondOp};
        use crate::config::scoped::{CondCache, RequestFacts};
        use crate::config::validate::testing::{cond, list, s, TreeBuilder};
        let mut b = TreeBuilder::new();
        b.set(0, "server.document-root", s("/srv"))
            .set(0, "server.modules", list(&["mod_access"]))
            .set(0, "server.port", Value::Int(8080));
        let h = b.block(0, cond(CondField::Host, CondOp::Eq, "a"));
        b.set(h, "server.document-root", s("/a"));
        let c = compile(&b.build()).expect("valid");
        assert_eq!(c.modules, ["mod_access", "mod_staticfile"]);
        assert_eq!(c.server.modules, c.modules);
        assert_eq!(c.server.port, 8080);
        let mut cache = CondCache::new(Rc::clone(&c.conds));
        let facts = RequestFacts {
            fields: vec![(CondField::Host, "a".into())],
            headers: None,
        };
        assert_eq!(
            c.core.resolve(&mut cache, &facts).document_root.as_deref(),
            Some("/a")
        );
        let mut b = TreeBuilder::new();
        b.set(0, "server.port", s("x"))
            .set(0, "server.tag", Value::Int(1));
        assert_eq!(compile(&b.build()).expect_err("invalid").len(), 2);
    }
}
