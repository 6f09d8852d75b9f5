//! Fuzz the config language end to end: tokenizer, parser, evaluator
//! (with `include`/`include_shell` refused), condition building and `-p`
//! printing. Any panic, hang or runaway allocation is a bug.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lighttpd::config::{eval::Evaluator, print::print, source::Origin};

fuzz_target!(|data: &[u8]| {
    let mut ev = Evaluator::new("fuzz.conf");
    ev.sandbox();
    if ev.eval_source(Origin::Stdin, data.to_vec()).is_ok() {
        if let Ok(tree) = ev.finish() {
            let _ = print(&tree);
        }
    }
});
