//! The manual pages in `man/` against the code: every directive of the registry is
//! described in lighttpd.conf(5) with its real type and scope, every command-line
//! option in lighttpd(8), and the pages render without warnings from man/groff.

use lighttpd::config::check::USAGE as CHECK_USAGE;
use lighttpd::config::core::PARSEOPT_KEYS;
use lighttpd::config::directive::{Scope, DIRECTIVES};
use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The options lighttpd's `-h` text lists (`-f`, `-tt`, ...): the first word of each
/// indented line that starts with `-`.
fn lighttpd_options() -> Vec<String> {
    let usage = lighttpd::cli::usage();
    let options: Vec<String> = usage
        .lines()
        .filter_map(|line| line.strip_prefix(' '))
        .filter_map(|line| line.split_whitespace().next())
        .filter(|word| word.starts_with('-'))
        .map(String::from)
        .collect();
    assert!(options.len() >= 11, "cli::usage() changed shape: {usage}");
    options
}

/// The options of `lighttpd check`, from its usage text (`-f`, `--format`, ...).
fn check_options() -> Vec<String> {
    let options: BTreeSet<String> = CHECK_USAGE
        .split(|c: char| c.is_whitespace() || "[]".contains(c))
        .filter(|word| word.starts_with('-') && word.len() > 1)
        .map(String::from)
        .collect();
    assert!(
        options.contains("--explain"),
        "check USAGE changed shape: {CHECK_USAGE}"
    );
    options.into_iter().collect()
}

fn page_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("man").join(name)
}

fn read_page(name: &str) -> String {
    let path = page_path(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Roff source with the escapes these pages use turned back into plain text.
fn plain(roff: &str) -> String {
    roff.replace("\\-", "-")
        .replace("\\fB", "")
        .replace("\\fI", "")
        .replace("\\fR", "")
        .replace("\\(dq", "\"")
        .replace("\\e", "\\")
        .replace("\\&", "")
}

/// Directive entries of lighttpd.conf(5): (name, the line after `.B name`).
fn directive_entries(page: &str) -> Vec<(String, String)> {
    let lines: Vec<String> = page.lines().map(plain).collect();
    lines
        .windows(2)
        .filter_map(|pair| {
            let name = pair[0].strip_prefix(".B ")?;
            pair[1]
                .starts_with("Type: ")
                .then(|| (name.trim().to_string(), pair[1].clone()))
        })
        .collect()
}

fn scope_name(scope: Scope) -> &'static str {
    match scope {
        Scope::Server => "server",
        Scope::Socket => "socket",
        Scope::Connection => "connection",
    }
}

#[test]
fn every_directive_is_described_with_its_type_and_scope() {
    let entries = directive_entries(&read_page("lighttpd.conf.5"));
    let mut problems = Vec::new();
    for info in DIRECTIVES.iter() {
        let expected = format!(
            "Type: {}. Scope: {}. Default: ",
            info.ty.name(),
            scope_name(info.scope)
        );
        match entries.iter().find(|(name, _)| name == info.name) {
            None => problems.push(format!("{}: missing", info.name)),
            Some((_, line)) if !line.starts_with(&expected) => problems.push(format!(
                "{}: page says {line:?}, want {expected:?}",
                info.name
            )),
            Some(_) => {}
        }
    }
    assert!(
        problems.is_empty(),
        "man/lighttpd.conf.5 is out of date with the directive registry:\n{}",
        problems.join("\n")
    );
}

#[test]
fn every_described_directive_exists_once() {
    let entries = directive_entries(&read_page("lighttpd.conf.5"));
    let known: BTreeSet<&str> = DIRECTIVES.iter().map(|d| d.name).collect();
    let mut seen = BTreeSet::new();
    for (name, _) in &entries {
        assert!(
            known.contains(name.as_str()),
            "lighttpd.conf.5 describes {name}, which the registry does not know"
        );
        assert!(seen.insert(name.clone()), "{name} is described twice");
    }
    assert_eq!(entries.len(), DIRECTIVES.iter().len());
}

#[test]
fn every_http_parseopt_is_described() {
    let page = plain(&read_page("lighttpd.conf.5"));
    for key in PARSEOPT_KEYS {
        let tag = format!(".BR {key} \"");
        assert!(
            page.contains(&tag),
            "lighttpd.conf.5 lacks parse option {key}"
        );
    }
}

/// The option entries of a page: the first word of each `.TP` tag that starts with `-`.
fn option_tags(page: &str) -> BTreeSet<String> {
    let lines: Vec<String> = page.lines().map(plain).collect();
    lines
        .windows(2)
        .filter(|pair| pair[0] == ".TP")
        .filter_map(|pair| {
            let tag = &pair[1];
            let rest = tag
                .strip_prefix(".BI ")
                .or_else(|| tag.strip_prefix(".BR "))
                .or_else(|| tag.strip_prefix(".B "))?;
            let word = rest
                .split_whitespace()
                .next()?
                .trim_matches('"')
                .to_string();
            word.starts_with('-').then_some(word)
        })
        .collect()
}

#[test]
fn every_command_line_option_is_described() {
    let tags = option_tags(&read_page("lighttpd.8"));
    let missing: Vec<String> = lighttpd_options()
        .into_iter()
        .chain(check_options())
        .filter(|flag| !tags.contains(flag))
        .collect();
    assert!(
        missing.is_empty(),
        "lighttpd.8 lacks {missing:?}; has {tags:?}"
    );
}

#[test]
fn lighttpd_page_covers_signals_and_exit_status() {
    let page = plain(&read_page("lighttpd.8"));
    for needed in [
        ".B SIGTERM",
        ".B SIGINT",
        ".B SIGUSR1",
        ".B SIGHUP",
        ".SH EXIT STATUS",
        ".SH FILES",
        ".SH DIFFERENCES FROM LIGHTTPD",
        ".SH THE CHECK COMMAND",
    ] {
        assert!(page.contains(needed), "lighttpd.8 lacks {needed}");
    }
}

#[test]
fn enable_mod_page_gives_the_exit_codes() {
    let page = plain(&read_page("lighty-enable-mod.8"));
    for code in [".B 0", ".B 1", ".B 2"] {
        assert!(
            page.contains(code),
            "lighty-enable-mod.8 lacks exit code {code}"
        );
    }
}

/// Runs a command for at most 60 s; returns (exit ok, stderr) or None if it is missing.
fn run_bounded(cmd: &mut Command) -> Option<(bool, String)> {
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .ok()?;
    let mut pipe = child.stderr.take()?;
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = pipe.read_to_string(&mut text);
        text
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().ok()? {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} did not finish within 60 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Some((status.success(), reader.join().ok()?))
}

#[test]
fn pages_render_without_warnings() {
    let mut checked = 0;
    for name in [
        "lighttpd.8",
        "lighttpd.conf.5",
        "lighty-enable-mod.8",
        "lighttpd-angel.8",
    ] {
        let path = page_path(name);
        let man = run_bounded(
            Command::new("man")
                .args(["--warnings", "-l"])
                .arg(&path)
                .env("MANWIDTH", "80")
                .env("MAN_KEEP_FORMATTING", "0"),
        );
        let groff = run_bounded(
            Command::new("groff")
                .args(["-man", "-ww", "-z", "-t"])
                .arg(&path),
        );
        for (tool, result) in [("man --warnings", man), ("groff -ww", groff)] {
            let Some((ok, stderr)) = result else {
                eprintln!("{tool} not installed: skipping that check for {name}");
                continue;
            };
            assert!(ok, "{tool} failed on {name}: {stderr}");
            assert!(
                stderr.trim().is_empty(),
                "{tool} warns on {name}:\n{stderr}"
            );
            checked += 1;
        }
    }
    if checked == 0 {
        eprintln!("neither man nor groff installed; .ci/run installs man-db");
    }
}
