//! `ConfigTree`: the evaluated configuration — the global context plus one
//! context per distinct condition block, in order of first appearance.
//!
//! Identical conditions (same parent, field, operator and value) share one
//! context, as in lighttpd. Each context keeps its directives in lighttpd's
//! stored order (which `-p` prints) with the span of the assignment.

use super::cond::Condition;
use super::diagnostic::{Diagnostic, LhLine};
use super::source::{SourceMap, Span};
use super::value::Value;

/// Index into [`ConfigTree::contexts`]; 0 is the global context.
pub type CtxId = usize;

/// One assignment as stored in a context.
#[derive(Debug, Clone)]
pub struct Directive {
    /// The key as first spelled (lookups are ASCII case-insensitive).
    pub key: String,
    pub value: Value,
    /// Span of the assignment that last set this value.
    pub span: Span,
}

/// The global context or one condition block.
#[derive(Debug, Clone)]
pub struct Context {
    /// None for the global context.
    pub parent: Option<CtxId>,
    /// The branch before this one in an `else` chain.
    pub prev: Option<CtxId>,
    /// The branch after this one in an `else` chain.
    pub next: Option<CtxId>,
    /// None for the global context. An `else { }` catch-all holds the
    /// negation of its predecessor's condition, as lighttpd does.
    pub cond: Option<Condition>,
    /// True for an `else { }` catch-all (printed as `else {`).
    pub is_else: bool,
    /// Nested blocks that start a chain, in order (for printing).
    pub children: Vec<CtxId>,
    pub directives: Vec<Directive>,
    /// Where the block's condition was first written.
    pub span: Span,
    /// lighttpd's block key (`global`, `global / $HTTP["url"] =^ "/a"`):
    /// block identity, and the text debug logs name a block by.
    pub key: String,
}

impl Context {
    /// A directive of this context by key, ASCII case-insensitively.
    pub fn get(&self, key: &str) -> Option<&Directive> {
        self.directives
            .iter()
            .find(|d| d.key.eq_ignore_ascii_case(key))
    }
}

/// The whole evaluated configuration.
#[derive(Debug, Clone)]
pub struct ConfigTree {
    pub contexts: Vec<Context>,
    pub sources: SourceMap,
    /// Non-fatal problems found while loading.
    pub warnings: Vec<Diagnostic>,
    /// The same, as lighttpd writes them to stderr.
    pub warning_lines: Vec<LhLine>,
}

impl ConfigTree {
    pub fn global(&self) -> &Context {
        &self.contexts[0]
    }

    /// Iterate every (context id, directive) pair in context order.
    pub fn all_directives(&self) -> impl Iterator<Item = (CtxId, &Directive)> {
        self.contexts
            .iter()
            .enumerate()
            .flat_map(|(i, c)| c.directives.iter().map(move |d| (i, d)))
    }
}
