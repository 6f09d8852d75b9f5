//! `lighttpd check` end to end: the real binary on config files.

use std::path::PathBuf;
use std::process::{Command, Output};

fn temp_conf(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lighttpd-rs-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write config");
    path
}

fn check(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lighttpd"))
        .arg("check")
        .args(args)
        .output()
        .expect("run lighttpd check")
}

/// What the user sees: stdout then stderr (diagnostics of a failed check
/// go to stderr, a passing report to stdout).
fn stdout(o: &Output) -> String {
    let mut s = String::from_utf8_lossy(&o.stdout).into_owned();
    s += &String::from_utf8_lossy(&o.stderr);
    s
}

#[test]
fn good_config_passes() {
    let conf = temp_conf(
        "good.conf",
        "server.document-root = \"/tmp\"\nserver.bind = \"127.0.0.1\"\nserver.port = 8080\n\
         index-file.names = (\"index.html\")\n",
    );
    let o = check(&["-f", conf.to_str().unwrap_or_default()]);
    assert_eq!(stdout(&o), "configuration OK\n");
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn every_problem_is_reported_with_file_line_column() {
    let text = "server.document-root = \"/tmp\"\nserver.bind = \"127.0.0.1\"\n\
                server.port = \"http\"\nserver.modules = (\"mod_rewrit\")\n\
                $HTTP[\"host\"] == \"x\" {\n  server.max-worker = 4\n  server.follow-symlink = \"yes\"\n}\n\
                url.rewrite-once = (\"a\" => \"b\")\n";
    let conf = temp_conf("bad.conf", text);
    let path = conf.to_str().unwrap_or_default();
    let o = check(&["-f", path]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(255));
    assert!(out.contains(&format!(
        "error: got a string but expected a short: server.port http\n --> {path}:3:1\n  |\n3 | server.port = \"http\"\n  | ^^^^^^^^^^^^^^^^^^^^\n"
    )), "{out}");
    assert!(out.contains(&format!("warning: DEPRECATED: do not set server options in conditionals, variable: server.max-worker\n --> {path}:6:3\n")), "{out}");
    assert!(
        out.contains(
            "error: unexpected type for key: server.follow-symlink (string) \"(enable|disable)\""
        ),
        "{out}"
    );
    assert!(
        out.contains("error: dlopen() failed for: /usr/lib/lighttpd/mod_rewrit.so"),
        "{out}"
    );
    assert!(out.contains("= help: did you mean `mod_rewrite`?"), "{out}");
    assert!(
        out.contains(&format!(
            "warning: unknown config-key: url.rewrite-once (ignored)\n --> {path}:9:1\n"
        )),
        "{out}"
    );
    assert!(
        out.ends_with("check failed: 4 errors, 2 warnings\n"),
        "{out}"
    );
}

#[test]
fn json_lines_and_explain() {
    let text = "server.document-root = \"/tmp\"\nserver.bind = \"127.0.0.1\"\n\
                $HTTP[\"url\"] =~ \"^/api/\" {\n  server.document-root = \"/srv/api\"\n}\nfoo.bar = 1\n";
    let conf = temp_conf("explain.conf", text);
    let path = conf.to_str().unwrap_or_default();
    let o = check(&["-f", path, "--format", "json"]);
    assert_eq!(
        stdout(&o),
        format!("{{\"severity\":\"warning\",\"message\":\"WARNING: unknown config-key: foo.bar (ignored)\",\"file\":\"{path}\",\"line\":6,\"column\":1,\"help\":\"no module of lighttpd 1.4.69 knows this key\"}}\n")
    );
    assert_eq!(o.status.code(), Some(0));
    let o = check(&[
        "-f",
        path,
        "--explain",
        "--url",
        "/api/v1?x=1",
        "--host",
        "h",
    ]);
    let out = stdout(&o);
    assert!(
        out.contains(&format!(
            "block 1 $HTTP[\"url\"] =^ \"/api/\" ({path}:3:1): matches"
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "server.document-root = \"/srv/api\"    # block 1, {path}:4:3"
        )),
        "{out}"
    );
}

#[test]
fn misspelled_condition_field_gets_a_suggestion() {
    let conf = temp_conf(
        "field.conf",
        "server.document-root = \"/tmp\"\n$HTTP[\"hots\"] == \"x\" { }\n",
    );
    let o = check(&["-f", conf.to_str().unwrap_or_default()]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(255));
    assert!(out.contains("did you mean `$HTTP[\"host\"]`?"), "{out}");
}

#[test]
fn usage_errors_exit_255() {
    let o = check(&["--bogus"]);
    assert_eq!(o.status.code(), Some(255));
    assert!(stdout(&o).contains("usage: lighttpd check"));
}
