use super::*;
use crate::config::cond::CondOp;
use crate::config::validate::testing::{cond, s, TreeBuilder};
use crate::config::validate::{get_short, get_str};
use crate::config::value::Value;

#[derive(Debug, Clone, Default, PartialEq)]
struct Conf {
    tag: String,
    port: u16,
}

#[derive(Debug, Clone)]
enum Item {
    Tag(String),
    Port(u16),
}

impl Patch for Conf {
    type Item = Item;
    fn apply(&mut self, item: &Item) {
        match item {
            Item::Tag(t) => self.tag = t.clone(),
            Item::Port(p) => self.port = *p,
        }
    }
}

fn build(tree: &ConfigTree) -> Result<Scoped<Conf>, Vec<Diagnostic>> {
    let defaults = Conf {
        tag: "default".into(),
        port: 0,
    };
    Scoped::build(
        tree,
        defaults,
        &["server.tag", "server.port"],
        |key, d| match key {
            "server.tag" => get_str(key, &d.value).map(|t| Item::Tag(t.into())),
            _ => get_short(key, &d.value).map(Item::Port),
        },
    )
}

fn facts(fields: &[(CondField, &str)]) -> RequestFacts {
    RequestFacts {
        fields: fields
            .iter()
            .map(|(f, v)| (f.clone(), v.to_string()))
            .collect(),
        headers: Some(Vec::new()),
    }
}

fn tag_for(tree: &ConfigTree, input: &RequestFacts) -> String {
    let scoped = build(tree).expect("valid");
    let mut cache = CondCache::new(Rc::new(CondTree::new(tree)));
    scoped.resolve(&mut cache, input).tag
}

#[test]
fn global_patches_defaults_and_last_matching_block_wins() {
    let mut b = TreeBuilder::new();
    b.set(0, "server.tag", s("global"));
    let h = b.block(0, cond(CondField::Host, CondOp::Eq, "a"));
    b.set(h, "server.tag", s("host-a"));
    let u = b.block(0, cond(CondField::Url, CondOp::Prefix, "/x"));
    b.set(u, "server.tag", s("url-x"));
    let tree = b.build();
    let host = |h: &str, u: &str| facts(&[(CondField::Host, h), (CondField::Url, u)]);
    assert_eq!(tag_for(&tree, &host("b", "/")), "global");
    assert_eq!(tag_for(&tree, &host("a", "/")), "host-a");
    assert_eq!(
        tag_for(&tree, &host("a", "/x/1")),
        "url-x",
        "later block wins"
    );
    assert_eq!(tag_for(&tree, &host("b", "/x")), "url-x");
}

#[test]
fn nested_block_needs_every_ancestor() {
    let mut b = TreeBuilder::new();
    let h = b.block(0, cond(CondField::Host, CondOp::Eq, "a"));
    let u = b.block(h, cond(CondField::Url, CondOp::Prefix, "/x"));
    b.set(u, "server.tag", s("nested"));
    let tree = b.build();
    let t = |h: &str, u: &str| tag_for(&tree, &facts(&[(CondField::Host, h), (CondField::Url, u)]));
    assert_eq!(t("a", "/x"), "nested");
    assert_eq!(t("b", "/x"), "default");
    assert_eq!(t("a", "/y"), "default");
}

#[test]
fn else_chain_evaluates_a_branch_only_after_a_false_one() {
    let mut b = TreeBuilder::new();
    let first = b.block(0, cond(CondField::Url, CondOp::Prefix, "/a"));
    b.set(first, "server.tag", s("a"));
    let second = b.else_block(first, Some(cond(CondField::Url, CondOp::Prefix, "/")));
    b.set(second, "server.tag", s("slash"));
    let last = b.else_block(second, None);
    b.set(last, "server.tag", s("other"));
    let tree = b.build();
    let t = |u: &str| tag_for(&tree, &facts(&[(CondField::Url, u)]));
    assert_eq!(
        t("/a/b"),
        "a",
        "later branches skipped although /a/b also starts with /"
    );
    assert_eq!(t("/b"), "slash");
    assert_eq!(t("x"), "other", "catch-all after two false branches");
    let mut cache = CondCache::new(Rc::new(CondTree::new(&tree)));
    let input = facts(&[(CondField::Url, "/a")]);
    assert_eq!(cache.eval(last, &input), CondResult::Skip);
    assert_eq!(cache.result(second), CondResult::Skip);
    assert_eq!(cache.result(first), CondResult::True);
}

#[test]
fn unknown_field_leaves_blocks_undecided_and_uncached() {
    let mut b = TreeBuilder::new();
    let h = b.block(0, cond(CondField::Host, CondOp::Eq, "a"));
    b.set(h, "server.tag", s("host"));
    let e = b.else_block(h, None);
    b.set(e, "server.tag", s("else"));
    let tree = b.build();
    let scoped = build(&tree).expect("valid");
    let mut cache = CondCache::new(Rc::new(CondTree::new(&tree)));
    let early = facts(&[]);
    assert_eq!(scoped.resolve(&mut cache, &early).tag, "default");
    assert_eq!(cache.result(h), CondResult::Unset);
    assert_eq!(
        cache.result(e),
        CondResult::Unset,
        "else of an undecided branch is undecided"
    );
    let later = facts(&[(CondField::Host, "a")]);
    assert_eq!(scoped.resolve(&mut cache, &later).tag, "host");
}

#[test]
fn invalidate_recomputes_only_the_changed_fields() {
    let mut b = TreeBuilder::new();
    let h = b.block(0, cond(CondField::Host, CondOp::Eq, "a"));
    b.set(h, "server.tag", s("host"));
    let u = b.block(h, cond(CondField::Url, CondOp::Prefix, "/after"));
    b.set(u, "server.tag", s("after"));
    let tree = b.build();
    let scoped = build(&tree).expect("valid");
    let mut cache = CondCache::new(Rc::new(CondTree::new(&tree)));
    let before = facts(&[(CondField::Host, "a"), (CondField::Url, "/before")]);
    assert_eq!(scoped.resolve(&mut cache, &before).tag, "host");
    let rewritten = facts(&[(CondField::Host, "b"), (CondField::Url, "/after")]);
    assert_eq!(scoped.resolve(&mut cache, &rewritten).tag, "host", "cached");
    cache.invalidate(&[CondField::Url, CondField::QueryString]);
    // host result kept from the cache (as lighttpd), url re-evaluated
    assert_eq!(scoped.resolve(&mut cache, &rewritten).tag, "after");
    cache.reset();
    assert_eq!(scoped.resolve(&mut cache, &rewritten).tag, "default");
}

#[test]
fn build_skips_server_scope_keys_in_blocks_and_reports_type_errors() {
    let mut b = TreeBuilder::new();
    b.set(0, "server.port", Value::Int(8080));
    let h = b.block(0, cond(CondField::Host, CondOp::Eq, "a"));
    b.set(h, "server.port", Value::Int(81));
    let tree = b.build();
    let scoped = build(&tree).expect("valid");
    assert_eq!(scoped.defaults.port, 8080);
    assert!(
        scoped.blocks.is_empty(),
        "server.port in a block is ignored"
    );
    let mut b = TreeBuilder::new();
    b.set(0, "server.tag", Value::Int(1));
    let errs = build(&b.build()).expect_err("type error");
    assert_eq!(
        errs[0].message,
        "server.tag should have been a string like ... = \"...\""
    );
    assert!(errs[0].span.is_some());
}

#[test]
fn request_facts_join_headers_like_lighttpd() {
    let f = RequestFacts {
        fields: Vec::new(),
        headers: Some(vec![
            ("X-Foo".into(), "one".into()),
            ("x-foo".into(), "two".into()),
            ("Cookie".into(), "c=1".into()),
            ("Cookie".into(), "d=2".into()),
            ("User-Agent".into(), "curl".into()),
        ]),
    };
    let h = |n: &str| {
        f.value(&CondField::RequestHeader(n.into()))
            .map(|v| v.into_owned())
    };
    assert_eq!(h("X-FOO").as_deref(), Some("one, two"));
    assert_eq!(h("cookie").as_deref(), Some("c=1; d=2"));
    assert_eq!(h("X-Missing").as_deref(), Some(""));
    assert_eq!(h("useragent").as_deref(), Some("curl"));
    let no_headers = RequestFacts::default();
    assert!(no_headers
        .value(&CondField::RequestHeader("X".into()))
        .is_none());
}

#[test]
fn build_with_ctx_tells_the_block_of_each_directive() {
    let mut b = TreeBuilder::new();
    b.set(0, "server.tag", s("g"));
    let h = b.block(0, cond(CondField::Host, CondOp::Eq, "a"));
    b.set(h, "server.tag", s("h"));
    let tree = b.build();
    let mut seen = Vec::new();
    let built = Scoped::build_with_ctx(&tree, Conf::default(), &["server.tag"], |_, ctx, d| {
        seen.push(ctx);
        get_str("server.tag", &d.value).map(|t| Item::Tag(t.into()))
    });
    assert!(built.is_ok());
    assert_eq!(seen, [0, h]);
}

/// The same lines lighttpd 1.4.69 logs with debug.log-condition-handling
/// for this config and two requests (recorded from a real server).
#[test]
fn trace_matches_lighttpd_condition_handling_log() {
    let mut b = TreeBuilder::new();
    let a = b.block(0, cond(CondField::Host, CondOp::Eq, "a"));
    b.set(a, "server.tag", s("A"));
    let x = b.block(a, cond(CondField::Url, CondOp::Match, "^/x(.*)"));
    b.set(x, "server.tag", s("X"));
    let bb = b.else_block(a, Some(cond(CondField::Host, CondOp::Match, "b")));
    b.set(bb, "server.tag", s("B"));
    let other = b.else_block(bb, None);
    b.set(other, "server.tag", s("other"));
    let tree = b.build();
    let scoped = build(&tree).expect("valid");
    let mut cache = CondCache::new(Rc::new(CondTree::new(&tree)));
    cache.set_trace(true);
    let req = facts(&[(CondField::Host, "a"), (CondField::Url, "/xyz")]);
    assert_eq!(scoped.resolve(&mut cache, &req).tag, "X");
    assert_eq!(cache.captures(x), ["/xyz", "yz"]);
    let first = cache.take_trace();
    let host_a = "global / $HTTP[\"host\"] == \"a\"";
    let host_b = "global / $HTTP[\"host\"] =~ \"b\"";
    assert_eq!(
        first,
        [
            "=== start of condition block ===".to_string(),
            "$HTTP[\"host\"] == \"a\" compare to a".to_string(),
            format!("1 (uncached) result: true (cond: {host_a})"),
            "=== start of condition block ===".to_string(),
            format!("go parent {host_a}"),
            format!("1 (cached) result: true (cond: {host_a})"),
            "$HTTP[\"url\"] =~ \"^/x(.*)\" compare to /xyz".to_string(),
            format!("2 (uncached) result: true (cond: {host_a} / $HTTP[\"url\"] =~ \"^/x(.*)\")"),
            "=== start of condition block ===".to_string(),
            format!("go prev {host_a}"),
            format!("1 (cached) result: true (cond: {host_a})"),
            format!("3 (uncached) result: skipped (cond: {host_b})"),
            "=== start of condition block ===".to_string(),
            format!("go prev {host_b}"),
            format!("3 (cached) result: skipped (cond: {host_b})"),
            "4 (uncached) result: skipped (cond: global / $HTTP[\"host\"] !~ \"b\")".to_string(),
        ]
    );
    cache.reset();
    let req = facts(&[(CondField::Host, "c"), (CondField::Url, "/")]);
    assert_eq!(scoped.resolve(&mut cache, &req).tag, "other");
    let second = cache.take_trace();
    assert_eq!(second[1], "$HTTP[\"host\"] == \"a\" compare to c");
    assert_eq!(second[6], "2 (uncached) result: skipped (cond: global / $HTTP[\"host\"] == \"a\" / $HTTP[\"url\"] =~ \"^/x(.*)\")");
    assert_eq!(
        second.last().map(String::as_str),
        Some("4 (uncached) result: true (cond: global / $HTTP[\"host\"] !~ \"b\")")
    );
    assert_eq!(second.len(), 16);
    cache.set_trace(false);
    cache.reset();
    scoped.resolve(&mut cache, &req);
    assert!(cache.take_trace().is_empty());
}

#[test]
fn malformed_links_cannot_loop() {
    let mut b = TreeBuilder::new();
    let h = b.block(0, cond(CondField::Host, CondOp::Eq, "a"));
    let mut tree = b.build();
    tree.contexts[h].parent = Some(h);
    tree.contexts[h].prev = Some(h + 5);
    let mut cache = CondCache::new(Rc::new(CondTree::new(&tree)));
    assert!(cache.matches(h, &facts(&[(CondField::Host, "a")])));
    assert!(
        !cache.matches(h + 1, &facts(&[])),
        "unknown context never matches"
    );
}
