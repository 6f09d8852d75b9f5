//! mod_alias (lighttpd src/mod_alias.c): map URL-path prefixes to
//! filesystem paths.
//!
//! The first `alias.url` key (config order) that is a plain string prefix
//! of the URL part of `physical.path` wins; `physical.path` becomes value +
//! rest and `physical.basedir` the value. A key without trailing slash
//! mapped to a value with one refuses `.`/`..` segments after the key
//! (CVE-2018-19052) with 403. At startup, a key shadowed by the entries
//! right before it is an error.

use crate::config::diagnostic::Diagnostic;
use crate::config::scoped::{Patch, Scoped};
use crate::config::tree::ConfigTree;
use crate::config::validate::get_kvstring;
use crate::plugin::registry::ModuleInit;
use crate::plugin::{Ctx, Flow, Hook, Module};
use crate::request::Request;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AliasConf {
    pub aliases: Option<Vec<(String, String)>>,
}

impl Patch for AliasConf {
    type Item = Vec<(String, String)>;
    fn apply(&mut self, item: &Self::Item) {
        self.aliases = Some(item.clone());
    }
}

pub fn compile(tree: &ConfigTree) -> Result<Scoped<AliasConf>, Vec<Diagnostic>> {
    Scoped::build(tree, AliasConf::default(), &["alias.url"], |key, d| {
        let list = get_kvstring(key, &d.value)?;
        check_order(&list)?;
        Ok(list)
    })
}

/// lighttpd's `mod_alias_check_order`: a key that starts with the key of
/// the entry right before it could never match (1.4.69 checks only
/// neighbours).
fn check_order(list: &[(String, String)]) -> Result<(), String> {
    for w in list.windows(2) {
        let (prefix, key) = (&w[0].0, &w[1].0);
        if key.starts_with(prefix.as_str()) {
            return Err(format!(
                "alias.url: `{key}' will never match as `{prefix}' matched first"
            ));
        }
    }
    Ok(())
}

/// The result of remapping a physical path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Remap {
    /// No alias applies.
    None,
    /// New (physical.path, physical.basedir).
    Path(String, String),
    /// Path traversal attempt: 403.
    Forbidden,
}

fn prefix_of(s: &str, key: &str, nocase: bool) -> bool {
    s.len() >= key.len()
        && if nocase {
            s.as_bytes()[..key.len()].eq_ignore_ascii_case(key.as_bytes())
        } else {
            s.starts_with(key)
        }
}

/// lighttpd `mod_alias_remap`: `path` is physical.path, `basedir` the
/// document root it was built from.
pub fn remap(aliases: &[(String, String)], path: &str, basedir: &str, nocase: bool) -> Remap {
    let base_len = basedir.strip_suffix('/').unwrap_or(basedir).len();
    if path.is_empty() || path.len() < base_len {
        return Remap::None;
    }
    let Some(uri) = path.get(base_len..) else {
        return Remap::None;
    };
    let Some((key, value)) = aliases.iter().find(|(k, _)| prefix_of(uri, k, nocase)) else {
        return Remap::None;
    };
    let rest = &uri[key.len()..];
    if traversal(rest) && !key.is_empty() && !key.ends_with('/') && value.ends_with('/') {
        return Remap::Forbidden;
    }
    Remap::Path(format!("{value}{rest}"), value.clone())
}

/// Does `rest` start with a `.` or `..` segment?
fn traversal(rest: &str) -> bool {
    let Some(r) = rest.strip_prefix('.') else {
        return false;
    };
    let r = r.strip_prefix('.').unwrap_or(r);
    r.is_empty() || r.starts_with('/')
}

/// The module.
pub struct ModAlias {
    conf: Scoped<AliasConf>,
}

/// Registry constructor.
pub fn new(init: &ModuleInit) -> Result<Box<dyn Module>, Vec<Diagnostic>> {
    Ok(Box::new(ModAlias {
        conf: compile(init.tree)?,
    }))
}

impl Module for ModAlias {
    fn name(&self) -> &'static str {
        "mod_alias"
    }

    fn hooks(&self) -> &'static [Hook] {
        &[Hook::Physical]
    }

    fn physical(&mut self, r: &mut Request, _cx: &mut Ctx) -> Flow {
        let conf = r.resolve(&self.conf);
        let Some(aliases) = conf.aliases else {
            return Flow::GoOn;
        };
        let lc = r.conf.force_lowercase_filenames;
        match remap(&aliases, &r.physical.path, &r.physical.basedir, lc) {
            Remap::None => Flow::GoOn,
            Remap::Forbidden => r.finish_with(403),
            Remap::Path(path, basedir) => {
                r.physical.path = path;
                r.physical.basedir = basedir;
                Flow::GoOn
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn al(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn first_prefix_in_config_order() {
        let a = al(&[
            ("/b", "/srv/b-dir"),
            ("/cgi-bin/", "/usr/lib/cgi-bin/"),
            ("/", "/srv/root/"),
        ]);
        let p = |s: &str| remap(&a, &format!("/var/www{s}"), "/var/www/", false);
        assert_eq!(
            p("/bf.txt"),
            Remap::Path("/srv/b-dirf.txt".into(), "/srv/b-dir".into())
        );
        assert_eq!(
            p("/cgi-bin/x.cgi"),
            Remap::Path("/usr/lib/cgi-bin/x.cgi".into(), "/usr/lib/cgi-bin/".into())
        );
        assert_eq!(
            p("/zz"),
            Remap::Path("/srv/root/zz".into(), "/srv/root/".into())
        );
        assert_eq!(
            remap(&a, "/var/www/B", "/var/www", false),
            Remap::Path("/srv/root/B".into(), "/srv/root/".into())
        );
        assert_eq!(
            remap(&a, "/var/www/Bx", "/var/www", true),
            Remap::Path("/srv/b-dirx".into(), "/srv/b-dir".into())
        );
        assert_eq!(remap(&a, "/x", "/var/www", false), Remap::None);
    }

    #[test]
    fn traversal_guard_cve_2018_19052() {
        let a = al(&[("/img", "/srv/images/")]);
        let p = |s: &str| remap(&a, &format!("/w{s}"), "/w", false);
        assert_eq!(p("/img../etc/passwd"), Remap::Forbidden);
        assert_eq!(p("/img."), Remap::Forbidden);
        assert_eq!(p("/img.."), Remap::Forbidden);
        assert_eq!(
            p("/img.png"),
            Remap::Path("/srv/images/.png".into(), "/srv/images/".into())
        );
        assert_eq!(
            p("/img/a"),
            Remap::Path("/srv/images//a".into(), "/srv/images/".into())
        );
        let a = al(&[("/img/", "/srv/images/")]);
        assert_eq!(
            remap(&a, "/w/img/../x", "/w", false),
            Remap::Path("/srv/images/../x".into(), "/srv/images/".into())
        );
    }

    #[test]
    fn shadowed_keys_are_rejected() {
        assert_eq!(
            check_order(&al(&[("/a", "x"), ("/ab", "y")])).unwrap_err(),
            "alias.url: `/ab' will never match as `/a' matched first"
        );
        assert!(check_order(&al(&[("/ab", "y"), ("/a", "x")])).is_ok());
        // Non-adjacent shadowing is not detected by 1.4.69.
        assert!(check_order(&al(&[("/a", "x"), ("/c", "z"), ("/ab", "y")])).is_ok());
    }
}
