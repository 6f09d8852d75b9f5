//! mod_simple_vhost (lighttpd src/mod_simple_vhost.c): document root =
//! server-root + host (port stripped) + document-root, if that directory
//! exists; else the same with `simple-vhost.default-host`; else unchanged.

use crate::config::diagnostic::Diagnostic;
use crate::config::scoped::{Patch, Scoped};
use crate::config::tree::ConfigTree;
use crate::config::validate::{get_short, get_str};
use crate::plugin::registry::ModuleInit;
use crate::plugin::{Ctx, Flow, Hook, Module};
use crate::request::Request;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SimpleVhostConf {
    /// With a trailing slash; None if unset or empty (module inactive).
    pub server_root: Option<String>,
    pub document_root: Option<String>,
    pub default_host: Option<String>,
    pub debug: u16,
}

#[derive(Debug, Clone)]
pub enum Item {
    ServerRoot(Option<String>),
    DocumentRoot(Option<String>),
    DefaultHost(Option<String>),
    Debug(u16),
}

impl Patch for SimpleVhostConf {
    type Item = Item;
    fn apply(&mut self, item: &Item) {
        match item {
            Item::ServerRoot(v) => self.server_root = v.clone(),
            Item::DocumentRoot(v) => self.document_root = v.clone(),
            Item::DefaultHost(v) => self.default_host = v.clone(),
            Item::Debug(v) => self.debug = *v,
        }
    }
}

fn with_slash(s: &str) -> Option<String> {
    if s.is_empty() {
        None
    } else if s.ends_with('/') {
        Some(s.to_string())
    } else {
        Some(format!("{s}/"))
    }
}

pub fn compile(tree: &ConfigTree) -> Result<Scoped<SimpleVhostConf>, Vec<Diagnostic>> {
    let keys = [
        "simple-vhost.server-root",
        "simple-vhost.default-host",
        "simple-vhost.document-root",
        "simple-vhost.debug",
    ];
    Scoped::build(tree, SimpleVhostConf::default(), &keys, |key, d| {
        if key == "simple-vhost.debug" {
            return Ok(Item::Debug(get_short(key, &d.value)?));
        }
        let v = get_str(key, &d.value)?;
        Ok(match key {
            "simple-vhost.server-root" => Item::ServerRoot(with_slash(v)),
            "simple-vhost.document-root" => Item::DocumentRoot(with_slash(v)),
            _ => Item::DefaultHost((!v.is_empty()).then(|| v.to_string())),
        })
    })
}

/// lighttpd `build_doc_root_path`: server-root + host (up to `:`) +
/// document-root (joined with one `/`) or a slash.
pub fn candidate(server_root: &str, host: Option<&str>, document_root: Option<&str>) -> String {
    let mut out = server_root.to_string();
    if let Some(h) = host {
        out.push_str(h.split(':').next().unwrap_or(""));
    }
    match document_root {
        Some(d) => {
            let d = if out.ends_with('/') {
                d.strip_prefix('/').unwrap_or(d)
            } else {
                d
            };
            if !out.ends_with('/') && !d.starts_with('/') {
                out.push('/');
            }
            out.push_str(d);
        }
        None => {
            if !out.ends_with('/') {
                out.push('/');
            }
        }
    }
    out
}

/// The docroot hook: Some((document root, new server name)) if a candidate
/// directory exists.
pub fn choose(
    conf: &SimpleVhostConf,
    authority: &str,
    is_dir: impl Fn(&str) -> bool,
) -> Option<(String, Option<String>)> {
    let root = conf.server_root.as_deref()?;
    let doc = conf.document_root.as_deref();
    if !authority.is_empty() {
        let c = candidate(root, Some(authority), doc);
        if is_dir(&c) {
            return Some((c, Some(authority.to_string())));
        }
    }
    let host = conf.default_host.as_deref();
    let c = candidate(root, host, doc);
    is_dir(&c).then(|| (c, host.map(str::to_string)))
}

/// The module.
pub struct ModSimpleVhost {
    conf: Scoped<SimpleVhostConf>,
}

/// Registry constructor.
pub fn new(init: &ModuleInit) -> Result<Box<dyn Module>, Vec<Diagnostic>> {
    Ok(Box::new(ModSimpleVhost {
        conf: compile(init.tree)?,
    }))
}

impl Module for ModSimpleVhost {
    fn name(&self) -> &'static str {
        "mod_simple_vhost"
    }

    fn hooks(&self) -> &'static [Hook] {
        &[Hook::Docroot]
    }

    fn docroot(&mut self, r: &mut Request, _cx: &mut Ctx) -> Flow {
        let conf = r.resolve(&self.conf);
        let is_dir = |p: &str| std::fs::metadata(p).is_ok_and(|m| m.is_dir());
        if let Some((root, name)) = choose(&conf, &r.uri.authority, is_dir) {
            r.physical.doc_root = root;
            if let Some(name) = name {
                r.server_name = name;
            }
        }
        Flow::GoOn
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conf(default_host: Option<&str>) -> SimpleVhostConf {
        SimpleVhostConf {
            server_root: Some("/srv/vhosts/".into()),
            document_root: Some("htdocs/".into()),
            default_host: default_host.map(str::to_string),
            debug: 0,
        }
    }

    #[test]
    fn host_then_default_host_then_nothing() {
        let dirs = [
            "/srv/vhosts/a.example/htdocs/",
            "/srv/vhosts/default.example/htdocs/",
        ];
        let is_dir = |p: &str| dirs.contains(&p);
        let c = conf(Some("default.example"));
        assert_eq!(
            choose(&c, "a.example:8080", is_dir),
            Some((
                "/srv/vhosts/a.example/htdocs/".into(),
                Some("a.example:8080".into())
            ))
        );
        assert_eq!(
            choose(&c, "b.example", is_dir),
            Some((
                "/srv/vhosts/default.example/htdocs/".into(),
                Some("default.example".into())
            ))
        );
        assert_eq!(choose(&conf(None), "b.example", is_dir), None);
        assert_eq!(
            choose(&SimpleVhostConf::default(), "a.example", |_| true),
            None
        );
    }

    #[test]
    fn candidate_paths() {
        assert_eq!(candidate("/r/", Some("h:1"), Some("/d/")), "/r/h/d/");
        assert_eq!(candidate("/r/", None, None), "/r/");
        assert_eq!(candidate("/r/", Some("h"), None), "/r/h/");
        assert_eq!(with_slash("/x"), Some("/x/".into()));
        assert_eq!(with_slash(""), None);
    }
}
