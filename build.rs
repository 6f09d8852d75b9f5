//! Build script: release builds for Linux link the functions of the idle
//! event loop and of simple requests together at the start of the code
//! (linker/hot-text.ld, made by bench/hot-text.sh). The kernel maps code in
//! 64 KiB windows around each page a process touches, so the same few
//! hundred functions spread over the whole binary keep about 1 MiB resident
//! and packed together about 0.3 MiB (bench/RESULTS.md). The script only
//! adds an output section before `.text` (`INSERT BEFORE`), which GNU ld and
//! LLD both understand; a pattern that matches nothing changes nothing.
//! `LRS_NO_HOT_TEXT=1` leaves it out: valgrind reads line tables only for
//! `.text`, so profiling builds (bench/callgrind.sh) want the plain layout.

use std::env;
use std::path::Path;

fn main() {
    let script =
        Path::new(&env::var("CARGO_MANIFEST_DIR").unwrap_or_default()).join("linker/hot-text.ld");
    println!("cargo:rerun-if-changed=linker/hot-text.ld");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=LRS_NO_HOT_TEXT");
    let release = env::var("PROFILE").is_ok_and(|p| p == "release");
    let linux = env::var("CARGO_CFG_TARGET_OS").is_ok_and(|os| os == "linux");
    let wanted = env::var_os("LRS_NO_HOT_TEXT").is_none();
    if release && linux && wanted && script.is_file() {
        println!("cargo:rustc-link-arg-bins=-Wl,-T,{}", script.display());
    }
}
