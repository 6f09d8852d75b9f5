//! The `lighttpd` binary: parse the command line, then check, print, test or serve.

fn main() {
    println!("{}", lighttpd::cli::VERSION_LINE);
}
