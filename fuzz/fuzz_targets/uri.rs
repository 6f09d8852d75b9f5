//! Fuzz URL normalisation: never panic; a normalised target is stable
//! (normalising it again changes nothing) and its path starts with '/'.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lighttpd::config::core::ParseOpts;
use lighttpd::http::uri::{parse_target_bytes, path_simplify};

fuzz_target!(|data: &[u8]| {
    let opts = ParseOpts::default();
    if let Ok(t) = parse_target_bytes(data, &opts) {
        assert!(t.path.starts_with('/'));
        let again = parse_target_bytes(t.target.as_bytes(), &opts).expect("normalised target rejected");
        assert_eq!(again.target, t.target);
    }
    let s = path_simplify(data);
    assert!(s.len() <= data.len() + 1);
});
