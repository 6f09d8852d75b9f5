//! Differential compatibility test: every case in compat-tests/cases/ replayed against our
//! binary and compared with the answers recorded from lighttpd 1.4.69 (see
//! compat-tests/README.md). Cases marked `xfail:` must differ; any other difference, and
//! any xfail case that now matches, fails the test.

mod compat_support;

use std::path::Path;

#[test]
fn compat_cases_match_lighttpd_1_4_69() {
    let failures = compat_support::run_all(Path::new(env!("CARGO_BIN_EXE_lighttpd")));
    assert!(
        failures.is_empty(),
        "{} compat failure(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}
