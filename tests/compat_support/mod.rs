//! Differential compatibility harness: replays every case in compat-tests/cases/ against
//! a server and compares with the answers recorded from lighttpd 1.4.69
//! (compat-tests/README.md explains the formats and the scripts around it).
//!
//! Environment: `COMPAT_SERVER` (binary to test, default ours), `COMPAT_RECORD=1` (write
//! compat-tests/expected/ instead of comparing), `COMPAT_CASES` (comma-separated name
//! substrings), `COMPAT_JOBS` (parallel cases, default 6), `COMPAT_REPORT` (file that
//! receives one `name<TAB>result<TAB>detail` line per case, read by compat-tests/mark-xfail),
//! `COMPAT_IGNORE_XFAIL=1` (treat every case as unmarked: used to check the recordings
//! against lighttpd itself).

pub mod case;
pub mod client;
pub mod escape;
pub mod framing;
pub mod outcome;
pub mod run;
pub mod server;
pub mod tls;

use case::Case;
use run::{run_case, Settings, Verdict};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Runs all selected cases; returns the failures (empty = the run is green).
pub fn run_all(default_exe: &Path) -> Vec<String> {
    let compat_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("compat-tests");
    let exe =
        std::env::var_os("COMPAT_SERVER").map_or_else(|| default_exe.to_path_buf(), PathBuf::from);
    let record = std::env::var("COMPAT_RECORD").is_ok_and(|v| v == "1");
    let (mut cases, mut failures) = load_cases(&compat_dir.join("cases"));
    if std::env::var("COMPAT_IGNORE_XFAIL").is_ok_and(|v| v == "1") {
        cases.iter_mut().for_each(|c| c.xfail = None);
    }
    let certs = match tls::known_certs(&compat_dir.join("tls")) {
        Ok(certs) => std::sync::Arc::new(certs),
        Err(e) => return vec![format!("fixture certificates: {e}")],
    };
    let settings = Settings {
        compat_dir: &compat_dir,
        exe: &exe,
        record,
        timing: run::default_timing(),
        certs,
    };
    let jobs = std::env::var("COMPAT_JOBS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(6usize)
        .max(1);
    let next = AtomicUsize::new(0);
    let results = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| {
                while let Some(case) = cases.get(next.fetch_add(1, Ordering::SeqCst)) {
                    let verdict = run_case(case, &settings);
                    if let Ok(mut results) = results.lock() {
                        results.push((case.name.clone(), case.xfail.clone(), verdict));
                    }
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap_or_default();
    results.sort_by(|a, b| a.0.cmp(&b.0));
    failures.extend(summarise(&results, &exe));
    failures
}

fn load_cases(dir: &Path) -> (Vec<Case>, Vec<String>) {
    let filters: Vec<String> = std::env::var("COMPAT_CASES")
        .map(|v| {
            v.split(',')
                .map(str::to_string)
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    paths.retain(|p| p.extension().is_some_and(|e| e == "case"));
    paths.sort();
    let mut cases = Vec::new();
    let mut errors = Vec::new();
    for path in paths {
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        if !filters.is_empty() && !filters.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        match Case::load(&path) {
            Ok(case) => cases.push(case),
            Err(e) => errors.push(format!("{name}: bad case file: {e}")),
        }
    }
    (cases, errors)
}

fn summarise(results: &[(String, Option<String>, Verdict)], exe: &Path) -> Vec<String> {
    let mut failures = Vec::new();
    let (mut matched, mut xfailed, mut recorded, mut flaky) = (0, 0, 0, 0);
    let mut report = String::new();
    for (name, xfail, verdict) in results {
        let (kind, detail) = match verdict {
            Verdict::Match => ("match", String::new()),
            Verdict::Flaky(d) => ("match", format!("matched on the second try; first: {d}")),
            Verdict::Differ(d) => ("differ", d.clone()),
            Verdict::Broken(d) => ("broken", d.clone()),
            Verdict::Recorded => ("recorded", String::new()),
        };
        report.push_str(&format!(
            "{name}\t{kind}\t{}\n",
            detail.replace(['\t', '\n'], " ")
        ));
        match (verdict, xfail) {
            (Verdict::Recorded, _) => recorded += 1,
            (Verdict::Match, None) => matched += 1,
            (Verdict::Flaky(d), _) => {
                matched += 1;
                flaky += 1;
                let _ = writeln!(
                    std::io::stderr(),
                    "compat: {name} matched only on the second try ({d})"
                );
            }
            (Verdict::Match, Some(_)) => {
                matched += 1;
                failures.push(format!(
                    "{name}: passes now but is marked xfail — remove the mark"
                ));
            }
            (Verdict::Differ(_), Some(_)) => xfailed += 1,
            (Verdict::Differ(d), None) => failures.push(format!("{name}: {d}")),
            (Verdict::Broken(d), _) => failures.push(format!("{name}: broken case: {d}")),
        }
    }
    if let Some(path) = std::env::var_os("COMPAT_REPORT") {
        if let Err(e) = std::fs::write(&path, report) {
            failures.push(format!("cannot write COMPAT_REPORT: {e}"));
        }
    }
    let line = if recorded > 0 {
        format!(
            "compat: {} cases, {recorded} recorded from {}\n",
            results.len(),
            exe.display()
        )
    } else {
        format!(
            "compat: {} cases, {matched} match ({flaky} on retry), {xfailed} expected-fail, {} unexpected ({})\n",
            results.len(),
            failures.len(),
            exe.display()
        )
    };
    // Written straight to stderr so the summary shows even when the test passes.
    let _ = std::io::stderr().write_all(line.as_bytes());
    failures
}
