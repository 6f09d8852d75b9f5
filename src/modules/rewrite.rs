//! mod_rewrite (lighttpd src/mod_rewrite.c): internal URL rewriting.
//!
//! Per context, `url.rewrite-once`, `url.rewrite-final` and `url.rewrite`
//! (all "once") followed by `url.rewrite-repeat` form one rule list; the
//! two if-not-file keys form a second one. A context's list replaces the
//! outer one. Main rules run in the uri_raw hook on `target` (with query);
//! if-not-file rules in the physical hook when the path is not a regular
//! file. A rewrite restarts the request (COMEBACK); a "once" match stops
//! all later rewriting; more than 100 passes is an endless loop (the
//! connection is closed without a response).

use crate::plugin::registry::ModuleInit;
use crate::plugin::{Ctx, Flow, Hook, Module};
use crate::request::Request;
use std::rc::Rc;

use crate::config::diagnostic::Diagnostic;
use crate::config::scoped::{Patch, Scoped};
use crate::config::tree::ConfigTree;
use crate::config::validate::get_kvstring;

use super::keyvalue::{process, url_parts, Outcome, RuleList, UrlParts};

/// The effective rule lists of a request.
#[derive(Debug, Clone, Default)]
pub struct RewriteConf {
    pub main: Option<Rc<RuleList>>,
    pub if_not_file: Option<Rc<RuleList>>,
}

/// What one context sets.
#[derive(Debug, Clone)]
pub enum RewriteItem {
    Main(Rc<RuleList>),
    IfNotFile(Rc<RuleList>),
}

impl Patch for RewriteConf {
    type Item = RewriteItem;
    fn apply(&mut self, item: &RewriteItem) {
        match item {
            RewriteItem::Main(l) => self.main = Some(l.clone()),
            RewriteItem::IfNotFile(l) => self.if_not_file = Some(l.clone()),
        }
    }
}

const ONCE_KEYS: [&str; 3] = ["url.rewrite-once", "url.rewrite-final", "url.rewrite"];
const NF_ONCE: &str = "url.rewrite-if-not-file";
const NF_REPEAT: &str = "url.rewrite-repeat-if-not-file";

/// Build the per-context rule lists (lighttpd `mod_rewrite_set_defaults`).
pub fn compile(tree: &ConfigTree) -> Result<Scoped<RewriteConf>, Vec<Diagnostic>> {
    let normalize = super::keyvalue::url_normalize(tree);
    let mut scoped = Scoped {
        defaults: RewriteConf::default(),
        blocks: Vec::new(),
    };
    let mut errors = Vec::new();
    for (id, ctx) in tree.contexts.iter().enumerate() {
        let mut items = Vec::new();
        let mut build = |once: &[&str], repeat: &str| -> Option<RuleList> {
            let mut list = RuleList {
                ctx: id,
                ..RuleList::default()
            };
            let mut seen = false;
            for (i, key) in once.iter().chain(std::iter::once(&repeat)).enumerate() {
                if i == once.len() {
                    list.repeat_idx = list.rules.len();
                }
                let Some(d) = ctx.get(key) else { continue };
                seen = true;
                let res =
                    get_kvstring(key, &d.value).and_then(|pairs| list.append(&pairs, normalize));
                if let Err(e) = res {
                    errors.push(Diagnostic::error(e, Some(d.span)));
                }
            }
            seen.then_some(list)
        };
        if let Some(l) = build(&ONCE_KEYS, "url.rewrite-repeat") {
            items.push(RewriteItem::Main(Rc::new(l)));
        }
        if let Some(l) = build(&[NF_ONCE], NF_REPEAT) {
            items.push(RewriteItem::IfNotFile(Rc::new(l)));
        }
        if id == 0 {
            items.iter().for_each(|it| scoped.defaults.apply(it));
        } else if !items.is_empty() {
            scoped.blocks.push((id, items));
        }
    }
    if errors.is_empty() {
        Ok(scoped)
    } else {
        Err(errors)
    }
}

/// Per-request state (lighttpd's plugin_ctx word: pass counter + flags).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RewriteState {
    /// Passes since the first rewrite.
    pub passes: u32,
    pub rewritten: bool,
    /// A "once" rule matched: no more rewriting for this request.
    pub finished: bool,
}

/// What the rewrite step decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rewrite {
    /// Nothing to do.
    GoOn,
    /// New target: restart the request with it.
    Target(String),
    /// Close the connection without a response; the message is logged.
    Error(String),
}

/// lighttpd's loop limit.
const MAX_PASSES: u32 = 100;

/// Apply a rule list to `target` (lighttpd `process_rewrite_rules`).
pub fn apply(
    state: &mut RewriteState,
    list: &RuleList,
    url: &UrlParts,
    cond_caps: &[String],
) -> Rewrite {
    if state.rewritten {
        state.passes += 1;
        if state.passes > MAX_PASSES {
            return Rewrite::Error(
                "ENDLESS LOOP IN rewrite-rule DETECTED ... aborting request, perhaps you want \
                 to use url.rewrite-once instead of url.rewrite-repeat"
                    .into(),
            );
        }
        if state.finished {
            return Rewrite::GoOn;
        }
    }
    match process(list, url.target, cond_caps, url) {
        Outcome::NoMatch | Outcome::Excluded(_) => Rewrite::GoOn,
        Outcome::Failed => Rewrite::Error(format!(
            "pcre_exec() error while processing uri: {}",
            url.target
        )),
        Outcome::Replaced(idx, result) if result.starts_with('/') => {
            state.rewritten = true;
            if idx < list.repeat_idx {
                state.finished = true;
            }
            Rewrite::Target(result)
        }
        Outcome::Replaced(..) => Rewrite::Error(format!(
            "mod_rewrite invalid result (not beginning with '/') while processing uri: {}",
            url.target
        )),
    }
}

/// The module.
pub struct ModRewrite {
    conf: Scoped<RewriteConf>,
}

const NAME: &str = "mod_rewrite";

/// Registry constructor.
pub fn new(init: &ModuleInit) -> Result<Box<dyn Module>, Vec<Diagnostic>> {
    Ok(Box::new(ModRewrite {
        conf: compile(init.tree)?,
    }))
}

impl ModRewrite {
    fn run(r: &mut Request, list: &RuleList) -> Flow {
        let caps = r.conds.captures(list.ctx).to_vec();
        let mut state = r
            .plugin_ctx
            .get_mut::<RewriteState>(NAME)
            .copied()
            .unwrap_or_default();
        let result = apply(&mut state, list, &url_parts(r), &caps);
        *r.plugin_ctx.entry::<RewriteState>(NAME) = state;
        match result {
            Rewrite::GoOn => Flow::GoOn,
            Rewrite::Target(t) => {
                r.target = t;
                r.physical.path.clear();
                Flow::Comeback
            }
            Rewrite::Error(msg) => {
                crate::log_error!("{msg}");
                Flow::Error
            }
        }
    }
}

impl Module for ModRewrite {
    fn name(&self) -> &'static str {
        NAME
    }

    fn hooks(&self) -> &'static [Hook] {
        &[Hook::UriRaw, Hook::Physical, Hook::RequestReset]
    }

    fn uri_raw(&mut self, r: &mut Request, _cx: &mut Ctx) -> Flow {
        let conf = r.resolve(&self.conf);
        match conf.main {
            Some(list) if !list.is_empty() => Self::run(r, &list),
            _ => Flow::GoOn,
        }
    }

    fn physical(&mut self, r: &mut Request, _cx: &mut Ctx) -> Flow {
        if r.handler.is_some() || r.handler_module.is_some() {
            return Flow::GoOn;
        }
        let conf = r.resolve(&self.conf);
        let Some(list) = conf.if_not_file.filter(|l| !l.is_empty()) else {
            return Flow::GoOn;
        };
        if std::fs::metadata(&r.physical.path).is_ok_and(|m| m.is_file()) {
            return Flow::GoOn;
        }
        Self::run(r, &list)
    }

    fn request_reset(&mut self, r: &mut Request, _cx: &mut Ctx) -> Flow {
        r.plugin_ctx.remove(NAME);
        Flow::GoOn
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::cond::{CondField, CondOp};
    use crate::config::scoped::{CondCache, CondTree, RequestFacts};
    use crate::config::validate::testing::{cond, kv, TreeBuilder};

    fn url(target: &str) -> UrlParts<'_> {
        UrlParts {
            scheme: "http",
            authority: "h",
            port: 80,
            target,
            query: target.split_once('?').map(|(_, q)| q),
        }
    }

    /// Run the main list like the pipeline does: rewrite, restart, repeat.
    fn run(list: &RuleList, target: &str) -> Result<String, String> {
        let mut st = RewriteState::default();
        let mut t = target.to_string();
        loop {
            match apply(&mut st, list, &url(&t), &[]) {
                Rewrite::GoOn => return Ok(t),
                Rewrite::Target(n) => t = n,
                Rewrite::Error(e) => return Err(e),
            }
        }
    }

    fn conf_for(b: &mut TreeBuilder, url_path: &str) -> RewriteConf {
        let tree = b.build();
        let scoped = compile(&tree).expect("valid");
        let mut cache = CondCache::new(Rc::new(CondTree::new(&tree)));
        let facts = RequestFacts {
            fields: vec![(CondField::Url, url_path.into())],
            headers: Some(vec![]),
        };
        scoped.resolve(&mut cache, &facts)
    }

    #[test]
    fn once_keys_come_before_repeat_in_one_list() {
        let mut b = TreeBuilder::new();
        b.set(0, "url.rewrite-repeat", kv(&[("^/r(.*)", "/$1")]))
            .set(0, "url.rewrite", kv(&[("^/o/(.*)", "/r/r/$1")]))
            .set(0, "url.rewrite-once", kv(&[("^/first", "/o/x")]));
        let c = conf_for(&mut b, "/");
        let main = c.main.expect("main list");
        assert_eq!((main.rules.len(), main.repeat_idx), (3, 2));
        // once: /first -> /o/x, finished: no more rewriting.
        assert_eq!(run(&main, "/first"), Ok("/o/x".into()));
        // once rule /o/... -> /r/r/x then stops.
        assert_eq!(run(&main, "/o/y"), Ok("/r/r/y".into()));
        // repeat strips each leading r.
        assert_eq!(run(&main, "/rrra"), Ok("/a".into()));
    }

    #[test]
    fn repeat_loops_are_detected_and_results_must_be_absolute() {
        let mut l = RuleList::default();
        l.append(&[("^/(.*)".into(), "/x$1".into())], false)
            .expect("ok");
        assert!(run(&l, "/a").unwrap_err().contains("ENDLESS LOOP"));
        let mut l = RuleList::default();
        l.append(&[("^/(.*)".into(), "x$1".into())], false)
            .expect("ok");
        assert!(run(&l, "/a")
            .unwrap_err()
            .contains("not beginning with '/'"));
        let mut l = RuleList::default();
        l.append(
            &[("^/a".into(), "".into()), ("^/".into(), "/z".into())],
            false,
        )
        .expect("ok");
        assert_eq!(run(&l, "/a"), Ok("/a".into()));
    }

    #[test]
    fn conditional_lists_replace_outer_ones() {
        let mut b = TreeBuilder::new();
        b.set(0, "url.rewrite-once", kv(&[("^/g", "/global")])).set(
            0,
            "url.rewrite-if-not-file",
            kv(&[("^/nf", "/nf.php")]),
        );
        let blk = b.block(0, cond(CondField::Url, CondOp::Prefix, "/b"));
        b.set(blk, "url.rewrite-repeat", kv(&[("^/b", "/inner")]));
        let c = conf_for(&mut b, "/b");
        let main = c.main.expect("main");
        assert_eq!((main.ctx, main.rules.len(), main.repeat_idx), (blk, 1, 0));
        assert_eq!(c.if_not_file.expect("nf").ctx, 0);
        let c = conf_for(&mut b, "/other");
        assert_eq!(c.main.expect("main").rules[0].replacement, "/global");
    }

    #[test]
    fn bad_regex_is_a_config_error() {
        let mut b = TreeBuilder::new();
        b.set(0, "url.rewrite-once", kv(&[("^/(", "/x")]));
        assert!(compile(&b.build()).is_err());
    }
}
