use super::*;
use crate::config::cond::CondOp;
use crate::config::source::{Origin, Source, Span};
use crate::config::validate::testing::{cond, list, s, TreeBuilder};

fn args(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

fn good_tree() -> ConfigTree {
    let mut b = TreeBuilder::new();
    b.set(0, "server.document-root", s("/srv"))
        .set(0, "server.bind", s("127.0.0.1"))
        .set(0, "server.modules", list(&["mod_access"]));
    let h = b.block(0, cond(CondField::Host, CondOp::Eq, "example.org"));
    b.set(h, "server.document-root", s("/srv/example"));
    b.build()
}

#[test]
fn parse_args_reads_every_option() {
    let o = parse_args(&args(&[
        "check",
        "-f",
        "x.conf",
        "--format",
        "json",
        "--explain",
        "--host",
        "A",
        "--url",
        "/p?q",
        "--header",
        "X-A: 1",
    ]))
    .expect("valid");
    assert_eq!(o.file, "x.conf");
    assert!(o.json);
    let req = o.explain.expect("explain");
    assert_eq!(req.host.as_deref(), Some("A"));
    assert_eq!(req.headers, [("X-A".to_string(), "1".to_string())]);
    assert_eq!(parse_args(&[]).expect("valid").file, DEFAULT_CONFIG);
    assert!(
        parse_args(&args(&["--host", "a"])).is_err(),
        "needs --explain"
    );
    assert!(parse_args(&args(&["-f"])).is_err());
    assert!(parse_args(&args(&["--bogus"])).is_err());
}

#[test]
fn clean_config_is_ok() {
    let (out, code) = check_with(&args(&["-f", "x"]), |_| Ok(good_tree()));
    assert_eq!(out, "configuration OK\n");
    assert_eq!(code, 0);
}

#[test]
fn every_problem_is_rendered_with_location_and_help() {
    let mut b = TreeBuilder::new();
    b.set(0, "server.document-root", s("/srv"))
        .set(0, "server.bind", s("127.0.0.1"))
        .set(0, "server.port", s("http"))
        .set(0, "server.documentroot", s("/x"));
    let tree = b.build();
    let (out, code) = check_with(&args(&[]), |_| Ok(tree));
    assert_eq!(code, 255);
    let expected = "error: got a string but expected a short: server.port http\n \
        --> -:3:1\n  |\n3 | server.port = ...\n  | ^^^^^^^^^^^^^^^^^\n\n\
        warning: unknown config-key: server.documentroot (ignored)\n \
        --> -:4:1\n  |\n4 | server.documentroot = ...\n  | ^^^^^^^^^^^^^^^^^^^^^^^^^\n  \
        = help: did you mean `server.document-root`?\n\n\
        check failed: 1 error, 1 warning\n";
    assert_eq!(out, expected);
}

#[test]
fn warnings_only_exit_zero() {
    let mut b = TreeBuilder::new();
    b.set(0, "server.document-root", s("/srv"))
        .set(0, "server.bind", s("127.0.0.1"));
    let h = b.block(0, cond(CondField::Host, CondOp::Eq, "x"));
    b.set(h, "server.max-worker", s("4"));
    let tree = b.build();
    let (out, code) = check_with(&args(&[]), |_| Ok(tree));
    assert_eq!(code, 0);
    assert!(out.starts_with("warning: DEPRECATED: do not set server options in conditionals, variable: server.max-worker\n"));
    assert!(out.ends_with("configuration OK (1 warning)\n"));
}

#[test]
fn json_format_is_one_object_per_line() {
    let mut b = TreeBuilder::new();
    b.set(0, "server.bind", s("127.0.0.1"))
        .set(0, "foo\"bar", s("x"));
    let tree = b.build();
    let (out, code) = check_with(&args(&["--format", "json"]), |_| Ok(tree));
    assert_eq!(code, 255);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        [
            "{\"severity\":\"error\",\"message\":\"server.document-root is not set\",\"help\":\"set server.document-root in the global block (not only in conditions)\"}",
            "{\"severity\":\"error\",\"message\":\"setting default values failed\"}",
            "{\"severity\":\"warning\",\"message\":\"WARNING: unknown config-key: foo\\\"bar (ignored)\",\"file\":\"-\",\"line\":2,\"column\":1,\"help\":\"no module of lighttpd 1.4.69 knows this key\"}",
        ]
    );
}

#[test]
fn load_errors_get_condition_field_suggestions() {
    let mut sources = SourceMap::default();
    sources.add(Source::new(
        Origin::Stdin,
        b"$HTTP[\"hots\"] == \"x\" {}\n".to_vec(),
    ));
    let span = Some(Span {
        file: 0,
        start: 0,
        end: 13,
    });
    let d = Diagnostic::error("error comp_key $HTTP[\"hots\"] == \"x\"", span);
    let (out, code) = check_with(&args(&[]), |_| Err((vec![d.clone()], sources.clone())));
    assert_eq!(code, 255);
    assert!(
        out.contains("= help: did you mean `$HTTP[\"host\"]`?"),
        "{out}"
    );
    let d = Diagnostic::error("error comp_key $HTTP[\"method\"] == \"GET\"", span);
    let (out, _) = check_with(&args(&[]), |_| Err((vec![d], sources.clone())));
    assert!(
        out.contains("did you mean `$HTTP[\"request-method\"]`?"),
        "{out}"
    );
}

#[test]
fn explain_uses_the_request_options() {
    let (out, code) = check_with(
        &args(&["--explain", "--host", "Example.ORG", "--url", "/a?b=1"]),
        |_| Ok(good_tree()),
    );
    assert_eq!(code, 0);
    assert!(
        out.contains("block 1 $HTTP[\"host\"] == \"example.org\" (-:4:1): matches"),
        "{out}"
    );
    assert!(
        out.contains("server.document-root = \"/srv/example\"    # block 1, -:5:1"),
        "{out}"
    );
    assert!(out.ends_with("configuration OK\n"));
}

#[test]
fn explain_defaults_socket_to_the_main_listener() {
    let tree = good_tree();
    let facts = request_facts(&ExplainRequest::default(), &tree);
    let socket = facts
        .fields
        .iter()
        .find(|(f, _)| *f == CondField::ServerSocket);
    assert_eq!(socket.map(|(_, v)| v.as_str()), Some("127.0.0.1:80"));
    assert!(
        facts.fields.iter().all(|(f, _)| *f != CondField::Host),
        "host unknown unless given"
    );
}

#[test]
fn explain_takes_the_host_from_a_host_header() {
    let tree = good_tree();
    let req = ExplainRequest {
        headers: vec![("Host".into(), "Example.org".into())],
        ..ExplainRequest::default()
    };
    let facts = request_facts(&req, &tree);
    let host = facts.fields.iter().find(|(f, _)| *f == CondField::Host);
    assert_eq!(host.map(|(_, v)| v.as_str()), Some("example.org"));
}
