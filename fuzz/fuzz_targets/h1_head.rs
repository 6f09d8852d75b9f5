//! Fuzz the HTTP/1 head parser: never panic, and a success must report a
//! head length within the input that ends with the blank line.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lighttpd::config::core::ParseOpts;
use lighttpd::http::h1::parse_head;

fuzz_target!(|data: &[u8]| {
    // first byte picks a few options so the lax paths are exercised too
    let Some((&flags, buf)) = data.split_first() else {
        return;
    };
    let opts = ParseOpts {
        header_strict: flags & 1 == 0,
        host_strict: flags & 2 == 0,
        method_get_body: flags & 4 != 0,
        url_normalize: flags & 8 == 0,
        ..ParseOpts::default()
    };
    if let Ok(Some((head, n))) = parse_head(buf, &opts, 8192) {
        assert!(n <= buf.len() && buf[..n].ends_with(b"\n"));
        assert!(!(head.chunked && head.content_length.is_some()));
    }
});
