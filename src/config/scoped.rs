//! Per-request configuration: which condition blocks match a request
//! ([`CondCache`]) and the effective value of a typed config ([`Scoped`]).
//!
//! Mirrors lighttpd 1.4.69 `configfile-glue.c` (`config_check_cond_*`,
//! `config_cond_cache_reset_item`) and the per-module `patch_config`: the
//! global value patched by every matching block in block order. Results
//! are computed lazily and cached per request; a field that is not known
//! yet leaves its conditions undecided ("unset"), which does not match and
//! is not cached.

use std::borrow::Cow;
use std::rc::Rc;

use super::cond::{CondField, Condition};
use super::diagnostic::Diagnostic;
use super::directive::{lookup, Scope};
use super::tree::{ConfigTree, CtxId, Directive};

/// Regex captures of a matching condition (`%0`..`%9`).
pub type Captures = Vec<String>;

/// The request data conditions look at.
pub trait CondInput {
    /// The value of a field, or None if it is not known yet (the
    /// condition stays undecided). A missing request header is `""`.
    fn value(&self, field: &CondField) -> Option<Cow<'_, str>>;
}

/// The result of a context for one request (lighttpd `cond_result_t`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CondResult {
    /// Not decided yet (data not available).
    Unset,
    /// Not evaluated: the parent is false, or an earlier else-branch matched.
    Skip,
    False,
    True,
}

/// One context's place in the condition tree.
#[derive(Debug, Clone)]
pub struct CondNode {
    pub parent: Option<CtxId>,
    pub prev: Option<CtxId>,
    pub cond: Option<Condition>,
    /// `else { }` catch-all: true whenever the previous branch is false.
    pub is_else: bool,
    /// lighttpd's block key (`global / $HTTP["host"] == "a"`), for traces.
    pub key: String,
}

/// The condition structure of a configuration, shared by every request.
#[derive(Debug, Clone, Default)]
pub struct CondTree {
    pub nodes: Vec<CondNode>,
}

impl CondTree {
    pub fn new(tree: &ConfigTree) -> CondTree {
        let mut nodes: Vec<CondNode> = Vec::with_capacity(tree.contexts.len());
        for c in &tree.contexts {
            let key = match (&c.cond, c.parent.and_then(|p| nodes.get(p))) {
                (Some(cond), Some(parent)) => format!(
                    "{} / {} {} \"{}\"",
                    parent.key,
                    cond.field_text,
                    cond.op.as_str(),
                    cond.value
                ),
                _ => "global".to_string(),
            };
            // Links only ever point to earlier contexts (which also rules
            // out cycles in evaluation).
            let earlier = |l: Option<CtxId>| l.filter(|l| *l < nodes.len());
            nodes.push(CondNode {
                parent: earlier(c.parent),
                prev: earlier(c.prev),
                cond: c.cond.clone(),
                is_else: c.is_else,
                key,
            });
        }
        CondTree { nodes }
    }
}

/// lighttpd's `comp_key_t` number of a field (printed in traces).
fn comp_number(field: &CondField) -> u8 {
    match field {
        CondField::ServerSocket => 1,
        CondField::Url => 2,
        CondField::Host => 3,
        CondField::RemoteIp => 8,
        CondField::QueryString => 9,
        CondField::Scheme => 10,
        CondField::RequestMethod => 11,
        _ => 12,
    }
}

/// Per-request cache of condition results (lighttpd `cond_cache_t`).
#[derive(Debug, Clone)]
pub struct CondCache {
    tree: Rc<CondTree>,
    /// Result including parent and else-chain.
    result: Vec<CondResult>,
    /// Result of the context's own condition.
    local: Vec<CondResult>,
    captures: Vec<Captures>,
    /// `debug.log-condition-handling` lines, when tracing.
    trace: Option<Vec<String>>,
    /// Something was evaluated since the last [`CondCache::reset`] (most
    /// requests evaluate nothing when the config has no conditions).
    dirty: bool,
}

impl CondCache {
    pub fn new(tree: Rc<CondTree>) -> CondCache {
        let n = tree.nodes.len();
        CondCache {
            tree,
            result: vec![CondResult::Unset; n],
            local: vec![CondResult::Unset; n],
            captures: vec![Vec::new(); n],
            trace: None,
            dirty: false,
        }
    }

    /// Record lighttpd's `debug.log-condition-handling` lines from now on
    /// (`on`), or stop.
    pub fn set_trace(&mut self, on: bool) {
        self.trace = on.then(|| self.trace.take().unwrap_or_default());
    }

    /// The trace lines recorded since the last call (messages only; the
    /// caller writes them to the error log).
    pub fn take_trace(&mut self) -> Vec<String> {
        self.trace.as_mut().map(std::mem::take).unwrap_or_default()
    }

    fn note(&mut self, line: impl FnOnce(&CondTree) -> String) {
        if self.trace.is_some() {
            let text = line(&self.tree);
            if let Some(t) = self.trace.as_mut() {
                t.push(text);
            }
        }
    }

    fn note_result(&mut self, ctx: CtxId, cached: bool) {
        let r = self.result(ctx);
        self.note(|t| {
            let msg = match r {
                CondResult::Unset => "unset",
                CondResult::Skip => "skipped",
                CondResult::False => "false",
                CondResult::True => "true",
            };
            let how = if cached { "cached" } else { "uncached" };
            let key = t.nodes.get(ctx).map_or("", |n| n.key.as_str());
            format!("{ctx} ({how}) result: {msg} (cond: {key})")
        });
    }

    /// Forget everything for a request evaluated against `tree` (keeps the
    /// storage when the tree is the same).
    pub fn reset_for(&mut self, tree: &Rc<CondTree>) {
        if Rc::ptr_eq(&self.tree, tree) {
            self.reset();
            self.trace = None;
        } else {
            *self = CondCache::new(tree.clone());
        }
    }

    /// Forget everything (a new request on the same connection).
    pub fn reset(&mut self) {
        if !std::mem::take(&mut self.dirty) {
            return;
        }
        self.result.fill(CondResult::Unset);
        self.local.fill(CondResult::Unset);
        self.captures.iter_mut().for_each(Vec::clear);
    }

    /// Forget the conditions on `fields` (and everything derived from
    /// them), e.g. after a rewrite changed the url and query string.
    pub fn invalidate(&mut self, fields: &[CondField]) {
        for (i, node) in self.tree.nodes.iter().enumerate() {
            if node
                .cond
                .as_ref()
                .is_some_and(|c| fields.contains(&c.field))
            {
                self.local[i] = CondResult::Unset;
                self.captures[i].clear();
            }
        }
        // Results are derived from local results; recompute them lazily.
        self.result.fill(CondResult::Unset);
    }

    /// The cached result of a context (Unset if not evaluated yet).
    pub fn result(&self, ctx: CtxId) -> CondResult {
        if ctx == 0 {
            return CondResult::True;
        }
        self.result.get(ctx).copied().unwrap_or(CondResult::Unset)
    }

    /// The captures of the context's own regex match (empty if none).
    pub fn captures(&self, ctx: CtxId) -> &[String] {
        self.captures.get(ctx).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Does context `ctx` (its condition and all its ancestors) match?
    /// (lighttpd `config_check_cond`)
    pub fn matches(&mut self, ctx: CtxId, input: &dyn CondInput) -> bool {
        if ctx == 0 {
            return true;
        }
        let r = match self.result.get(ctx) {
            None => CondResult::False,
            Some(CondResult::Unset) => {
                self.note(|_| "=== start of condition block ===".to_string());
                self.calc(ctx, input)
            }
            Some(r) => *r,
        };
        r == CondResult::True
    }

    /// Evaluate a context, using and filling the cache.
    pub fn eval(&mut self, ctx: CtxId, input: &dyn CondInput) -> CondResult {
        if ctx == 0 {
            return CondResult::True;
        }
        match self.result.get(ctx) {
            None => CondResult::False,
            Some(CondResult::Unset) => self.calc(ctx, input),
            Some(r) => {
                let r = *r;
                self.note_result(ctx, true);
                r
            }
        }
    }

    fn calc(&mut self, ctx: CtxId, input: &dyn CondInput) -> CondResult {
        self.dirty = true;
        let r = self.eval_uncached(ctx, input);
        self.result[ctx] = r;
        self.note_result(ctx, false);
        r
    }

    fn eval_uncached(&mut self, ctx: CtxId, input: &dyn CondInput) -> CondResult {
        let node = &self.tree.nodes[ctx];
        let (parent, prev, is_else) = (node.parent, node.prev, node.is_else);
        if let Some(p) = parent.filter(|p| *p != 0) {
            self.note(|t| format!("go parent {}", t.nodes[p].key));
            match self.eval(p, input) {
                CondResult::Unset => return CondResult::Unset,
                CondResult::Skip | CondResult::False => return CondResult::Skip,
                CondResult::True => {}
            }
        }
        if let Some(p) = prev {
            self.note(|t| format!("go prev {}", t.nodes[p].key));
            match self.eval(p, input) {
                CondResult::Unset => return CondResult::Unset,
                CondResult::Skip | CondResult::True => return CondResult::Skip,
                CondResult::False => {}
            }
        }
        if matches!(self.local[ctx], CondResult::True | CondResult::False) {
            return self.local[ctx];
        }
        if is_else {
            self.local[ctx] = CondResult::True;
            return CondResult::True;
        }
        self.eval_local(ctx, input)
    }

    fn eval_local(&mut self, ctx: CtxId, input: &dyn CondInput) -> CondResult {
        let tree = Rc::clone(&self.tree);
        let Some(cond) = &tree.nodes[ctx].cond else {
            return CondResult::True;
        };
        let Some(subject) = input.value(&cond.field) else {
            let comp = comp_number(&cond.field);
            self.note(|t| format!("{comp} {} not available yet", t.nodes[ctx].key));
            return CondResult::Unset;
        };
        self.note(|_| format!("{} compare to {subject}", cond.text()));
        let mut caps = Captures::new();
        let r = if eval_condition(cond, &subject, &mut caps) {
            CondResult::True
        } else {
            CondResult::False
        };
        self.local[ctx] = r;
        self.captures[ctx] = caps;
        r
    }
}

/// Match one condition against its field's value.
fn eval_condition(cond: &Condition, subject: &str, caps: &mut Captures) -> bool {
    caps.clear();
    cond.eval(subject, caps)
}

/// A typed config that blocks can patch: one `Item` per directive.
pub trait Patch: Clone {
    type Item: Clone + std::fmt::Debug;
    fn apply(&mut self, item: &Self::Item);
}

/// A typed config: the global value plus, per condition block, the items
/// it sets (lighttpd's cvlist + patch_config).
///
/// A module defines its `Conf` and one `Item` per key:
///
/// ```
/// use lighttpd::config::scoped::{Patch, Scoped};
/// use lighttpd::config::validate::get_bool;
///
/// #[derive(Clone, Default)]
/// struct Conf { activate: bool }
/// #[derive(Clone, Debug)]
/// enum Item { Activate(bool) }
/// impl Patch for Conf {
///     type Item = Item;
///     fn apply(&mut self, item: &Item) {
///         match item { Item::Activate(b) => self.activate = *b }
///     }
/// }
/// fn compile(tree: &lighttpd::config::tree::ConfigTree)
///     -> Result<Scoped<Conf>, Vec<lighttpd::config::diagnostic::Diagnostic>> {
///     Scoped::build(tree, Conf::default(), &["webdav.activate"], |key, d| {
///         get_bool(key, &d.value).map(Item::Activate)
///     })
/// }
/// ```
/// Per request: `scoped.resolve(&mut request.cond_cache, &request)`.
#[derive(Debug, Clone)]
pub struct Scoped<C: Patch> {
    /// Built-in defaults patched by the global block.
    pub defaults: C,
    /// Condition blocks that set something, in block order.
    pub blocks: Vec<(CtxId, Vec<C::Item>)>,
}

impl<C: Patch> Scoped<C> {
    /// The configuration for one request: the global value patched by
    /// every matching block, in block order.
    pub fn resolve(&self, cache: &mut CondCache, input: &dyn CondInput) -> C {
        let mut conf = self.defaults.clone();
        for (ctx, items) in &self.blocks {
            if cache.matches(*ctx, input) {
                items.iter().for_each(|it| conf.apply(it));
            }
        }
        conf
    }

    /// Build from a tree: for every context, the given `keys` (in this
    /// order, as lighttpd's key tables) are converted by `item`. Server-
    /// and socket-scope keys outside the global block are left out (they
    /// do not apply per request). Errors carry the directive's span.
    pub fn build(
        tree: &ConfigTree,
        defaults: C,
        keys: &[&str],
        mut item: impl FnMut(&str, &Directive) -> Result<C::Item, String>,
    ) -> Result<Scoped<C>, Vec<Diagnostic>> {
        Scoped::build_with_ctx(tree, defaults, keys, |key, _, d| item(key, d))
    }

    /// [`Scoped::build`], also telling `item` the context a directive is
    /// in (mod_rewrite/mod_redirect keep it to find the `%N` captures of
    /// their block with [`CondCache::captures`]).
    pub fn build_with_ctx(
        tree: &ConfigTree,
        defaults: C,
        keys: &[&str],
        mut item: impl FnMut(&str, CtxId, &Directive) -> Result<C::Item, String>,
    ) -> Result<Scoped<C>, Vec<Diagnostic>> {
        let mut scoped = Scoped {
            defaults,
            blocks: Vec::new(),
        };
        let mut errors = Vec::new();
        for (id, ctx) in tree.contexts.iter().enumerate() {
            let mut items = Vec::new();
            for key in keys {
                let Some(d) = ctx.get(key) else { continue };
                if id != 0 && lookup(key).is_some_and(|i| i.scope != Scope::Connection) {
                    continue;
                }
                match item(key, id, d) {
                    Ok(it) => items.push(it),
                    Err(msg) => errors.push(Diagnostic::error(msg, Some(d.span))),
                }
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

    /// The contexts that can change this config.
    pub fn contexts(&self) -> impl Iterator<Item = CtxId> + '_ {
        self.blocks.iter().map(|(c, _)| *c)
    }
}

/// A [`CondInput`] from plain data: known fields and request headers.
#[derive(Debug, Clone, Default)]
pub struct RequestFacts {
    pub fields: Vec<(CondField, String)>,
    /// Request headers; None = headers not parsed yet.
    pub headers: Option<Vec<(String, String)>>,
}

/// The header a `$HTTP["…"]` header field reads.
pub fn header_name(name: &str) -> &str {
    match name.to_ascii_lowercase().as_str() {
        "useragent" | "user-agent" => "User-Agent",
        "language" => "Accept-Language",
        "referer" => "Referer",
        "cookie" => "Cookie",
        _ => name,
    }
}

impl CondInput for RequestFacts {
    fn value(&self, field: &CondField) -> Option<Cow<'_, str>> {
        if let CondField::RequestHeader(name) = field {
            let headers = self.headers.as_ref()?;
            let name = header_name(name);
            let sep = if name.eq_ignore_ascii_case("cookie") {
                "; "
            } else {
                ", "
            };
            let joined: Vec<&str> = headers
                .iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
                .collect();
            return Some(Cow::Owned(joined.join(sep)));
        }
        self.fields
            .iter()
            .find(|(f, _)| f == field)
            .map(|(_, v)| Cow::Borrowed(v.as_str()))
    }
}

#[cfg(test)]
mod tests;
