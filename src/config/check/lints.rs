//! Extra advice of `lighttpd check` for configurations lighttpd accepts
//! silently but that cannot do what they seem to (not part of `-t`/`-tt`).

use crate::config::cond::{CondField, CondOp};
use crate::config::diagnostic::Diagnostic;
use crate::config::tree::ConfigTree;

/// Conditions that can never match.
pub fn lints(tree: &ConfigTree) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for ctx in tree.contexts.iter().skip(1).filter(|c| !c.is_else) {
        let Some(c) = &ctx.cond else { continue };
        let textual = matches!(c.op, CondOp::Eq | CondOp::Prefix | CondOp::Suffix);
        let text = format!("{} {} \"{}\"", c.field_text, c.op.as_str(), c.value);
        if c.field == CondField::Host && textual && c.value.bytes().any(|b| b.is_ascii_uppercase())
        {
            out.push(
                Diagnostic::warning(
                    format!("{text} can never match: lighttpd lowercases the request host"),
                    Some(ctx.span),
                )
                .with_help(format!("write \"{}\"", c.value.to_ascii_lowercase())),
            );
        }
        if c.field == CondField::Url && textual && c.value.contains('?') {
            out.push(
                Diagnostic::warning(
                    format!("{text} can never match: $HTTP[\"url\"] is the path without the query string"),
                    Some(ctx.span),
                )
                .with_help("match the query part with $HTTP[\"querystring\"]"),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::validate::testing::{cond, TreeBuilder};

    #[test]
    fn uppercase_hosts_and_queries_in_url_conditions_are_flagged() {
        let mut b = TreeBuilder::new();
        b.block(0, cond(CondField::Host, CondOp::Eq, "Example.COM"));
        b.block(0, cond(CondField::Host, CondOp::Match, "(?i)Example"));
        b.block(0, cond(CondField::Url, CondOp::Prefix, "/a?b=1"));
        b.block(0, cond(CondField::Host, CondOp::Eq, "example.com"));
        let found = lints(&b.build());
        let m: Vec<&str> = found.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(
            m,
            [
                "$HTTP[\"host\"] == \"Example.COM\" can never match: lighttpd lowercases the request host",
                "$HTTP[\"url\"] =^ \"/a?b=1\" can never match: $HTTP[\"url\"] is the path without the query string",
            ]
        );
        assert_eq!(found[0].help.as_deref(), Some("write \"example.com\""));
    }
}
