//! mod_redirect (lighttpd src/mod_redirect.c): external redirects.
//!
//! `url.redirect` rules are tried in config order against `target`
//! (normalised, encoded, with `?query`); the first match sets
//! `Location: <substitution>` and the status `url.redirect-code` (301 by
//! default; values outside 100..=999 become 301). A blank replacement is an
//! exclude rule. Substitution syntax: [`super::keyvalue`].

use crate::plugin::registry::ModuleInit;
use crate::plugin::{Ctx, Flow, Hook, Module};
use crate::request::Request;
use std::rc::Rc;

use crate::config::diagnostic::Diagnostic;
use crate::config::scoped::{Patch, Scoped};
use crate::config::tree::ConfigTree;
use crate::config::validate::{get_kvstring, get_short};

use super::keyvalue::{process, url_parts, Outcome, RuleList, UrlParts};

#[derive(Debug, Clone)]
pub struct RedirectConf {
    pub rules: Option<Rc<RuleList>>,
    pub code: u16,
}

impl Default for RedirectConf {
    fn default() -> Self {
        RedirectConf {
            rules: None,
            code: 301,
        }
    }
}

#[derive(Debug, Clone)]
pub enum RedirectItem {
    Rules(Rc<RuleList>),
    Code(u16),
}

impl Patch for RedirectConf {
    type Item = RedirectItem;
    fn apply(&mut self, item: &RedirectItem) {
        match item {
            RedirectItem::Rules(l) => self.rules = Some(l.clone()),
            RedirectItem::Code(c) => self.code = *c,
        }
    }
}

/// Build `url.redirect` / `url.redirect-code` per context.
pub fn compile(tree: &ConfigTree) -> Result<Scoped<RedirectConf>, Vec<Diagnostic>> {
    let normalize = super::keyvalue::url_normalize(tree);
    Scoped::build_with_ctx(
        tree,
        RedirectConf::default(),
        &["url.redirect", "url.redirect-code"],
        |key, ctx, d| {
            if key == "url.redirect-code" {
                let c = get_short(key, &d.value)?;
                return Ok(RedirectItem::Code(if (100..1000).contains(&c) {
                    c
                } else {
                    301
                }));
            }
            let pairs = get_kvstring(key, &d.value)?;
            let mut list = RuleList {
                ctx,
                ..RuleList::default()
            };
            list.append(&pairs, normalize)?;
            Ok(RedirectItem::Rules(Rc::new(list)))
        },
    )
}

/// The redirect for a target, if any: Ok(Some(location)), Ok(None) for no
/// match, Err for a regex engine failure (lighttpd: HANDLER_ERROR).
pub fn location(
    rules: &RuleList,
    url: &UrlParts,
    cond_caps: &[String],
) -> Result<Option<String>, String> {
    match process(rules, url.target, cond_caps, url) {
        Outcome::Replaced(_, loc) => Ok(Some(loc)),
        Outcome::NoMatch | Outcome::Excluded(_) => Ok(None),
        Outcome::Failed => Err(format!(
            "pcre_exec() error while processing uri: {}",
            url.target
        )),
    }
}

/// The module.
pub struct ModRedirect {
    conf: Scoped<RedirectConf>,
}

/// Registry constructor.
pub fn new(init: &ModuleInit) -> Result<Box<dyn Module>, Vec<Diagnostic>> {
    Ok(Box::new(ModRedirect {
        conf: compile(init.tree)?,
    }))
}

impl Module for ModRedirect {
    fn name(&self) -> &'static str {
        "mod_redirect"
    }

    fn hooks(&self) -> &'static [Hook] {
        &[Hook::UriClean]
    }

    fn uri_clean(&mut self, r: &mut Request, _cx: &mut Ctx) -> Flow {
        let conf = r.resolve(&self.conf);
        let Some(rules) = conf.rules.filter(|l| !l.is_empty()) else {
            return Flow::GoOn;
        };
        let caps = r.conds.captures(rules.ctx).to_vec();
        match location(&rules, &url_parts(r), &caps) {
            Ok(None) => Flow::GoOn,
            Ok(Some(loc)) => {
                r.resp.headers.set("Location", &loc);
                r.handler_module = None;
                r.resp.complete = true;
                r.finish_with(conf.code)
            }
            Err(msg) => {
                crate::log_error!("{msg}");
                Flow::Error
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::cond::{CondField, CondOp};
    use crate::config::scoped::{CondCache, CondTree, RequestFacts};
    use crate::config::validate::testing::{cond, kv, s, TreeBuilder};

    fn resolve(b: &mut TreeBuilder, host: &str) -> RedirectConf {
        let tree = b.build();
        let scoped = compile(&tree).expect("valid");
        let mut cache = CondCache::new(Rc::new(CondTree::new(&tree)));
        let facts = RequestFacts {
            fields: vec![(CondField::Host, host.into())],
            headers: Some(vec![]),
        };
        scoped.resolve(&mut cache, &facts)
    }

    #[test]
    fn redirect_codes_and_contexts() {
        let mut b = TreeBuilder::new();
        b.set(
            0,
            "url.redirect",
            kv(&[("^/old/(.*)", "/new/$1"), ("^/keep", "")]),
        )
        .set(0, "url.redirect-code", s("5"));
        let blk = b.block(0, cond(CondField::Host, CondOp::Eq, "b.example"));
        b.set(blk, "url.redirect-code", s("302"));
        let c = resolve(&mut b, "a.example");
        assert_eq!(c.code, 301);
        let rules = c.rules.expect("rules");
        assert_eq!(rules.ctx, 0);
        let url = |t| UrlParts {
            scheme: "http",
            authority: "a.example",
            port: 80,
            target: t,
            query: None,
        };
        assert_eq!(
            location(&rules, &url("/old/x?y"), &[]),
            Ok(Some("/new/x?y".into()))
        );
        assert_eq!(location(&rules, &url("/keep/old/x"), &[]), Ok(None));
        assert_eq!(location(&rules, &url("/other"), &[]), Ok(None));
        assert_eq!(resolve(&mut b, "b.example").code, 302);
    }

    #[test]
    fn rules_remember_their_context() {
        let mut b = TreeBuilder::new();
        let blk = b.block(0, cond(CondField::Host, CondOp::Eq, "h"));
        b.set(blk, "url.redirect", kv(&[("^/(.*)", "http://%0/$1")]));
        let rules = resolve(&mut b, "h").rules.expect("rules");
        assert_eq!(rules.ctx, blk);
        let url = UrlParts {
            target: "/p",
            ..UrlParts::default()
        };
        assert_eq!(
            location(&rules, &url, &["www.h".into()]),
            Ok(Some("http://www.h/p".into()))
        );
    }
}
