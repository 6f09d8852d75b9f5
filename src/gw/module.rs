//! The module side shared by mod_fastcgi, mod_scgi and mod_proxy (lighttpd
//! `gw_check_extension`, `gw_handle_trigger`, `gw_handle_waitpid_cb`):
//! `<m>.server` / `<m>.balance` / `<m>.debug` / `<m>.map-extensions` per
//! config context, extension matching (authorizers first, then responders;
//! `/prefix` keys against the URL path, other keys as suffixes of the
//! physical path, or of the URL path with check-local disabled), the
//! PATH_INFO split for `/prefix` keys, 503 when no backend is up, and the
//! per-second backend maintenance.

use std::path::PathBuf;
use std::rc::Rc;

use super::config::{parse_balance, parse_server, Balance, Extension, Exts, Mode, ServerKind};
use super::handler::{AuthDone, GwHandler, GwParams};
use super::host::{elect, Host, Lease};
use super::GwProtocol;
use crate::chunk::SpillConf;
use crate::config::diagnostic::Diagnostic;
use crate::config::scoped::{Patch, Scoped};
use crate::config::tree::ConfigTree;
use crate::config::validate::{get_int, get_kvstring, get_list, get_str};
use crate::plugin::{Ctx, Flow, Hook, Module};
use crate::request::Request;

/// One module's settings in effect for a request.
#[derive(Debug, Clone, Default)]
pub struct GwConf {
    pub exts: Option<Rc<Exts>>,
    pub balance: Balance,
    pub debug: u32,
    pub map_extensions: Vec<(String, String)>,
}

#[derive(Debug, Clone)]
pub enum GwItem {
    Server(Rc<Exts>),
    Balance(Balance),
    Debug(u32),
    MapExtensions(Vec<(String, String)>),
}

impl Patch for GwConf {
    type Item = GwItem;
    fn apply(&mut self, item: &GwItem) {
        match item {
            GwItem::Server(e) => self.exts = Some(e.clone()),
            GwItem::Balance(b) => self.balance = *b,
            GwItem::Debug(d) => self.debug = *d,
            GwItem::MapExtensions(m) => self.map_extensions = m.clone(),
        }
    }
}

/// Builds the protocol codec for one request (the module may resolve its
/// own extra config, e.g. `proxy.header`).
pub type MakeProtocol = Box<dyn FnMut(&mut Request, bool) -> Box<dyn GwProtocol>>;

/// A gateway module.
pub struct GwModule {
    name: &'static str,
    conf: Scoped<GwConf>,
    /// Every host of every context (maintenance, reaping).
    hosts: Vec<Rc<Host>>,
    spill: Rc<SpillConf>,
    make: MakeProtocol,
    /// mod_sockproxy: connections, not requests, go to the backends.
    tunnel: bool,
}

/// Compile `<prefix>.server` & co. into a module.
pub fn build(
    tree: &ConfigTree,
    name: &'static str,
    kind: ServerKind,
    prefix: &str,
    make: MakeProtocol,
) -> Result<GwModule, Vec<Diagnostic>> {
    let keys = [
        format!("{prefix}.server"),
        format!("{prefix}.balance"),
        format!("{prefix}.debug"),
        format!("{prefix}.map-extensions"),
    ];
    let key_refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    let mut hosts = Vec::new();
    let conf = Scoped::build(tree, GwConf::default(), &key_refs, |key, d| {
        let v = &d.value;
        match key.rsplit('.').next().unwrap_or("") {
            "server" => parse_server(kind, v, &mut hosts).map(|e| GwItem::Server(Rc::new(e))),
            "balance" => Ok(GwItem::Balance(parse_balance(get_str(key, v)?))),
            "debug" => get_int(key, v).map(GwItem::Debug),
            _ => get_kvstring(key, v).map(GwItem::MapExtensions),
        }
    })?;
    Ok(GwModule {
        name,
        conf,
        hosts,
        spill: Rc::new(spill_conf(tree)),
        make,
        tunnel: false,
    })
}

/// Where buffered responses spill (`server.upload-dirs`).
pub fn spill_conf(tree: &ConfigTree) -> SpillConf {
    let mut spill = SpillConf::default();
    if let Some(d) = tree.global().get("server.upload-dirs") {
        if let Ok(dirs) = get_list("server.upload-dirs", &d.value) {
            if !dirs.is_empty() {
                spill.dirs = dirs.into_iter().map(PathBuf::from).collect();
            }
        }
    }
    spill
}

/// Find the extension for `path` (lighttpd's order: map-extensions, then
/// the keys in config order; `/` keys are URL-path prefixes).
pub fn match_extension<'e>(
    list: &'e [Rc<Extension>],
    map: &[(String, String)],
    path: &str,
    uri_path: &str,
) -> Option<&'e Rc<Extension>> {
    if let Some((_, target)) = map
        .iter()
        .find(|(suffix, _)| path.ends_with(suffix.as_str()))
    {
        if let Some(e) = list.iter().find(|e| e.key == *target) {
            return Some(e);
        }
    }
    list.iter().find(|e| {
        if e.key.starts_with('/') {
            uri_path.starts_with(e.key.as_str())
        } else {
            path.ends_with(e.key.as_str())
        }
    })
}

/// PATH_INFO for `/prefix` keys with check-local disabled: the URL path up
/// to the first '/' after the key is SCRIPT_NAME, the rest PATH_INFO.
pub fn split_prefix_path_info(key: &str, fix_root: bool, uri_path: &mut String) -> Option<String> {
    if key.len() == 1 && fix_root {
        return Some(std::mem::take(uri_path));
    }
    if uri_path.len() <= key.len() {
        return None;
    }
    let at = key.len() + uri_path.get(key.len()..)?.find('/')?;
    let info = uri_path[at..].to_string();
    uri_path.truncate(at);
    Some(info)
}

impl GwModule {
    /// Take whole connections as byte tunnels (mod_sockproxy) instead of
    /// requests.
    pub fn into_tunnel(mut self) -> GwModule {
        self.tunnel = true;
        self
    }

    /// lighttpd `mod_sockproxy_connection_accept`: the `""` or `/` key of
    /// `sockproxy.server` in effect for the connection takes it.
    fn take_connection(&mut self, r: &mut Request, cx: &mut Ctx) {
        let conf = r.resolve(&self.conf);
        let Some(exts) = conf.exts.clone() else {
            return;
        };
        r.uri.path = "/".to_string();
        let Some(ext) = match_extension(&exts.resp, &[], "/", "/").cloned() else {
            return;
        };
        for h in &ext.hosts {
            h.ensure_started(cx.now);
        }
        let Some(host) = elect(&ext, conf.balance, "/", "", &r.remote_ip) else {
            if !ext.note_sent.replace(true) {
                crate::log_error!("all handlers for /? on {} are down.", ext.key);
            }
            return;
        };
        ext.note_sent.set(false);
        let proto = (self.make)(r, false);
        let params = GwParams {
            ext,
            balance: conf.balance,
            authorizer: false,
            spill: self.spill.clone(),
            module: self.name,
        };
        r.handler_module = Some(self.name);
        let h = GwHandler::new(proto, params, Lease::new(host)).transparent();
        r.handler = Some(Box::new(h));
    }

    /// lighttpd `gw_check_extension`: take the request if an extension matches.
    fn check_extension(&mut self, r: &mut Request, cx: &mut Ctx, uri_path_handler: bool) -> Flow {
        if r.handler.is_some() || r.handler_module.is_some() {
            return Flow::GoOn;
        }
        if r.method == crate::http::method::Method::Connect {
            return Flow::GoOn; // no tunnels: the core answers 405
        }
        let conf = r.resolve(&self.conf);
        let Some(exts) = conf.exts.clone() else {
            return Flow::GoOn;
        };
        let path = if uri_path_handler {
            r.uri.path.clone()
        } else {
            r.physical.path.clone()
        };
        if path.is_empty() {
            return Flow::GoOn;
        }
        let authorized = r.plugin_ctx.get_mut::<AuthDone>(self.name).is_some();
        let lists: &[(&[Rc<Extension>], bool)] = if authorized {
            &[(&exts.resp, false)]
        } else {
            &[(&exts.auth, true), (&exts.resp, false)]
        };
        let found = lists.iter().find_map(|(list, auth)| {
            match_extension(list, &conf.map_extensions, &path, &r.uri.path)
                .map(|e| (e.clone(), *auth))
        });
        let Some((ext, authorizer)) = found else {
            return Flow::GoOn;
        };
        for h in &ext.hosts {
            h.ensure_started(cx.now);
        }
        let Some(host) = elect(
            &ext,
            conf.balance,
            &r.uri.path,
            &r.uri.authority,
            &r.remote_ip,
        ) else {
            if !ext.note_sent.replace(true) {
                crate::log_error!(
                    "all handlers for {}?{} on {} are down.",
                    r.uri.path,
                    r.uri.query,
                    ext.key
                );
            }
            r.handler_module = None;
            return r.finish_with(503);
        };
        ext.note_sent.set(false);
        if uri_path_handler {
            if host.conf.check_local {
                return Flow::GoOn;
            }
            if ext.key.starts_with('/') && !authorizer {
                if let Some(info) =
                    split_prefix_path_info(&ext.key, host.conf.fix_root_scriptname, &mut r.uri.path)
                {
                    r.physical.path_info = info;
                }
            }
        }
        let authorizer = authorizer && host.conf.mode == Mode::Authorizer;
        let proto = (self.make)(r, authorizer);
        let params = GwParams {
            ext,
            balance: conf.balance,
            authorizer,
            spill: self.spill.clone(),
            module: self.name,
        };
        r.handler_module = Some(self.name);
        r.body.wanted = !authorizer;
        r.handler = Some(Box::new(GwHandler::new(proto, params, Lease::new(host))));
        if r.conf.debug.log_request_handling {
            crate::log_error!(
                "handling the request using {}",
                self.name.trim_start_matches("mod_")
            );
        }
        Flow::GoOn
    }
}

impl Module for GwModule {
    fn name(&self) -> &'static str {
        self.name
    }

    fn hooks(&self) -> &'static [Hook] {
        if self.tunnel {
            return &[Hook::ConnectionTunnel, Hook::Trigger, Hook::Waitpid];
        }
        &[
            Hook::UriClean,
            Hook::Docroot,
            Hook::SubrequestStart,
            Hook::RequestReset,
            Hook::Trigger,
            Hook::Waitpid,
        ]
    }

    fn connection_tunnel(&mut self, r: &mut Request, cx: &mut Ctx) -> Flow {
        self.take_connection(r, cx);
        Flow::GoOn
    }

    fn uri_clean(&mut self, r: &mut Request, cx: &mut Ctx) -> Flow {
        self.check_extension(r, cx, true)
    }

    fn docroot(&mut self, r: &mut Request, _cx: &mut Ctx) -> Flow {
        if let Some(AuthDone { docroot: Some(d) }) = r.plugin_ctx.get_mut::<AuthDone>(self.name) {
            r.physical.doc_root = d.clone();
        }
        Flow::GoOn
    }

    fn subrequest_start(&mut self, r: &mut Request, cx: &mut Ctx) -> Flow {
        self.check_extension(r, cx, false)
    }

    fn request_reset(&mut self, r: &mut Request, _cx: &mut Ctx) -> Flow {
        r.plugin_ctx.remove(self.name);
        Flow::GoOn
    }

    fn trigger(&mut self, cx: &mut Ctx) -> Flow {
        for h in &self.hosts {
            h.trigger(cx.now);
        }
        Flow::GoOn
    }

    fn waitpid(&mut self, pid: i32, status: i32, cx: &mut Ctx) -> Flow {
        if self.hosts.iter().any(|h| h.reaped(pid, status, cx.now)) {
            Flow::Finished
        } else {
            Flow::GoOn
        }
    }
}

impl Drop for GwModule {
    fn drop(&mut self) {
        for h in &self.hosts {
            h.stop_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    fn ext(key: &str) -> Rc<Extension> {
        Rc::new(Extension {
            key: key.into(),
            hosts: Vec::new(),
            last_used: Cell::new(-1),
            note_sent: Cell::new(false),
        })
    }

    #[test]
    fn extension_order_prefix_and_suffix() {
        let list = vec![ext(".php"), ext("/info.php"), ext("/")];
        let m = |p: &str, u: &str| match_extension(&list, &[], p, u).map(|e| e.key.clone());
        assert_eq!(m("/srv/a.php", "/a.php").as_deref(), Some(".php"));
        assert_eq!(
            m("/srv/info.phpx", "/info.phpx").as_deref(),
            Some("/info.php")
        );
        assert_eq!(m("/srv/x.html", "/x.html").as_deref(), Some("/"));
        let map = vec![(".php3".to_string(), ".php".to_string())];
        assert_eq!(
            match_extension(&list, &map, "/srv/a.php3", "/a.php3").map(|e| e.key.as_str()),
            Some(".php")
        );
    }

    #[test]
    fn prefix_path_info_split() {
        let mut p = "/info.php/p".to_string();
        assert_eq!(
            split_prefix_path_info("/info.php", false, &mut p).as_deref(),
            Some("/p")
        );
        assert_eq!(p, "/info.php");
        let mut p = "/cgi-bin/foo/bar".to_string();
        assert_eq!(
            split_prefix_path_info("/cgi-bin/", false, &mut p).as_deref(),
            Some("/bar")
        );
        assert_eq!(p, "/cgi-bin/foo");
        let mut p = "/abc/def".to_string();
        assert_eq!(
            split_prefix_path_info("/", true, &mut p).as_deref(),
            Some("/abc/def")
        );
        assert_eq!(p, "");
        let mut p = "/app".to_string();
        assert_eq!(split_prefix_path_info("/app", false, &mut p), None);
    }
}
