//! Fuzz the HAProxy PROXY header parser (mod_extforward hap-PROXY): never
//! panic, never consume more than given or than the 256-byte limit, and a
//! valid header cut short must ask for more bytes instead of failing.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lighttpd::modules::extforward::proxy::{parse, ProxyError, MAX_HEADER};

fuzz_target!(|data: &[u8]| {
    if let Ok(h) = parse(data) {
        assert!(h.len <= data.len() && h.len <= MAX_HEADER);
        for cut in 1..h.len {
            assert_eq!(parse(&data[..cut]), Err(ProxyError::Incomplete));
        }
    }
});
