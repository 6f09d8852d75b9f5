use super::testing::{cond, kv, list, s, TreeBuilder};
use super::*;
use crate::config::cond::{CondField, CondOp};
use crate::config::value::{Array, Value};

fn messages(diags: &[Diagnostic]) -> Vec<String> {
    diags.iter().map(|d| d.message.clone()).collect()
}

fn base() -> TreeBuilder {
    let mut b = TreeBuilder::new();
    b.set(0, "server.document-root", s("/tmp"));
    b
}

#[test]
fn getters_follow_lighttpd_type_rules() {
    assert_eq!(
        get_short("server.port", &Value::Int(83924)),
        Ok(18388),
        "truncated mod 65536"
    );
    assert_eq!(get_short("server.port", &s(" 8080")), Ok(8080));
    assert_eq!(
        get_short("server.port", &s("http")),
        Err("got a string but expected a short: server.port http".into())
    );
    assert_eq!(
        get_short("server.port", &s("70000")),
        Err("got a string but expected a short: server.port 70000".into())
    );
    assert_eq!(
        get_short("server.port", &list(&["1"])),
        Err(
            "unexpected type for key: server.port 1 expected a short integer, range 0 ... 65535"
                .into()
        )
    );
    assert_eq!(get_int("k", &s("4096")), Ok(4096));
    assert_eq!(
        get_int("k", &s("-1")),
        Err("got a string but expected an integer: k -1".into())
    );
    assert_eq!(
        get_int("k", &list(&[])),
        Err("unexpected type for key: k 1 expected an integer, range 0 ... 4294967295".into())
    );
    assert_eq!(get_bool("k", &s("Enabled")), Ok(true));
    assert_eq!(get_bool("k", &Value::Int(0)), Ok(false));
    assert_eq!(
        get_bool("server.range-requests", &s("yes")),
        Err(
            "ERROR: unexpected type for key: server.range-requests (string) \"(enable|disable)\""
                .into()
        )
    );
    assert_eq!(
        get_str("server.document-root", &Value::Int(5)),
        Err("server.document-root should have been a string like ... = \"...\"".into())
    );
}

#[test]
fn getters_check_array_shapes() {
    assert_eq!(
        get_list("m", &list(&["a", "b"])),
        Ok(vec!["a".into(), "b".into()])
    );
    assert_eq!(
        get_list("server.modules", &s("mod_access")),
        Err("server.modules should have been a list like server.modules = ( \"...\" )".into())
    );
    assert_eq!(
        get_list("k", &kv(&[("a", "b")])),
        Err("k should have been a list of string values like k = ( \"...\", \"...\" )".into())
    );
    assert_eq!(
        get_kvstring("mimetype.assign", &list(&["a", "b"])),
        Err("mimetype.assign should have been a list of key => string values like mimetype.assign = ( \"...\" => \"...\", \"...\" => \"...\" )".into())
    );
    assert!(get_kvany("k", &kv(&[("a", "b")])).is_ok());
    assert!(get_kvany("k", &list(&["a"])).is_err());
    assert!(get_kvarray("k", &kv(&[("a", "b")])).is_err());
    let nested = Value::Array(Array {
        items: vec![(Some("x".into()), list(&["a"]))],
    });
    assert!(get_kvarray("k", &nested).is_ok());
}

#[test]
fn syntax_check_reports_core_type_errors_with_spans() {
    let mut b = base();
    b.set(0, "server.port", s("http"))
        .set(0, "server.follow-symlink", s("yes"));
    let tree = b.build();
    let diags = syntax_check(&tree);
    assert_eq!(
        messages(&diags),
        [
            "got a string but expected a short: server.port http",
            "ERROR: unexpected type for key: server.follow-symlink (string) \"(enable|disable)\"",
        ]
    );
    assert!(diags.iter().all(|d| d.is_error() && d.span.is_some()));
    assert_eq!(
        tree.sources.locate(diags[0].span.unwrap_or_default()),
        "-:2:1"
    );
}

#[test]
fn syntax_check_ignores_module_keys_and_unknown_keys() {
    let mut b = base();
    b.set(0, "url.rewrite-once", s("not-a-list"))
        .set(0, "foo.bar", s("x"));
    assert!(syntax_check(&b.build()).is_empty());
}

#[test]
fn server_scope_in_condition_is_deprecated_warning() {
    let mut b = base();
    let host = b.block(0, cond(CondField::Host, CondOp::Eq, "x"));
    b.set(host, "server.port", Value::Int(81))
        .set(host, "server.name", s("ok"));
    let diags = syntax_check(&b.build());
    assert_eq!(
        messages(&diags),
        ["DEPRECATED: do not set server options in conditionals, variable: server.port"]
    );
    assert!(!diags[0].is_error());
}

#[test]
fn socket_scope_needs_socket_eq_block() {
    let mut b = base();
    let host = b.block(0, cond(CondField::Host, CondOp::Eq, "x"));
    b.set(host, "ssl.engine", s("enable"));
    let sock = b.block(0, cond(CondField::ServerSocket, CondOp::Eq, ":443"));
    b.set(sock, "ssl.engine", s("enable"));
    let nested = b.block(sock, cond(CondField::Url, CondOp::Prefix, "/a"));
    let inner_sock = b.block(nested, cond(CondField::ServerSocket, CondOp::Eq, ":444"));
    b.set(inner_sock, "ssl.engine", s("enable"));
    let re = b.block(0, cond(CondField::ServerSocket, CondOp::Match, "443$"));
    b.set(re, "ssl.engine", s("enable"));
    let warn = "WARNING: ssl.engine must be in global scope or $SERVER[\"socket\"] with '==', or else is ignored";
    let m = messages(&syntax_check(&b.build()));
    assert_eq!(m.iter().filter(|x| *x == warn).count(), 2, "{m:?}");
}

#[test]
fn parseopts_and_stat_cache_errors() {
    let mut b = base();
    b.set(0, "server.http-parseopts", kv(&[("bogus", "enable")]))
        .set(0, "server.stat-cache-engine", s("bogus"));
    let diags = syntax_check(&b.build());
    assert_eq!(
        messages(&diags),
        [
            "unrecognized key for server.http-parseopts: bogus",
            "server.stat-cache-engine can be one of \"disable\", \"simple\", \"inotify\", \"fam\", but not: bogus",
        ]
    );
    let mut b = base();
    b.set(0, "server.stat-cache-engine", s("inotify"));
    assert!(syntax_check(&b.build()).is_empty());
}

#[test]
fn parseopts_typo_gets_a_suggestion() {
    let mut b = base();
    b.set(
        0,
        "server.http-parseopts",
        kv(&[("header-strikt", "enable")]),
    );
    let diags = syntax_check(&b.build());
    assert_eq!(
        diags[0].help.as_deref(),
        Some("did you mean `header-strict`?")
    );
}

fn modules_of(b: &mut TreeBuilder) -> Vec<String> {
    module_list(&b.build())
}

#[test]
fn module_list_adds_and_removes_default_modules() {
    // verified order from the reference (section 7)
    let mut b = base();
    b.set(
        0,
        "server.modules",
        list(&[
            "mod_status",
            "mod_authn_file",
            "mod_access",
            "mod_status",
            "mod_dirlisting",
        ]),
    )
    .set(0, "dir-listing.activate", s("enable"))
    .set(0, "index-file.names", list(&["index.html"]))
    .set(0, "ssl.pemfile", s("/x.pem"));
    assert_eq!(
        modules_of(&mut b),
        [
            "mod_auth",
            "mod_indexfile",
            "mod_status",
            "mod_authn_file",
            "mod_access",
            "mod_dirlisting",
            "mod_staticfile",
            "mod_openssl"
        ]
    );
    let mut b = base();
    b.set(
        0,
        "server.modules",
        list(&["mod_indexfile", "mod_dirlisting", "mod_access"]),
    );
    assert_eq!(
        modules_of(&mut b),
        ["mod_access", "mod_staticfile"],
        "removed when never enabled"
    );
}

#[test]
fn module_list_enabled_in_condition_counts() {
    let mut b = base();
    let host = b.block(0, cond(CondField::Host, CondOp::Eq, "x"));
    b.set(host, "dir-listing.activate", s("enable"));
    b.set(host, "server.indexfiles", list(&["i.html"]));
    assert_eq!(
        modules_of(&mut b),
        ["mod_indexfile", "mod_dirlisting", "mod_staticfile"]
    );
    let mut b = base();
    b.set(0, "index-file.names", list(&[]));
    b.set(0, "dir-listing.activate", s("disable"));
    assert_eq!(modules_of(&mut b), ["mod_staticfile"]);
}

#[test]
fn module_list_compat_disabled_changes_nothing() {
    let mut b = base();
    b.set(0, "server.compat-module-load", s("disable")).set(
        0,
        "server.modules",
        list(&["mod_indexfile", "mod_access", "mod_indexfile"]),
    );
    assert_eq!(modules_of(&mut b), ["mod_indexfile", "mod_access"]);
}

#[test]
fn module_list_auth_vhostdb_and_warnings() {
    let mut b = base();
    b.set(
        0,
        "server.modules",
        list(&["mod_fastcgi", "mod_auth", "mod_vhostdb_ldap"]),
    )
    .set(0, "auth.backend", s("htpasswd"));
    let (mods, warns) = module_list_checked(&b.build());
    assert_eq!(
        mods,
        [
            "mod_vhostdb",
            "mod_fastcgi",
            "mod_auth",
            "mod_vhostdb_ldap",
            "mod_staticfile",
            "mod_authn_file"
        ]
    );
    let w = messages(&warns);
    assert_eq!(w[0], "Warning: mod_auth should be listed in server.modules before dynamic backends such as mod_fastcgi");
    assert!(w[1].starts_with("Warning: please add \"mod_authn_file\""));
    assert!(w[1].ends_with("uses auth.backend = \"htpasswd\"."));
}

#[test]
fn module_list_mod_compress_is_renamed_or_dropped() {
    let mut b = base();
    b.set(0, "server.modules", list(&["mod_compress"])).set(
        0,
        "compress.filetype",
        list(&["text/plain"]),
    );
    let (mods, warns) = module_list_checked(&b.build());
    assert_eq!(mods, ["mod_deflate", "mod_staticfile"]);
    assert!(warns[0]
        .message
        .starts_with("Warning: \"mod_compress\" is DEPRECATED"));
    let mut b = base();
    b.set(0, "server.modules", list(&["mod_compress"]));
    assert_eq!(modules_of(&mut b), ["mod_staticfile"]);
    let mut b = base();
    b.set(0, "server.modules", list(&["mod_compress", "mod_deflate"]))
        .set(0, "compress.cache-dir", s("/x"));
    assert_eq!(modules_of(&mut b), ["mod_deflate", "mod_staticfile"]);
}

#[test]
fn preflight_requires_document_root() {
    let mut b = TreeBuilder::new();
    b.set(0, "server.bind", s("127.0.0.1"));
    let m = messages(&preflight(&b.build()));
    assert_eq!(
        m,
        [
            "server.document-root is not set",
            "setting default values failed"
        ]
    );
    let mut b = TreeBuilder::new();
    b.set(0, "server.bind", s("127.0.0.1"));
    let host = b.block(0, cond(CondField::Host, CondOp::Eq, "x"));
    b.set(host, "server.document-root", s("/tmp"));
    assert_eq!(
        messages(&preflight(&b.build()))[0],
        "server.document-root is not set"
    );
}

#[test]
fn preflight_unknown_module_fails_loading() {
    let mut b = base();
    b.set(0, "server.bind", s("127.0.0.1"))
        .set(0, "server.modules", list(&["mod_rewrit"]));
    let diags = preflight(&b.build());
    assert_eq!(
        messages(&diags),
        [
            "dlopen() failed for: /usr/lib/lighttpd/mod_rewrit.so /usr/lib/lighttpd/mod_rewrit.so: cannot open shared object file: No such file or directory",
            "loading plugins finally failed",
        ]
    );
    assert_eq!(
        diags[0].help.as_deref(),
        Some("did you mean `mod_rewrite`?")
    );
}

#[test]
fn preflight_unknown_keys_follow_lighttpd_rules() {
    let mut b = base();
    b.set(0, "server.bind", s("127.0.0.1"))
        .set(0, "var.mine", s("x"))
        .set(0, "dir-listing.hide-dotfiles", s("enable"))
        .set(0, "server.documentroot", s("/x"))
        .set(0, "url.rewrite-once", kv(&[("a", "b")]));
    let host = b.block(0, cond(CondField::Host, CondOp::Eq, "x"));
    b.set(host, "foo.bar", s("1"));
    let diags = preflight(&b.build());
    assert_eq!(
        messages(&diags),
        [
            "WARNING: unknown config-key: server.documentroot (ignored)",
            "WARNING: unknown config-key: url.rewrite-once (ignored)",
            "WARNING: unknown config-key: foo.bar (ignored)",
        ]
    );
    assert_eq!(
        diags[0].help.as_deref(),
        Some("did you mean `server.document-root`?")
    );
    assert!(diags[1]
        .help
        .as_deref()
        .is_some_and(|h| h.contains("mod_rewrite")));
    assert!(diags.iter().all(|d| !d.is_error()));
}

#[test]
fn preflight_checks_module_directive_types_when_loaded() {
    let mut b = base();
    b.set(0, "server.bind", s("127.0.0.1"))
        .set(0, "server.modules", list(&["mod_rewrite", "mod_rrdtool"]))
        .set(0, "url.rewrite-once", s("x"));
    let host = b.block(0, cond(CondField::Host, CondOp::Eq, "x"));
    b.set(host, "rrdtool.binary", s("/bin/rrdtool"));
    let tree = b.build();
    let m = messages(&preflight(&tree));
    assert_eq!(
        m,
        [
            "url.rewrite-once should have been a list like url.rewrite-once = ( \"...\" )",
            "Configuration of plugins failed. Going down.",
            "DEPRECATED: do not set server options in conditionals, variable: rrdtool.binary",
        ]
    );
    assert_eq!(
        lighttpd_preflight(&tree, &Lighttpd1469).len(),
        2,
        "lighttpd stops after mod_rewrite"
    );
}

#[test]
fn preflight_checks_listen_addresses() {
    let mut b = base();
    b.set(0, "server.bind", s("127.0.0.1:8080"));
    b.block(0, cond(CondField::ServerSocket, CondOp::Eq, ""));
    let diags = preflight(&b.build());
    assert_eq!(
        messages(&diags),
        [
            "value of $SERVER[\"socket\"] must not be empty",
            "getaddrinfo failed: Name or service not known '127.0.0.1:8080'",
        ]
    );
    assert!(diags[1].help.is_some());
}

#[test]
fn preflight_checks_event_handler_and_network_keys() {
    let mut b = base();
    b.set(0, "server.bind", s("127.0.0.1"))
        .set(0, "server.event-handler", s("bogus"))
        .set(0, "server.listen-backlog", s("x"));
    let m = messages(&preflight(&b.build()));
    assert_eq!(
        m,
        [
            "the selected event-handler in unknown or not supported: bogus",
            "setting default values failed",
            "got a string but expected an integer: server.listen-backlog x",
        ]
    );
}

#[test]
fn preflight_upload_dirs_missing_is_a_warning() {
    let mut b = base();
    b.set(0, "server.bind", s("127.0.0.1")).set(
        0,
        "server.upload-dirs",
        list(&["/nonexistent-lighttpd-rs"]),
    );
    let diags = preflight(&b.build());
    assert_eq!(
        messages(&diags),
        ["server.upload-dirs doesn't exist: /nonexistent-lighttpd-rs"]
    );
    assert!(!diags[0].is_error());
}

#[test]
fn lighttpd_messages_stop_after_the_first_failing_phase() {
    let mut b = TreeBuilder::new();
    b.set(0, "server.max-fds", s("abc"))
        .set(0, "server.http-parseopts", kv(&[("x", "y")]))
        .set(0, "server.tag", Value::Int(5))
        .set(0, "foo.bar", s("1"));
    let tree = b.build();
    assert_eq!(
        messages(&lighttpd_messages(&tree, true)),
        ["got a string but expected a short: server.max-fds abc"]
    );
    assert_eq!(syntax_check(&tree).len(), 4, "check reports every problem");
    let mut b = base();
    b.set(0, "server.bind", s("127.0.0.1"))
        .set(0, "foo.bar", s("1"));
    let tree = b.build();
    assert!(
        lighttpd_messages(&tree, false).is_empty(),
        "-t does not check unknown keys"
    );
    assert_eq!(
        messages(&lighttpd_messages(&tree, true)),
        ["WARNING: unknown config-key: foo.bar (ignored)"]
    );
}

#[test]
fn preflight_checks_network_backend() {
    let mut b = base();
    b.set(0, "server.bind", s("127.0.0.1"))
        .set(0, "server.network-backend", s("writeev"));
    let diags = preflight(&b.build());
    assert_eq!(
        messages(&diags),
        ["server.network-backend has an unknown value: writeev"]
    );
    assert_eq!(diags[0].help.as_deref(), Some("did you mean `writev`?"));
    let mut b = base();
    b.set(0, "server.bind", s("127.0.0.1"))
        .set(0, "server.network-backend", s(""));
    assert!(preflight(&b.build()).is_empty());
}

#[test]
fn preflight_notes_deprecated_compress_keys() {
    let mut b = base();
    b.set(0, "server.bind", s("127.0.0.1"))
        .set(0, "server.modules", list(&["mod_compress"]))
        .set(0, "compress.cache-dir", s("/tmp"));
    let tree = b.build();
    assert_eq!(
        messages(&preflight(&tree)),
        ["DEPRECATED: compress.cache-dir replaced with deflate.cache-dir"]
    );
}

#[test]
fn tls_keys_are_checked_while_plugins_initialise() {
    let mut b = base();
    b.set(0, "server.bind", s("127.0.0.1"))
        .set(0, "server.modules", list(&["mod_openssl"]))
        .set(0, "ssl.pemfile", s("/x.pem"));
    let h = b.block(0, cond(CondField::Host, CondOp::Eq, "x"));
    b.set(h, "ssl.cipher-list", s("HIGH"))
        .set(h, "ssl.stek-file", s("/k"));
    let sock = b.block(0, cond(CondField::ServerSocket, CondOp::Match, "443$"));
    b.set(sock, "ssl.cipher-list", s("HIGH"));
    assert_eq!(
        messages(&preflight(&b.build())),
        [
            "WARNING: ssl.cipher-list must be in global scope or $SERVER[\"socket\"] with '==', or else is ignored",
            "DEPRECATED: do not set server options in conditionals, variable: ssl.stek-file",
            "WARNING: ssl.cipher-list must be in global scope or $SERVER[\"socket\"] with '==', or else is ignored",
            "ssl.cipher-list is valid only in global scope or $SERVER[\"socket\"] condition",
            "ssl.stek-file is valid only in global scope or $SERVER[\"socket\"] condition",
        ]
    );
    let mut b = base();
    b.set(0, "server.bind", s("127.0.0.1"))
        .set(0, "server.modules", list(&["mod_openssl"]))
        .set(0, "ssl.privkey", Value::Int(1));
    assert_eq!(
        messages(&lighttpd_preflight(&b.build(), &Lighttpd1469)),
        [
            "ssl.privkey should have been a string like ... = \"...\"",
            "Initialization of plugins failed. Going down.",
        ]
    );
}

#[test]
fn privileges_need_existing_non_root_accounts() {
    let mut b = base();
    b.set(0, "server.username", s("no-such-user-lighttpd-rs"));
    let mut out = Vec::new();
    check_privileges(&b.build(), &mut out);
    assert_eq!(
        messages(&out),
        ["can't find username no-such-user-lighttpd-rs"]
    );
    let mut b = base();
    b.set(0, "server.groupname", s("no-such-group-lighttpd-rs"));
    let mut out = Vec::new();
    check_privileges(&b.build(), &mut out);
    assert_eq!(
        messages(&out),
        ["can't find groupname no-such-group-lighttpd-rs"]
    );
    let mut b = base();
    b.set(0, "server.username", s("root"));
    let mut out = Vec::new();
    check_privileges(&b.build(), &mut out);
    assert_eq!(
        messages(&out),
        ["I will not set uid to 0.  Perhaps you should comment out server.username in lighttpd.conf\\n"]
    );
    let mut out = Vec::new();
    check_privileges(&base().build(), &mut out);
    assert!(out.is_empty());
}

#[test]
fn missing_modules_lighttpd_stops_at_the_first_check_shows_all() {
    let mut b = base();
    b.set(0, "server.bind", s("127.0.0.1"))
        .set(0, "server.modules", list(&["mod_secdownload", "mod_foo"]))
        .set(0, "secdownload.secret", s("x"));
    let tree = b.build();
    let all = preflight(&tree);
    assert_eq!(
        messages(&all),
        [
            "dlopen() failed for: /usr/lib/lighttpd/mod_secdownload.so /usr/lib/lighttpd/mod_secdownload.so: cannot open shared object file: No such file or directory",
            "loading plugins finally failed",
            "dlopen() failed for: /usr/lib/lighttpd/mod_foo.so /usr/lib/lighttpd/mod_foo.so: cannot open shared object file: No such file or directory",
            "WARNING: unknown config-key: secdownload.secret (ignored)",
        ]
    );
    assert_eq!(
        all[0].help.as_deref(),
        Some("mod_secdownload is not part of lighttpd 1.4.69 (removed upstream)")
    );
    assert_eq!(
        all[3].help.as_deref(),
        Some("mod_secdownload is not part of lighttpd 1.4.69 (removed upstream)")
    );
    assert_eq!(lighttpd_preflight(&tree, &Lighttpd1469).len(), 2);
}

#[test]
fn preflight_warns_about_mod_indexfile_after_a_handler() {
    let mut b = base();
    b.set(0, "server.bind", s("127.0.0.1"))
        .set(0, "index-file.names", list(&["index.html"]))
        .set(
            0,
            "server.modules",
            list(&["mod_proxy", "mod_cgi", "mod_fastcgi", "mod_indexfile"]),
        );
    assert_eq!(
        messages(&preflight(&b.build())),
        ["Warning: mod_indexfile should be listed in server.modules prior to mod_cgi"]
    );
    let mut b = base();
    b.set(0, "server.bind", s("127.0.0.1"))
        .set(0, "index-file.names", list(&["index.html"]))
        .set(
            0,
            "server.modules",
            list(&["mod_proxy", "mod_indexfile", "mod_cgi"]),
        );
    assert!(messages(&preflight(&b.build())).is_empty());
    // not listed: added first
    let mut b = base();
    b.set(0, "server.bind", s("127.0.0.1"))
        .set(0, "index-file.names", list(&["index.html"]))
        .set(0, "server.modules", list(&["mod_fastcgi"]));
    assert!(messages(&preflight(&b.build())).is_empty());
}

#[test]
fn value_tobool_follows_config_plugin_value_tobool() {
    for (v, want) in [
        (s("Enabled"), Some(true)),
        (s("TRUE"), Some(true)),
        (s("1"), Some(true)),
        (s("disabled"), Some(false)),
        (s("0"), Some(false)),
        (s("on"), None),
        (s(""), None),
        (Value::Int(7), Some(true)),
        (Value::Int(0), Some(false)),
        (list(&["enable"]), None),
    ] {
        assert_eq!(value_tobool(&v), want, "{v:?}");
    }
}
