//! Table tests for the evaluator: values, merges, scoping, blocks, errors.
//! Expected texts were checked against lighttpd 1.4.69 (`lighttpd -p -f`).

use crate::config::cond::CondOp;
use crate::config::tree::ConfigTree;
use crate::config::value::Value;
use crate::config::{load, load_str};

fn tree(src: &str) -> ConfigTree {
    match load_str("t.conf", src.as_bytes()) {
        Ok(t) => t,
        Err(e) => panic!("{src:?} failed: {:?}", e.lighttpd_lines),
    }
}

fn global(src: &str, key: &str) -> Value {
    let t = tree(src);
    match t.global().get(key) {
        Some(d) => d.value.clone(),
        None => panic!("{key} missing in {src:?}"),
    }
}

/// lighttpd's stderr for a failing config, timestamps as `TS`.
fn stderr(src: &str) -> String {
    match load_str("t.conf", src.as_bytes()) {
        Ok(_) => panic!("{src:?} should fail"),
        Err(e) => e.lighttpd_lines.iter().map(|l| l.render("TS")).collect(),
    }
}

fn s(v: &str) -> Value {
    Value::Str(v.into())
}

fn keys(t: &ConfigTree, ctx: usize) -> Vec<String> {
    t.contexts[ctx]
        .directives
        .iter()
        .map(|d| d.key.clone())
        .collect()
}

#[test]
fn values_and_plus() {
    for (src, want) in [
        ("var.x = \"a\" + 1 + 2", s("a12")),
        ("var.x = 1 + 2 + \"a\"", s("3a")),
        ("var.x = 2147483647 + 1", Value::Int(i32::MIN)),
        ("var.x = 99999999999", Value::Int(1215752191)),
        ("var.x = 2147483648", Value::Int(i32::MIN)),
        ("var.x = 0123", Value::Int(123)),
        ("x = 5\nvar.y = 1", Value::Int(5)),
        ("var.k = \"v\"\nvar.x = k + \"w\"", s("vw")),
    ] {
        assert_eq!(global(src, "var.x"), want, "{src}");
    }
    assert_eq!(
        global("var.x = env.PATH\n", "var.x"),
        s(&std::env::var("PATH").unwrap_or_default())
    );
}

#[test]
fn arrays_keys_and_merges() {
    let v = global(
        "var.k = \"key\"\nvar.x = (1 => \"a\", \"x\" + \"y\" => 2, var.k => 3, var.k + 1 => 4)",
        "var.x",
    );
    let Value::Array(a) = v else {
        panic!("not an array")
    };
    let ks: Vec<_> = a
        .items
        .iter()
        .map(|(k, _)| k.clone().unwrap_or_default())
        .collect();
    assert_eq!(ks, ["1", "xy", "key", "key1"]);
    let Value::Array(a) = global(
        "var.x = (\"a\" => 1) + (\"b\" => 2, 3) + (\"a\" => 1)",
        "var.x",
    ) else {
        panic!()
    };
    assert_eq!(a.items.len(), 3);
    let t = tree("var.x = (\"a\" => 1) + (\"A\" => 1)");
    assert_eq!(t.warnings.len(), 1);
}

#[test]
fn assignment_operators_and_order() {
    let t = tree("var.a = 1\nvar.b = 2\nvar.c = 3\nvar.a += 10");
    assert_eq!(keys(&t, 0)[2..], ["var.c", "var.b", "var.a"]);
    let t = tree("var.A = 1\nvar.b = 2\nvar.a := 5");
    assert_eq!(keys(&t, 0)[2..], ["var.a", "var.b"]);
    assert_eq!(
        t.global().get("VAR.A").map(|d| d.value.clone()),
        Some(Value::Int(5))
    );
    let t = tree("var.CWD := \"x\"\nvar.PID += 1");
    assert_eq!(
        t.global().get("var.CWD").map(|d| d.value.clone()),
        Some(s("x"))
    );
}

#[test]
fn append_copies_from_enclosing_scope() {
    let t = tree(
        "var.h = (\"g\" => \"1\")\n$HTTP[\"url\"] =^ \"/a\" { var.h += (\"a\" => \"1\") }\n\
         $HTTP[\"url\"] =^ \"/ab\" { var.h += (\"ab\" => \"1\") }",
    );
    let Value::Array(a) = &t.contexts[2].directives[0].value else {
        panic!()
    };
    let ks: Vec<_> = a.items.iter().filter_map(|(k, _)| k.clone()).collect();
    assert_eq!(ks, ["g", "ab"]);
}

#[test]
fn lexical_lookup_and_inner_variables() {
    let t = tree("var.x = 1\n$HTTP[\"url\"] == \"/x\" { var.y = var.x + 1 }");
    assert_eq!(
        t.contexts[1].get("var.y").map(|d| d.value.clone()),
        Some(Value::Int(2))
    );
    assert_eq!(
        stderr("$HTTP[\"url\"] == \"/x\" { var.inner = 5 }\nvar.z = var.inner\n"),
        "Undefined config variable: var.inner\nTS: (configfile.c.2164) source: t.conf line: 3 pos: 0 parser failed somehow near here: (EOL)\n"
    );
}

#[test]
fn blocks_merge_by_key_and_number_in_order() {
    let t = tree(
        "$HTTP[\"host\"] == \"a\" { var.a = 1 }\n$HTTP[\"url\"] =^ \"/\" { }\n\
         $HTTP[\"host\"] == \"a\" { var.b = 1 }\n$HTTP[\"url\"] =~ \"^/\" { var.c = 1 }",
    );
    assert_eq!(t.contexts.len(), 3);
    assert_eq!(keys(&t, 1), ["var.a", "var.b"]);
    assert_eq!(keys(&t, 2), ["var.c"]);
    assert_eq!(t.contexts[2].key, "global / $HTTP[\"url\"] =^ \"/\"");
    // letter case does not separate blocks (lighttpd 1.4.69)
    let t = tree("$HTTP[\"url\"] == \"/X\" { var.a = 1 }\n$HTTP[\"url\"] == \"/x\" { var.b = 1 }");
    assert_eq!(t.contexts.len(), 2);
}

#[test]
fn else_chains() {
    let t =
        tree("$HTTP[\"url\"] == \"/x\" { } else $HTTP[\"url\"] =~ \"^/y\" { } else { var.e = 1 }");
    assert_eq!(
        (t.contexts[1].next, t.contexts[2].prev, t.contexts[2].next),
        (Some(2), Some(1), Some(3))
    );
    let e = &t.contexts[3];
    assert!(e.is_else);
    assert_eq!(e.cond.as_ref().map(|c| c.op), Some(CondOp::NotPrefix));
    assert_eq!(e.key, "global / $HTTP[\"url\"] !^ \"/y\"");
    // a later `!=` block merges into the else of `==`
    let t = tree(
        "$HTTP[\"url\"] == \"/x\" { } else { var.b = 2 }\n$HTTP[\"url\"] != \"/x\" { var.c = 3 }",
    );
    assert_eq!(keys(&t, 2), ["var.b", "var.c"]);
    // newer keywords
    let t = tree("if $HTTP[\"url\"] == \"/a\" { } elif $HTTP[\"url\"] == \"/b\" { } else if $HTTP[\"url\"] == \"/c\" { }");
    assert_eq!(t.contexts[2].next, Some(3));
}

#[test]
fn else_chain_errors() {
    let tail = |line: usize, pos: usize| {
        format!("TS: (configfile.c.2164) source: t.conf line: {line} pos: {pos} parser failed somehow near here: (EOL)\n")
    };
    assert_eq!(
        stderr("$HTTP[\"url\"] == \"/x\" { } else { } else { }\n"),
        format!(
            "unreachable condition following else catch-all\n{}",
            tail(2, 0)
        )
    );
    assert_eq!(
        stderr("$HTTP[\"url\"] == \"/x\" { } else $HTTP[\"url\"] == \"/x\" { }\n"),
        format!("unreachable else condition\n{}", tail(2, 0))
    );
    assert_eq!(
        stderr("$HTTP[\"url\"] != \"/x\" { }\n$HTTP[\"url\"] == \"/x\" { } else { }\n"),
        format!("unreachable else condition\n{}", tail(3, 0))
    );
}

#[test]
fn error_messages_match_lighttpd() {
    let near = |line: usize, pos: usize, tok: &str| {
        format!("TS: (configfile.c.2164) source: t.conf line: {line} pos: {pos} parser failed somehow near here: {tok}\n")
    };
    let cases: Vec<(&str, String)> = vec![
        ("server.port = 80\nserver.port = 81\n", format!("Duplicate config variable in conditional 0 global: server.port\n{}", near(3, 0, "(EOL)"))),
        ("var.CWD = \"x\"\n", format!("Duplicate config variable in conditional 0 global: var.CWD\n{}", near(2, 0, "(EOL)"))),
        ("Var.A = 1\nvar.a = 2\n", format!("Duplicate config variable in conditional 0 global: var.a\n{}", near(3, 0, "(EOL)"))),
        ("server.document-root = env.NO_SUCH_VAR_X\n", format!("Undefined env variable: NO_SUCH_VAR_X\n{}", near(2, 0, "(EOL)"))),
        ("$HTTP[\"path\"] == \"/x\" { }\n", format!("error comp_key $HTTP[\"path\"] == \"/x\"{}", near(1, 23, "{"))),
        ("var.a = (\"x\") + \"y\"\n", format!("data type mismatch, cannot merge\n{}", near(2, 0, "(EOL)"))),
        ("var.a = (\"a\" => 1) + (\"a\" => 2)\n", format!("Duplicate array-key 'a'\n{}", near(2, 0, "(EOL)"))),
        ("var.a = (\"a\" => 1, \"a\" => 1)\n", format!("Error: duplicate array-key: a. Please get rid of the duplicate entry.\n{}", near(1, 28, ")"))),
        ("$HTTP[\"remoteip\"] == \"host.example\" { }\n", format!("invalid IP addr: host.example\n{}", near(1, 37, "{"))),
        ("$HTTP[\"url\"] == 5 { }\n", format!("rvalue must be string{}", near(1, 19, "{"))),
        ("var.a = ((\"x\") => 1)\n", format!("operand must be string{}", near(1, 17, "=>"))),
        ("env.HOME = \"x\"\n", format!("Setting env variable is not supported in conditional 0 global: env.HOME\n{}", near(2, 0, "(EOL)"))),
        ("$HTTP[\"url\"] == \"/a\" { env.X += \"y\" }\n", format!("Appending env variable is not supported in conditional 1 global / $HTTP[\"url\"] == \"/a\": env.X\n{}", near(1, 37, "}"))),
        ("var.a = 99999999999999999999\n", format!("error parsing number: '99999999999999999999'\n{}", near(2, 0, "(EOL)"))),
        ("var.a 1\n", near(2, 0, "(EOL)")),
        ("var.a = 1 +", near(1, 11, "+")),
        ("include \"/nonexistent/x.conf\"\n", format!("TS: (configfile.c.2259) include file not found: /nonexistent/x.conf\n{}", near(2, 0, "(EOL)"))),
        ("server.document-root = \"/srv/www\n", "TS: (configfile.c.1978) source: t.conf line: 1 pos: 23 missing closing quote\nTS: (configfile.c.2161) configfile parser failed at: \n".to_string()),
        ("var.a = (\"k\" = \"v\")", "TS: (configfile.c.1878) source: t.conf line: 1 pos: 13 use => for assignments in arrays\nTS: (configfile.c.2161) configfile parser failed at: k\n".to_string()),
        ("global { $HTTP[\"url\"] == \"/\" { } }", "Cannot use conditionals inside a global { ... } block\n".to_string()),
        ("$HTTP[\"url\"] =~ \"(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)\" { }", "TS: (data_config.c.116) Too many captures in regex, use (?:...) instead of (...): (a)(b)(c)(d)(e)(f)(g)(h)(i)(j)\n".to_string()),
    ];
    for (src, want) in cases {
        assert_eq!(stderr(src), want, "source: {src:?}");
    }
}

#[test]
fn regex_errors_only_after_a_successful_parse() {
    let out = stderr("$HTTP[\"url\"] =~ \"^/(foo\" { }\n");
    assert!(
        out.starts_with("TS: (data_config.c.90) pcre2_compile: ")
            && out.ends_with(", regex: ^/(foo\n"),
        "{out}"
    );
    let out = stderr("$HTTP[\"url\"] =~ \"^/(foo\" { }\nvar.x = var.y\n");
    assert!(out.starts_with("Undefined config variable: var.y"), "{out}");
}

/// A scratch directory for include tests.
fn scratch(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("lhrs-eval-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    let _ = std::fs::create_dir_all(d.join("conf.d"));
    d
}

#[test]
fn includes_resolve_against_the_main_directory() {
    let d = scratch("inc");
    let w = |f: &str, t: &str| std::fs::write(d.join(f), t).expect("write");
    w("main.conf", "var.a = 1\ninclude \"conf.d/*.conf\"\ninclude \"conf.d/{z,y}.cnf\"\n$HTTP[\"url\"] == \"/\" { include \"inner.inc\" }\n");
    w("conf.d/b.conf", "var.b = 2\ninclude \"sub.inc\"\n");
    w("conf.d/a.conf", "var.a2 = var.a\n");
    w("conf.d/y.cnf", "var.y = 1\n");
    w("conf.d/z.cnf", "var.z = 1\n");
    w("sub.inc", "var.sub = 1\n");
    w("inner.inc", "var.inner = 1\n");
    let t = load(&d.join("main.conf").display().to_string())
        .map_err(|e| e.lighttpd_lines)
        .expect("loads");
    assert_eq!(
        keys(&t, 0)[2..],
        ["var.a", "var.a2", "var.b", "var.sub", "var.z", "var.y"]
    );
    assert_eq!(keys(&t, 1), ["var.inner"]);
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn include_errors_name_every_level() {
    let d = scratch("incerr");
    std::fs::write(
        d.join("main.conf"),
        "var.a = 1\ninclude \"conf.d/bad.conf\"\n",
    )
    .expect("write");
    std::fs::write(d.join("conf.d/bad.conf"), "\nvar.b = var.nope\n").expect("write");
    std::fs::write(d.join("self.conf"), "include \"self.conf\"\n").expect("write");
    let main = d.join("main.conf").display().to_string();
    let Err(e) = load(&main) else {
        panic!("should fail")
    };
    let text: String = e.lighttpd_lines.iter().map(|l| l.render("TS")).collect();
    let base = d.display();
    assert_eq!(
        text,
        format!(
            "Undefined config variable: var.nope\n\
             TS: (configfile.c.2164) source: {base}/conf.d/bad.conf line: 3 pos: 0 parser failed somehow near here: (EOL)\n\
             TS: (configfile.c.2164) source: {base}/main.conf line: 3 pos: 0 parser failed somehow near here: (EOL)\n"
        )
    );
    let diag = &e.diagnostics[0];
    assert_eq!(
        e.sources.locate(diag.span.expect("span")),
        format!("{base}/conf.d/bad.conf:2:9")
    );
    // recursion is an error, not a crash
    let Err(e) = load(&d.join("self.conf").display().to_string()) else {
        panic!("should fail")
    };
    assert!(e.diagnostics[0]
        .message
        .contains("nested more than 32 deep"));
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn include_shell_runs_in_the_config_directory() {
    let d = scratch("shell");
    std::fs::write(
        d.join("gen.sh"),
        "echo 'var.gen = \"'$(basename $(pwd))'\"'\n",
    )
    .expect("write");
    std::fs::write(
        d.join("main.conf"),
        "include_shell \"sh ./gen.sh\"\ninclude_shell \"exit 3\"\n",
    )
    .expect("write");
    let Err(e) = load(&d.join("main.conf").display().to_string()) else {
        panic!("should fail")
    };
    let text: String = e.lighttpd_lines.iter().map(|l| l.render("TS")).collect();
    assert!(
        text.starts_with("TS: (configfile.c.2348) command \"exit 3\" exited non-zero: 3\n"),
        "{text}"
    );
    std::fs::write(d.join("main.conf"), "include_shell \"sh ./gen.sh\"\n").expect("write");
    let t = load(&d.join("main.conf").display().to_string())
        .map_err(|e| e.lighttpd_lines)
        .expect("loads");
    let dir_name = d
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    assert_eq!(
        t.global().get("var.gen").map(|d| d.value.clone()),
        Some(s(&dir_name))
    );
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn runaway_values_are_bounded() {
    let doubling = format!(
        "var.a = \"0123456789abcdef\"\n{}",
        "var.a += var.a\n".repeat(30)
    );
    assert!(stderr(&doubling).starts_with("value too large or arrays nested too deep\n"));
    let nesting = format!("var.a = ()\n{}", "var.a := (var.a)\n".repeat(200));
    assert!(stderr(&nesting).starts_with("value too large or arrays nested too deep\n"));
}

/// A small deterministic fuzz run (the real one is fuzz/): mutated configs
/// must load or fail cleanly, never panic, and print when they load.
#[test]
fn mutated_configs_never_panic() {
    use crate::config::eval::Evaluator;
    use crate::config::print::print;
    use crate::config::source::Origin;
    let seeds: [&[u8]; 4] = [
        b"var.a = \"x\" + 1\nserver.modules = (\"mod_a\", \"k\" => (1, 2))\nvar.a += \"y\"\n",
        b"$HTTP[\"host\"] =~ \"^(a)\\.b$\" { var.x = 1 } else $HTTP[\"url\"] =^ \"/\" { } else { var.y = (\"a\" => 1) }\n",
        b"global { var.g = 1 }\n$SERVER[\"socket\"] == \":80\" { $HTTP[\"remoteip\"] == \"10.0.0.0/8\" { var.z := 2 } }\n",
        b"include \"x.conf\"\ninclude_shell \"echo\"\nvar.e = env.HOME + var.CWD\n",
    ];
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    const ALPHABET: &[u8] = b"$[]{}()\"=+:!~^,#\n\r\\ azAZ09._-\xc2\xa0\0";
    for round in 0..4000 {
        let mut text = seeds[round % seeds.len()].to_vec();
        for _ in 0..(next() % 6 + 1) {
            let pos = (next() as usize) % (text.len() + 1);
            let byte = ALPHABET[(next() as usize) % ALPHABET.len()];
            match next() % 3 {
                0 if pos < text.len() => text[pos] = byte,
                1 if pos < text.len() => {
                    text.remove(pos);
                }
                _ => text.insert(pos, byte),
            }
        }
        let mut ev = Evaluator::new("fuzz.conf");
        ev.sandbox();
        if ev.eval_source(Origin::Stdin, text).is_ok() {
            if let Ok(tree) = ev.finish() {
                assert!(print(&tree).starts_with("config {\n"));
            }
        }
    }
}

/// lighttpd runs grammar actions as tokens arrive: what it reports first
/// when a config has several problems (all recorded from lighttpd 1.4.69).
#[test]
fn evaluation_points_follow_lighttpd() {
    let cases: &[(&str, &str)] = &[
        // the key before a tokenizer error is never looked up
        (
            "s=erver.document-~root = 1\n",
            "TS: (configfile.c.2109) source: t.conf line: 1 pos: 17 invalid character in variable name\nTS: (configfile.c.2161) configfile parser failed at: erver.document-\n",
        ),
        // a condition is checked at the token after it, even if that is junk
        (
            "$HTTP[\"url\"] =^ 0\"/ab\"x = 1 }\n",
            "rvalue must be stringTS: (configfile.c.2164) source: t.conf line: 1 pos: 22 parser failed somehow near here: /ab\n",
        ),
        (
            "~x = 1\n",
            "TS: (configfile.c.2109) source: t.conf line: 1 pos: 0 invalid character in variable name\nTS: (configfile.c.2161) configfile parser failed at: (null)\n",
        ),
        // a merge completed inside an unfinished statement
        (
            "var.a = (\"a\" + (\"a\" => else  1)\n",
            "data type mismatch, cannot merge\nTS: (configfile.c.2164) source: t.conf line: 2 pos: 0 parser failed somehow near here: )\n",
        ),
        // include_shell waits for its lookahead: the command never runs
        (
            "include_shell \"exit 3\" :\n",
            "TS: (configfile.c.2018) source: t.conf line: 1 pos: 23 unexpected character ':'\nTS: (configfile.c.2161) configfile parser failed at: exit 3\n",
        ),
        // a block whose `{` was read is opened (its condition checked)
        (
            "$HTTP[\"path\"] == \"/x\" {\n var.b = \"open\n",
            "error comp_key $HTTP[\"path\"] == \"/x\"TS: (configfile.c.2164) source: t.conf line: 1 pos: 23 parser failed somehow near here: {\n",
        ),
    ];
    for (src, want) in cases {
        assert_eq!(stderr(src), *want, "source: {src:?}");
    }
    // junk inside arrays is dropped the way lighttpd's parser drops it
    let Value::Array(a) = global(
        "var.a = (\"m\" x, \"n\")\nvar.b = (\".a\"[ => \"x\")\n",
        "var.b",
    ) else {
        panic!()
    };
    assert_eq!(a.items, vec![(None, s(".a"))]);
}

#[test]
fn check_only_warnings_for_newer_keywords_and_case_merges() {
    let t = tree("$HTTP[\"url\"] == \"/X\" { }\n$HTTP[\"url\"] == \"/x\" { }\nif $HTTP[\"url\"] == \"/a\" { }\n");
    let msgs: Vec<&str> = t.warnings.iter().map(|w| w.message.as_str()).collect();
    assert_eq!(msgs.len(), 2, "{msgs:?}");
    assert!(msgs[0].contains("differs only in letter case"));
    assert!(msgs[1].contains("1.4.74"));
    // lighttpd prints nothing for them
    assert!(t.warning_lines.is_empty());
}
