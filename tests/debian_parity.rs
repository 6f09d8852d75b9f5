//! The Debian layout (conf-samples/debian) against lighttpd 1.4.69: `-p`
//! output and stderr, and the `-p` / `-tt` exit status, with no snippet and
//! with each conf-available snippet enabled in turn by our lighty-enable-mod,
//! the include_shell helpers of packaging/debian running for real. Expected
//! answers were recorded by compat-tests/record-debian-parity.sh, which
//! builds the same layout (see its header); neither lighttpd nor its sources
//! are needed here, perl and sh are.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const PORT: &str = "18999";

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn fixture() -> PathBuf {
    repo().join("compat-tests/configs/debian")
}

/// Build the record script's layout in `t` (emptied first).
fn layout(t: &Path) {
    let _ = std::fs::remove_dir_all(t);
    let (etc, share) = (t.join("etc"), t.join("share"));
    for d in [
        etc.join("conf-enabled"),
        etc.join("conf-available"),
        share.clone(),
    ] {
        std::fs::create_dir_all(d).expect("mkdir");
    }
    std::fs::create_dir_all(t.join("www")).expect("mkdir");
    let available = repo().join("conf-samples/debian/conf-available");
    for entry in std::fs::read_dir(&available)
        .expect("conf-available")
        .flatten()
    {
        std::fs::copy(
            entry.path(),
            etc.join("conf-available").join(entry.file_name()),
        )
        .expect("copy snippet");
    }
    let helpers = repo().join("packaging/debian");
    std::fs::copy(helpers.join("use-ipv6.pl"), share.join("use-ipv6.pl")).expect("copy");
    let mime = std::fs::read_to_string(helpers.join("create-mime.conf.pl")).expect("read");
    let mime = mime.replace(
        "/etc/mime.types",
        &fixture().join("mime.types").display().to_string(),
    );
    std::fs::write(share.join("create-mime.conf.pl"), mime).expect("write");
    for helper in ["use-ipv6.pl", "create-mime.conf.pl"] {
        let _ = Command::new("chmod")
            .arg("755")
            .arg(share.join(helper))
            .status();
    }
    let main = std::fs::read_to_string(repo().join("conf-samples/debian/lighttpd.conf"))
        .expect("lighttpd.conf");
    let dropped = [
        "server.username",
        "server.groupname",
        "server.errorlog",
        "server.pid-file",
    ];
    let mut conf = String::new();
    for line in main.lines() {
        if dropped.iter().any(|k| line.starts_with(k)) {
            continue;
        }
        let line = if line.starts_with("server.port ") {
            format!("server.port = {PORT}")
        } else {
            line.replace("/etc/lighttpd/", &format!("{}/", etc.display()))
                .replace("/usr/share/lighttpd/", &format!("{}/", share.display()))
                .replace("\"/var/www/html\"", &format!("\"{}/www\"", t.display()))
        };
        conf += &line;
        conf.push('\n');
    }
    std::fs::write(etc.join("lighttpd.conf"), conf).expect("write lighttpd.conf");
}

/// `lighty-enable-mod NAME` on the layout.
fn enable(t: &Path, name: &str) {
    let out = Command::new("sh")
        .arg(repo().join("packaging/debian/lighty-enable-mod"))
        .arg(name)
        .env("LIGHTTPD_CONFDIR", format!("{}/", t.join("etc").display()))
        .stdin(Stdio::null())
        .output()
        .expect("sh runs lighty-enable-mod");
    assert_eq!(out.status.code(), Some(0), "lighty-enable-mod {name}");
}

/// Run our binary from `t/etc`: (exit code, stdout, stderr).
fn run(t: &Path, flag: &str) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_lighttpd"))
        .args([flag, "-f", "lighttpd.conf"])
        .current_dir(t.join("etc"))
        .stdin(Stdio::null())
        .output()
        .expect("run lighttpd-rs");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (
        out.status.code().unwrap_or(-1),
        text(&out.stdout),
        text(&out.stderr),
    )
}

/// The record script's normalisation: var.CWD / var.PID values, log
/// prefixes, the layout directory.
fn normalise(s: &str, t: &Path) -> String {
    let cwd = regex::Regex::new(r#"(?m)^( *var\.CWD +=) .*$"#).expect("regex");
    let pid = regex::Regex::new(r"(?m)^( *var\.PID +=) .*$").expect("regex");
    let log = regex::Regex::new(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}: \([^)]*\) ").expect("regex");
    let s = cwd.replace_all(s, "$1 \"<CWD>\"");
    let s = pid.replace_all(&s, "$1 <PID>");
    let s = log.replace_all(&s, "TS: ");
    s.replace(&t.display().to_string(), "<T>")
}

/// Without IPv6, use-ipv6.pl prints nothing: drop its listener block (and
/// blank lines) from both sides.
fn without_ipv6_block(s: &str) -> String {
    let socket = format!("$SERVER[\"socket\"] == \"[::]:{PORT}\"");
    let mut out = String::new();
    let mut inside = false;
    for line in s.lines() {
        if line.trim_start().starts_with(&socket) {
            inside = true;
            continue;
        }
        if inside || line.trim().is_empty() {
            inside &= !line.trim_start().starts_with('}');
            continue;
        }
        out += line;
        out.push('\n');
    }
    out
}

/// The module our `-tt` could not load, when that is all that failed and
/// lighttpd-rs does not build it in (README "Differences").
fn only_missing_module(err: &str) -> Option<String> {
    let lines: Vec<&str> = err.lines().collect();
    let [load, last] = lines[..] else { return None };
    if !last.ends_with(") loading plugins finally failed") {
        return None;
    }
    let (_, path) = load.split_once("dlopen() failed for: /usr/lib/lighttpd/")?;
    let name = path.split_once(".so ")?.0;
    let built_in = lighttpd::plugin::registry::BUILTIN
        .iter()
        .any(|(n, _)| *n == name);
    (!built_in).then(|| name.to_string())
}

fn tool_available(cmd: &str, args: &[&str]) -> bool {
    Command::new(cmd)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// One case: "none" or a snippet NAME; mismatches go to `bad`.
fn check_case(t: &Path, case: &str, ipv6: bool, bad: &mut Vec<String>) {
    let read = |ext: &str| {
        std::fs::read_to_string(fixture().join("expected").join(format!("{case}.{ext}")))
            .unwrap_or_default()
    };
    let status = read("status");
    let rc = |k: &str| -> i32 {
        status
            .split_whitespace()
            .find_map(|kv| kv.strip_prefix(k)?.strip_prefix('=')?.parse().ok())
            .unwrap_or_else(|| panic!("{case}.status: no {k}"))
    };
    layout(t);
    if case != "none" {
        enable(t, case);
    }
    let (p, out, err) = run(t, "-p");
    let (mut out, mut want) = (normalise(&out, t), read("out"));
    if !ipv6 {
        (out, want) = (without_ipv6_block(&out), without_ipv6_block(&want));
    }
    if p != rc("p") {
        bad.push(format!("{case}: -p exit {p}, lighttpd {} ({err})", rc("p")));
    } else if out != want {
        bad.push(format!(
            "{case}: -p output differs\n--- ours\n{out}--- lighttpd\n{want}"
        ));
    } else if normalise(&err, t) != read("err") {
        bad.push(format!("{case}: -p stderr differs: {err}"));
    }
    let (tt, _, err) = run(t, "-tt");
    if tt != rc("tt") && !(tt == 255 && only_missing_module(&err).is_some()) {
        bad.push(format!(
            "{case}: -tt exit {tt}, lighttpd {} ({err})",
            rc("tt")
        ));
    }
}

#[test]
fn debian_layout_matches_lighttpd_with_each_snippet() {
    if !tool_available("perl", &["-e1"]) || !tool_available("sh", &["-c", "true"]) {
        eprintln!("perl or sh missing: skipped");
        return;
    }
    let mut cases: Vec<String> =
        std::fs::read_dir(repo().join("conf-samples/debian/conf-available"))
            .expect("conf-available")
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_str()?.strip_suffix(".conf")?.to_string();
                Some(name.split_once('-')?.1.to_string())
            })
            .collect();
    cases.sort();
    let recorded = std::fs::read_dir(fixture().join("expected"))
        .expect("expected")
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.ends_with(".status"))
        })
        .count();
    assert_eq!(
        recorded,
        cases.len() + 1,
        "a snippet was added or removed: run compat-tests/record-debian-parity.sh"
    );
    let t = std::env::temp_dir().join(format!("lhrs-debian-parity-{}", std::process::id()));
    let ipv6 = std::net::TcpListener::bind("[::1]:0").is_ok()
        || std::net::TcpListener::bind("[::]:0").is_ok();
    let mut bad = Vec::new();
    for case in std::iter::once("none".to_string()).chain(cases) {
        check_case(&t, &case, ipv6, &mut bad);
    }
    let _ = std::fs::remove_dir_all(&t);
    assert!(
        bad.is_empty(),
        "{} mismatches:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

#[test]
fn ipv6_block_filter_removes_only_that_block() {
    let printed = "config {\n    a = 1\n\n\n    $SERVER[\"socket\"] == \"[::]:18999\" {\n        # block 1\n\n    } # end of $SERVER[\"socket\"] == \"[::]:18999\"\n    b = 2\n}\n";
    assert_eq!(
        without_ipv6_block(printed),
        "config {\n    a = 1\n    b = 2\n}\n"
    );
}
