//! Test helpers: build a [`ConfigTree`] by hand, without the parser.

use crate::config::cond::{CondField, CondOp, Condition, Pattern};
use crate::config::source::{Origin, Source, SourceMap, Span};
use crate::config::tree::{ConfigTree, Context, CtxId, Directive};
use crate::config::value::{Array, Value};

pub fn s(v: &str) -> Value {
    Value::Str(v.to_string())
}

pub fn list(items: &[&str]) -> Value {
    Value::Array(Array {
        items: items.iter().map(|v| (None, s(v))).collect(),
    })
}

pub fn kv(items: &[(&str, &str)]) -> Value {
    Value::Array(Array {
        items: items
            .iter()
            .map(|(k, v)| (Some((*k).to_string()), s(v)))
            .collect(),
    })
}

fn context(parent: Option<CtxId>, cond: Option<Condition>, span: Span) -> Context {
    Context {
        parent,
        prev: None,
        next: None,
        cond,
        is_else: false,
        children: Vec::new(),
        directives: Vec::new(),
        span,
        key: String::new(),
    }
}

/// The text of a field as lighttpd prints it.
fn field_text(field: &CondField) -> String {
    match field {
        CondField::ServerSocket => "$SERVER[\"socket\"]".into(),
        CondField::Host => "$HTTP[\"host\"]".into(),
        CondField::Url => "$HTTP[\"url\"]".into(),
        CondField::QueryString => "$HTTP[\"querystring\"]".into(),
        CondField::RemoteIp => "$HTTP[\"remoteip\"]".into(),
        CondField::Scheme => "$HTTP[\"scheme\"]".into(),
        CondField::RequestMethod => "$HTTP[\"request-method\"]".into(),
        CondField::RequestHeader(h) => format!("$REQUEST_HEADER[\"{h}\"]"),
        other => format!("{other:?}"),
    }
}

/// `$OBJ["name"]` of a field, for `cond::build`.
fn names(field: &CondField) -> (&str, &str) {
    match field {
        CondField::ServerSocket => ("SERVER", "socket"),
        CondField::Host => ("HTTP", "host"),
        CondField::Url => ("HTTP", "url"),
        CondField::QueryString => ("HTTP", "querystring"),
        CondField::RemoteIp => ("HTTP", "remoteip"),
        CondField::Scheme => ("HTTP", "scheme"),
        CondField::RequestMethod => ("HTTP", "request-method"),
        CondField::RequestHeader(h) => ("REQUEST_HEADER", h.as_str()),
        _ => ("", ""),
    }
}

/// A condition compiled as the parser does (regexes, hosts, addresses);
/// a literal pattern if the parser would reject it.
pub fn cond(field: CondField, op: CondOp, value: &str) -> Condition {
    let (obj, name) = names(&field);
    match crate::config::cond::build(obj, name, op, value) {
        Ok(built) => built.cond,
        Err(_) => Condition {
            field_text: field_text(&field),
            field,
            op,
            value: value.to_string(),
            pattern: Pattern::Literal(value.to_string()),
        },
    }
}

/// A tree under construction; every directive gets its own line in a
/// synthetic source so spans are distinct.
pub struct TreeBuilder {
    pub tree: ConfigTree,
    text: String,
}

impl Default for TreeBuilder {
    fn default() -> Self {
        TreeBuilder::new()
    }
}

impl TreeBuilder {
    pub fn new() -> TreeBuilder {
        TreeBuilder {
            tree: ConfigTree {
                contexts: vec![context(None, None, Span::default())],
                sources: SourceMap::default(),
                warnings: Vec::new(),
                warning_lines: Vec::new(),
            },
            text: String::new(),
        }
    }

    fn line(&mut self, text: &str) -> Span {
        let start = self.text.len();
        self.text.push_str(text);
        self.text.push('\n');
        Span {
            file: 0,
            start,
            end: start + text.len(),
        }
    }

    /// `key = value` in context `ctx`.
    pub fn set(&mut self, ctx: CtxId, key: &str, value: Value) -> &mut TreeBuilder {
        let span = self.line(&format!("{key} = ..."));
        self.tree.contexts[ctx].directives.push(Directive {
            key: key.to_string(),
            value,
            span,
        });
        self
    }

    /// A nested condition block.
    pub fn block(&mut self, parent: CtxId, c: Condition) -> CtxId {
        let span = self.line(&format!(
            "{} {} \"{}\" {{",
            c.field_text,
            c.op.as_str(),
            c.value
        ));
        self.tree
            .contexts
            .push(context(Some(parent), Some(c), span));
        let id = self.tree.contexts.len() - 1;
        self.tree.contexts[parent].children.push(id);
        id
    }

    /// `else $COND { }` (Some) or `else { }` (None) after block `prev`.
    #[allow(dead_code)] // used by the scoped tests
    pub fn else_block(&mut self, prev: CtxId, c: Option<Condition>) -> CtxId {
        let parent = self.tree.contexts[prev].parent;
        let is_else = c.is_none();
        let c = c.unwrap_or_else(|| {
            let p = self.tree.contexts[prev]
                .cond
                .clone()
                .expect("prev has a condition");
            Condition {
                op: p.op.negate(),
                ..p
            }
        });
        let span = self.line("} else {");
        let mut ctx = context(parent, Some(c), span);
        ctx.prev = Some(prev);
        ctx.is_else = is_else;
        self.tree.contexts.push(ctx);
        let id = self.tree.contexts.len() - 1;
        self.tree.contexts[prev].next = Some(id);
        id
    }

    pub fn build(&mut self) -> ConfigTree {
        let mut tree = self.tree.clone();
        tree.sources = SourceMap::default();
        tree.sources
            .add(Source::new(Origin::Stdin, self.text.clone().into_bytes()));
        tree
    }
}
