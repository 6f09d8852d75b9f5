//! mod_access (lighttpd src/mod_access.c): deny by URL-path suffix.
//!
//! `url.access-allow` (if non-empty) allows only paths ending in one of its
//! entries and makes `url.access-deny` irrelevant; otherwise paths ending in
//! a `url.access-deny` entry are denied. Plain suffix match, ASCII
//! case-insensitive under `server.force-lowercase-filenames`. Runs in
//! uri_clean and again in subrequest_start (after index files and
//! PATH_INFO); a denial is 403.

use crate::config::diagnostic::Diagnostic;
use crate::config::scoped::{Patch, Scoped};
use crate::config::tree::ConfigTree;
use crate::config::validate::get_list;
use crate::plugin::registry::ModuleInit;
use crate::plugin::{Ctx, Flow, Hook, Module};
use crate::request::Request;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessConf {
    pub allow: Option<Vec<String>>,
    pub deny: Option<Vec<String>>,
}

#[derive(Debug, Clone)]
pub enum AccessItem {
    Allow(Vec<String>),
    Deny(Vec<String>),
}

impl Patch for AccessConf {
    type Item = AccessItem;
    fn apply(&mut self, item: &AccessItem) {
        match item {
            AccessItem::Allow(l) => self.allow = Some(l.clone()),
            AccessItem::Deny(l) => self.deny = Some(l.clone()),
        }
    }
}

pub fn compile(tree: &ConfigTree) -> Result<Scoped<AccessConf>, Vec<Diagnostic>> {
    Scoped::build(
        tree,
        AccessConf::default(),
        &["url.access-deny", "url.access-allow"],
        |key, d| {
            let l = get_list(key, &d.value)?;
            Ok(if key == "url.access-deny" {
                AccessItem::Deny(l)
            } else {
                AccessItem::Allow(l)
            })
        },
    )
}

/// Does `s` end with `suffix` (ASCII case-insensitively if `nocase`)?
pub fn ends_with(s: &str, suffix: &str, nocase: bool) -> bool {
    let (s, x) = (s.as_bytes(), suffix.as_bytes());
    s.len() >= x.len() && {
        let tail = &s[s.len() - x.len()..];
        if nocase {
            tail.eq_ignore_ascii_case(x)
        } else {
            tail == x
        }
    }
}

/// Is `path` allowed (lighttpd `mod_access_check`)?
pub fn allowed(conf: &AccessConf, path: &str, nocase: bool) -> bool {
    let any = |l: &[String]| l.iter().any(|x| ends_with(path, x, nocase));
    match (&conf.allow, &conf.deny) {
        (Some(a), _) if !a.is_empty() => any(a),
        (_, Some(d)) if !d.is_empty() => !any(d),
        _ => true,
    }
}

/// The module.
pub struct ModAccess {
    conf: Scoped<AccessConf>,
}

/// Registry constructor.
pub fn new(init: &ModuleInit) -> Result<Box<dyn Module>, Vec<Diagnostic>> {
    Ok(Box::new(ModAccess {
        conf: compile(init.tree)?,
    }))
}

impl ModAccess {
    fn check(&self, r: &mut Request) -> Flow {
        let conf = r.resolve(&self.conf);
        if allowed(&conf, &r.uri.path, r.conf.force_lowercase_filenames) {
            return Flow::GoOn;
        }
        if r.conf.debug.log_request_handling {
            let why = if conf.allow.as_ref().is_some_and(|a| !a.is_empty()) {
                "failed to match any from access_allow"
            } else {
                "we match access_deny"
            };
            crate::log_error!("url denied as {why} {}", r.uri.path);
        }
        r.handler = None;
        r.handler_module = None;
        r.finish_with(403)
    }
}

impl Module for ModAccess {
    fn name(&self) -> &'static str {
        "mod_access"
    }

    fn hooks(&self) -> &'static [Hook] {
        &[Hook::UriClean, Hook::SubrequestStart]
    }

    fn uri_clean(&mut self, r: &mut Request, _cx: &mut Ctx) -> Flow {
        self.check(r)
    }

    fn subrequest_start(&mut self, r: &mut Request, _cx: &mut Ctx) -> Flow {
        self.check(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conf(allow: &[&str], deny: &[&str]) -> AccessConf {
        let v = |l: &[&str]| Some(l.iter().map(|s| s.to_string()).collect());
        AccessConf {
            allow: v(allow),
            deny: v(deny),
        }
    }

    #[test]
    fn suffix_rules_as_lighttpd() {
        type Case<'a> = (&'a [&'a str], &'a [&'a str], &'a str, bool, bool);
        let table: &[Case] = &[
            (&[], &[".inc", "~"], "/a/b.inc", false, false),
            (&[], &[".inc"], "/X.INC", false, true),
            (&[], &[".inc"], "/X.INC", true, false),
            (&[], &["~"], "/file~", false, false),
            (&[], &[""], "/anything", false, false),
            (&[], &[".inc"], "/index.php", false, true),
            (&[".html"], &[".html"], "/a.html", false, true),
            (&[".html"], &[], "/a.php", false, false),
            (&[".html"], &[], "/", false, false),
            (&[], &[], "/", false, true),
        ];
        for (allow, deny, path, lc, want) in table {
            assert_eq!(
                allowed(&conf(allow, deny), path, *lc),
                *want,
                "{path} {allow:?} {deny:?}"
            );
        }
        assert!(allowed(&AccessConf::default(), "/x", false));
    }
}
