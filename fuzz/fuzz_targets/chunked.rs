//! Fuzz the chunked decoder: feeding the input whole or split at an
//! arbitrary point must give the same outcome, and never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lighttpd::http::chunked::ChunkedDecoder;

fn run(parts: &[&[u8]]) -> Result<(Vec<u8>, usize, bool), u16> {
    let mut d = ChunkedDecoder::with_limits(1 << 20, 8192);
    let mut out = Vec::new();
    let mut used = 0;
    for p in parts {
        if d.is_done() {
            break;
        }
        used += d.decode(p, &mut out)?;
    }
    Ok((out, used, d.is_done()))
}

fuzz_target!(|data: &[u8]| {
    let Some((&cut, input)) = data.split_first() else {
        return;
    };
    let at = usize::from(cut).min(input.len());
    let whole = run(&[input]);
    let split = run(&[&input[..at], &input[at..]]);
    assert_eq!(whole, split);
    if let Ok((out, used, _)) = whole {
        assert!(used <= input.len() && out.len() <= input.len());
    }
});
