//! `-p` / `-t` / `-tt` parity with lighttpd 1.4.69 on the config fixtures in
//! compat-tests/configs/ (lighttpd's doc/config and tests/*.conf, and our own
//! cases). The expected answers were recorded from the real lighttpd by
//! compat-tests/record-config-parity.sh; this test needs neither lighttpd
//! nor its sources. The `preflight` suite (module set-up errors) is also
//! compared on `-tt`'s exit status and messages.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const SUITES: [&str; 4] = ["upstream/doc", "upstream/tests", "cases", "preflight"];

fn configs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("compat-tests/configs")
}

/// Run our binary like the record script runs lighttpd.
fn run(dir: &Path, flag: &str, conf: &str) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_lighttpd"))
        .args([flag, "-f", conf])
        .current_dir(dir)
        .env("SRCDIR", ".")
        .env("EPHEMERAL_PORT", "10000")
        .env("PORT", "2048")
        .env("PERL", "/usr/bin/perl")
        .env("env_test", "good_env")
        .env("condition_include_file", "var-include-sub.conf")
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

/// The record script's normalisation of `-p` stdout (the checkout's path → `<REPO>`).
fn normalise_out(s: &str) -> String {
    let s = s.replace(env!("CARGO_MANIFEST_DIR"), "<REPO>");
    s.lines()
        .map(|l| {
            let t = l.trim_start();
            let (key, rest) = t.split_once(' ').unwrap_or((t, ""));
            let pad = &l[..l.len() - t.len()];
            match key {
                "var.CWD" | "var.PID" if rest.trim_start().starts_with('=') => {
                    let eq = &rest[..rest.find('=').map_or(0, |i| i + 1)];
                    let v = if key == "var.CWD" {
                        "\"<CWD>\""
                    } else {
                        "<PID>"
                    };
                    format!("{pad}{key} {eq} {v}")
                }
                _ => l.to_string(),
            }
        })
        .map(|l| l + "\n")
        .collect()
}

/// The record script's normalisation of stderr: log prefixes → `TS: `.
fn normalise_err(s: &str) -> String {
    let prefix =
        regex::Regex::new(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}: \([^)]*\) ").expect("regex");
    prefix
        .replace_all(s, "TS: ")
        .replace(env!("CARGO_MANIFEST_DIR"), "<REPO>")
}

/// PCRE2's compile error texts are not ours (we use the `regex` crate): the
/// text between `pcre2_compile: ` and `, regex: ` (on one line, as
/// lighttpd's) is left out of comparisons.
fn normalise_pcre(s: &str) -> String {
    let text = regex::Regex::new(r"pcre2_compile: [^\n]*?, regex: ").expect("regex");
    text.replace_all(s, "pcre2_compile: <PCRE>, regex: ")
        .into_owned()
}

struct Case {
    dir: PathBuf,
    name: String,
    status: (i32, i32, i32),
    out: String,
    err: String,
    /// `-tt` stderr (recorded for the `preflight` suite only)
    tt_err: Option<String>,
}

fn cases() -> Vec<Case> {
    let mut all = Vec::new();
    for suite in SUITES {
        let dir = configs_dir().join(suite);
        let mut names: Vec<String> = std::fs::read_dir(dir.join("expected"))
            .expect("expected dir")
            .flatten()
            .filter_map(|e| {
                e.file_name()
                    .to_str()?
                    .strip_suffix(".status")
                    .map(String::from)
            })
            .collect();
        names.sort();
        for name in names {
            let read = |ext: &str| {
                std::fs::read_to_string(dir.join("expected").join(format!("{name}.{ext}")))
            };
            let status_line = read("status").expect("status");
            let rc = |k: &str| -> i32 {
                status_line
                    .split_whitespace()
                    .find_map(|kv| kv.strip_prefix(k)?.strip_prefix('=')?.parse().ok())
                    .expect("status value")
            };
            let status = (rc("p"), rc("t"), rc("tt"));
            let out = read("out").unwrap_or_default();
            let err = read("err").unwrap_or_default();
            let tt_err = read("tt.err").ok();
            all.push(Case {
                dir: dir.clone(),
                name,
                status,
                out,
                err,
                tt_err,
            });
        }
    }
    assert!(all.len() > 100, "fixtures missing: {} cases", all.len());
    let with_tt = all.iter().filter(|c| c.tt_err.is_some()).count();
    assert!(with_tt >= 20, "preflight fixtures missing: {with_tt}");
    all
}

#[test]
fn print_output_and_status_match_lighttpd() {
    let mut bad = Vec::new();
    for c in cases() {
        let conf = format!("{}.conf", c.name);
        let (rc, out, err) = run(&c.dir, "-p", &conf);
        let label = c.dir.join(&conf).display().to_string();
        if rc != c.status.0 {
            bad.push(format!(
                "{label}: -p exit {rc}, lighttpd {} (stderr: {err})",
                c.status.0
            ));
        } else if normalise_out(&out) != c.out {
            bad.push(format!(
                "{label}: -p output differs\n--- ours\n{}--- lighttpd\n{}",
                normalise_out(&out),
                c.out
            ));
        } else if normalise_err(&err) != c.err {
            bad.push(format!(
                "{label}: -p stderr differs\n--- ours\n{}--- lighttpd\n{}",
                normalise_err(&err),
                c.err
            ));
        }
    }
    assert!(
        bad.is_empty(),
        "{} mismatches:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

#[test]
fn test_flag_status_matches_lighttpd() {
    let mut bad = Vec::new();
    for c in cases() {
        let conf = format!("{}.conf", c.name);
        let (rc, out, err) = run(&c.dir, "-t", &conf);
        if rc != c.status.1 {
            bad.push(format!(
                "{}/{conf}: -t exit {rc}, lighttpd {} ({err})",
                c.dir.display(),
                c.status.1
            ));
        } else if rc == 0 && out != "Syntax OK\n" {
            bad.push(format!("{}/{conf}: -t printed {out:?}", c.dir.display()));
        }
    }
    assert!(
        bad.is_empty(),
        "{} mismatches:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

/// The module a failed `-tt` could not load, if that is all that failed
/// and it is one lighttpd-rs does not build in (lighttpd, recorded where
/// its `.so` is installed, loads it; see README "Differences").
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

/// `-tt` also depends on the machine (users, groups, module files), so it is
/// compared only where the recorded run succeeded: a config lighttpd
/// accepts must be accepted, unless it loads a module we do not build in.
#[test]
fn preflight_accepts_what_lighttpd_accepts() {
    let mut bad = Vec::new();
    for c in cases().into_iter().filter(|c| c.status.2 == 0) {
        let conf = format!("{}.conf", c.name);
        let (rc, _, err) = run(&c.dir, "-tt", &conf);
        if rc != 0 && only_missing_module(&err).is_none() {
            bad.push(format!("{}/{conf}: -tt exit {rc} ({err})", c.dir.display()));
        }
    }
    assert!(
        bad.is_empty(),
        "{} mismatches:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

#[test]
fn normalisation_matches_the_record_script() {
    assert_eq!(
        normalise_err("2026-11-25 19:46:59: (server.c.1282) Invalid\nx\n"),
        "TS: Invalid\nx\n"
    );
    let s = "config {\n    var.CWD     = \"/x\"\n    var.PID     = 42\n    var.CWDX = 1\n}\n";
    assert_eq!(
        normalise_out(s),
        "config {\n    var.CWD     = \"<CWD>\"\n    var.PID     = <PID>\n    var.CWDX = 1\n}\n"
    );
}

/// `-tt` constructs the modules as lighttpd runs their `set_defaults`: the
/// exit status and the messages of module set-up errors match lighttpd's.
#[test]
fn preflight_messages_match_lighttpd() {
    let mut bad = Vec::new();
    for c in cases() {
        let Some(expected) = &c.tt_err else { continue };
        let conf = format!("{}.conf", c.name);
        let (rc, _, err) = run(&c.dir, "-tt", &conf);
        let label = c.dir.join(&conf).display().to_string();
        let ours = normalise_pcre(&normalise_err(&err));
        if rc != c.status.2 {
            bad.push(format!(
                "{label}: -tt exit {rc}, lighttpd {} ({err})",
                c.status.2
            ));
        } else if ours != normalise_pcre(expected) {
            bad.push(format!(
                "{label}: -tt stderr differs\n--- ours\n{ours}--- lighttpd\n{expected}"
            ));
        }
    }
    assert!(
        bad.is_empty(),
        "{} mismatches:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

/// The shipped module samples (conf-samples/modules/mod_*.conf), each
/// included into a minimal config as packaging/check-samples does: `-tt`
/// accepts those of built-in modules without unknown-key warnings, and
/// refuses the others exactly as lighttpd does without their `.so`.
#[test]
fn module_samples_pass_preflight_or_name_the_missing_module() {
    let samples = Path::new(env!("CARGO_MANIFEST_DIR")).join("conf-samples/modules");
    let dir = std::env::temp_dir().join(format!("lhrs-samples-tt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut names: Vec<PathBuf> = std::fs::read_dir(&samples)
        .expect("conf-samples/modules")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "conf"))
        .collect();
    names.sort();
    assert!(names.len() > 30, "samples missing");
    let mut bad = Vec::new();
    let mut built_in = 0;
    for sample in names {
        let module = sample.file_stem().and_then(|s| s.to_str()).unwrap_or("");
        if module == "mod_openssl" {
            continue; // its certificate files do not exist here (as check-samples)
        }
        let conf = dir.join(format!("{module}.conf"));
        std::fs::write(
            &conf,
            format!(
                "server.document-root = \"{d}\"\nserver.bind = \"127.0.0.1\"\nserver.port = 18999\ninclude \"{s}\"\n",
                d = dir.display(),
                s = sample.display()
            ),
        )
        .expect("write");
        let (rc, _, err) = run(&dir, "-tt", &conf.display().to_string());
        let is_built_in = lighttpd::plugin::registry::BUILTIN
            .iter()
            .any(|(n, _)| *n == module);
        if is_built_in {
            built_in += 1;
            if rc != 0 || err.contains("unknown config-key") {
                bad.push(format!("{module}: -tt exit {rc}: {err}"));
            }
        } else if rc != 255 || only_missing_module(&err).is_none() {
            bad.push(format!("{module} (not built in): -tt exit {rc}: {err}"));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(built_in >= 20, "only {built_in} built-in module samples");
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}
