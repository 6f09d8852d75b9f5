//! `lighttpd check --explain`: for one request, which condition blocks
//! match (and why not), and the effective value of every key set for it.
//!
//! Uses the same [`CondCache`] evaluation as request handling, so the
//! answer is what the server would do.

use std::fmt::Write as _;
use std::rc::Rc;

use super::cond::CondField;
use super::directive::{lookup, Scope};
use super::scoped::{CondCache, CondInput, CondResult, CondTree, RequestFacts};
use super::tree::{ConfigTree, Context, CtxId};
use super::value::Value;

/// A value as `-p` prints it (strings quoted, arrays in parentheses).
pub fn fmt_value(v: &Value) -> String {
    match v {
        Value::Str(s) => format!("\"{}\"", s.replace('"', "\\\"")),
        Value::Int(i) => i.to_string(),
        Value::Array(a) => {
            let items: Vec<String> = a
                .items
                .iter()
                .map(|(k, v)| match k {
                    Some(k) => format!("\"{}\" => {}", k.replace('"', "\\\""), fmt_value(v)),
                    None => fmt_value(v),
                })
                .collect();
            if items.is_empty() {
                "( )".to_string()
            } else {
                format!("( {} )", items.join(", "))
            }
        }
    }
}

/// The condition of a context as written, e.g. `$HTTP["host"] == "a"`.
pub fn cond_text(ctx: &Context) -> String {
    match &ctx.cond {
        None => "global".to_string(),
        Some(_) if ctx.is_else => "else".to_string(),
        Some(c) => format!("{} {} \"{}\"", c.field_text, c.op.as_str(), c.value),
    }
}

fn field_name(f: &CondField) -> &'static str {
    match f {
        CondField::ServerSocket => "--socket",
        CondField::Host => "--host",
        CondField::Url => "--url",
        CondField::QueryString => "--url (query part)",
        CondField::RemoteIp => "--remote-ip",
        CondField::Scheme => "--scheme",
        CondField::RequestMethod => "--method",
        CondField::RequestHeader(_) => "--header",
        _ => "(not supported by --explain)",
    }
}

/// Why a context has its result, in words.
fn reason(tree: &ConfigTree, cache: &CondCache, id: CtxId, facts: &RequestFacts) -> String {
    let ctx = &tree.contexts[id];
    match cache.result(id) {
        CondResult::True => "matches".to_string(),
        CondResult::Skip => match ctx.parent.filter(|p| *p != 0) {
            Some(p) if cache.result(p) != CondResult::True => {
                format!("skipped: enclosing block {p} does not match")
            }
            _ => "skipped: an earlier branch of this else chain matched".to_string(),
        },
        CondResult::False => match &ctx.cond {
            Some(c) => {
                let subject = facts
                    .value(&c.field)
                    .map(|v| v.into_owned())
                    .unwrap_or_default();
                format!("does not match: {} is \"{}\"", c.field_text, subject)
            }
            None => "does not match".to_string(),
        },
        CondResult::Unset => {
            let parent = ctx.parent.filter(|p| *p != 0);
            let waiting = parent
                .into_iter()
                .chain(ctx.prev)
                .find(|c| cache.result(*c) == CondResult::Unset);
            match (waiting, &ctx.cond) {
                (Some(c), _) => format!("undecided: block {c} is undecided"),
                (None, Some(c)) if !ctx.is_else => format!(
                    "undecided: no value for {} (give {})",
                    c.field_text,
                    field_name(&c.field)
                ),
                _ => "undecided".to_string(),
            }
        }
    }
}

/// Nesting depth of a context (global = 0).
fn depth(tree: &ConfigTree, mut id: CtxId) -> usize {
    let mut d = 0;
    while let Some(p) = tree.contexts.get(id).and_then(|c| c.parent) {
        if d > tree.contexts.len() {
            break; // a malformed tree; never loop forever
        }
        d += 1;
        id = p;
    }
    d
}

/// Does a known directive set in context `id` apply per request? (Server
/// and socket options only count in the global block.)
fn applies_in_block(id: CtxId, key: &str) -> bool {
    lookup(key).is_some_and(|i| id == 0 || i.scope == Scope::Connection)
}

/// The explanation text for one request.
pub fn explain(tree: &ConfigTree, facts: &RequestFacts) -> String {
    let mut cache = CondCache::new(Rc::new(CondTree::new(tree)));
    for id in 1..tree.contexts.len() {
        cache.eval(id, facts);
    }
    let mut out = String::from("condition blocks:\n");
    if tree.contexts.len() == 1 {
        out += "  (none)\n";
    }
    for (id, ctx) in tree.contexts.iter().enumerate().skip(1) {
        let indent = "  ".repeat(depth(tree, id));
        let at = tree.sources.locate(ctx.span);
        let _ = writeln!(
            out,
            "{indent}block {id} {} ({at}): {}",
            cond_text(ctx),
            reason(tree, &cache, id, facts)
        );
    }
    out += "effective values:\n";
    // key → (value, block, location); later matching blocks override.
    let mut values: Vec<(String, String, CtxId, String)> = Vec::new();
    for (id, ctx) in tree.contexts.iter().enumerate() {
        if !cache.matches(id, facts) {
            continue;
        }
        for d in &ctx.directives {
            if !applies_in_block(id, &d.key) {
                continue;
            }
            let entry = (
                d.key.clone(),
                fmt_value(&d.value),
                id,
                tree.sources.locate(d.span),
            );
            match values.iter_mut().find(|v| v.0.eq_ignore_ascii_case(&d.key)) {
                Some(slot) => *slot = entry,
                None => values.push(entry),
            }
        }
    }
    values.sort_by(|a, b| a.0.cmp(&b.0));
    for (key, value, id, at) in values {
        let from = if id == 0 {
            "global".to_string()
        } else {
            format!("block {id}")
        };
        let _ = writeln!(out, "  {key} = {value}    # {from}, {at}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::cond::CondOp;
    use crate::config::validate::testing::{cond, kv, list, s, TreeBuilder};

    #[test]
    fn values_print_like_lighttpd() {
        assert_eq!(fmt_value(&s("a\"b")), "\"a\\\"b\"");
        assert_eq!(fmt_value(&Value::Int(5)), "5");
        assert_eq!(fmt_value(&list(&["a", "b"])), "( \"a\", \"b\" )");
        assert_eq!(
            fmt_value(&kv(&[(".html", "text/html")])),
            "( \".html\" => \"text/html\" )"
        );
        assert_eq!(fmt_value(&list(&[])), "( )");
    }

    #[test]
    fn explain_names_matching_blocks_and_effective_values() {
        let mut b = TreeBuilder::new();
        b.set(0, "server.document-root", s("/srv"))
            .set(0, "var.x", s("hidden"));
        let h = b.block(0, cond(CondField::Host, CondOp::Eq, "a"));
        b.set(h, "server.document-root", s("/a"))
            .set(h, "server.port", Value::Int(81));
        let u = b.block(h, cond(CondField::Url, CondOp::Prefix, "/x"));
        b.set(u, "server.tag", s("x"));
        let other = b.block(0, cond(CondField::Host, CondOp::Eq, "b"));
        b.set(other, "server.tag", s("b"));
        let el = b.else_block(other, None);
        b.set(el, "server.name", s("else"));
        let q = b.block(0, cond(CondField::RemoteIp, CondOp::Eq, "10.0.0.1"));
        b.set(q, "server.tag", s("ip"));
        let tree = b.build();
        let facts = RequestFacts {
            fields: vec![(CondField::Host, "a".into()), (CondField::Url, "/y".into())],
            headers: Some(Vec::new()),
        };
        let text = explain(&tree, &facts);
        let expected = "condition blocks:\n\
            \x20 block 1 $HTTP[\"host\"] == \"a\" (-:3:1): matches\n\
            \x20   block 2 $HTTP[\"url\"] =^ \"/x\" (-:6:1): does not match: $HTTP[\"url\"] is \"/y\"\n\
            \x20 block 3 $HTTP[\"host\"] == \"b\" (-:8:1): does not match: $HTTP[\"host\"] is \"a\"\n\
            \x20 block 4 else (-:10:1): matches\n\
            \x20 block 5 $HTTP[\"remoteip\"] == \"10.0.0.1\" (-:12:1): undecided: no value for $HTTP[\"remoteip\"] (give --remote-ip)\n\
            effective values:\n\
            \x20 server.document-root = \"/a\"    # block 1, -:4:1\n\
            \x20 server.name = \"else\"    # block 4, -:11:1\n";
        assert_eq!(text, expected);
    }

    #[test]
    fn explain_reports_skipped_branches() {
        let mut b = TreeBuilder::new();
        let first = b.block(0, cond(CondField::Url, CondOp::Prefix, "/"));
        b.set(first, "server.tag", s("1"));
        let second = b.else_block(first, Some(cond(CondField::Url, CondOp::Prefix, "/a")));
        let nested = b.block(second, cond(CondField::Host, CondOp::Eq, "h"));
        b.set(nested, "server.tag", s("3"));
        let tree = b.build();
        let facts = RequestFacts {
            fields: vec![(CondField::Url, "/a".into())],
            headers: None,
        };
        let text = explain(&tree, &facts);
        assert!(text.contains("block 2 $HTTP[\"url\"] =^ \"/a\" (-:3:1): skipped: an earlier branch of this else chain matched"), "{text}");
        assert!(text.contains("block 3 $HTTP[\"host\"] == \"h\" (-:4:1): skipped: enclosing block 2 does not match"), "{text}");
        assert!(text.contains("server.tag = \"1\"    # block 1"), "{text}");
    }

    #[test]
    fn explain_says_which_block_keeps_a_branch_undecided() {
        let mut b = TreeBuilder::new();
        let h = b.block(0, cond(CondField::Host, CondOp::Eq, "a"));
        let u = b.block(h, cond(CondField::Url, CondOp::Prefix, "/x"));
        b.set(u, "server.tag", s("x"));
        let e = b.else_block(h, None);
        b.set(e, "server.tag", s("e"));
        let tree = b.build();
        let facts = RequestFacts {
            fields: vec![(CondField::Url, "/x".into())],
            headers: None,
        };
        let text = explain(&tree, &facts);
        assert!(text.contains("block 1 $HTTP[\"host\"] == \"a\" (-:1:1): undecided: no value for $HTTP[\"host\"] (give --host)"), "{text}");
        assert!(
            text.contains(
                "block 2 $HTTP[\"url\"] =^ \"/x\" (-:2:1): undecided: block 1 is undecided"
            ),
            "{text}"
        );
        assert!(
            text.contains("block 3 else (-:4:1): undecided: block 1 is undecided"),
            "{text}"
        );
    }
}
