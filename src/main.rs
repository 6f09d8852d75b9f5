//! The `lighttpd` binary: parse the command line, then check, print, test or serve.
//! Exit status as lighttpd: 0 on success, 255 on any startup/config error.

use std::io::Write;
use std::process::ExitCode;

use lighttpd::cli::{self, Invocation, ServeOptions, Step};
use lighttpd::config::diagnostic::{lh_timestamp, Diagnostic};
use lighttpd::config::{self, tree::ConfigTree, validate};
use lighttpd::plugin::{registry, Module};

const FAILED: u8 = 255;

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let code = match cli::parse(&argv) {
        Invocation::Check(args) => check(&args),
        Invocation::Steps(steps) => run(steps),
    };
    ExitCode::from(code)
}

fn out(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout
        .write_all(text.as_bytes())
        .and_then(|_| stdout.flush());
}

/// A lighttpd `log_error` line on stderr (`(origin)` = lighttpd's file.line).
fn log_error(origin: &str, msg: &str) {
    eprintln!("{}: ({origin}) {msg}", lh_timestamp());
}

/// lighttpd's getopt loop and what follows it in `server_main_setup`.
fn run(steps: Vec<Step>) -> u8 {
    let mut tree: Option<ConfigTree> = None;
    let mut opts = ServeOptions::default();
    let (mut print, mut test) = (false, 0u32);
    for step in steps {
        match step {
            Step::Config(path) => {
                if tree.is_some() {
                    log_error(
                        "server.c.1267",
                        "Can only read one config file. Use the include command to use multiple config files.",
                    );
                    return FAILED;
                }
                match config::load(&path) {
                    Ok(t) => {
                        eprint!("{}", config::lighttpd_warnings(&t));
                        if report(&validate::lighttpd_messages(&t, false)) {
                            return FAILED;
                        }
                        tree = Some(t);
                    }
                    Err(e) => {
                        eprint!("{}", config::lighttpd_stderr(&e));
                        return FAILED;
                    }
                }
                opts.config_path = path;
            }
            Step::ModuleDir(dir) => opts.module_dir = Some(dir),
            Step::Idle(secs) => opts.idle_timeout = Some(secs),
            Step::Print => print = true,
            Step::Test => test += 1,
            Step::OneShot => opts.one_shot = true,
            Step::Foreground => opts.foreground = true,
            Step::Version => {
                out(&format!("{}\n", cli::VERSION_LINE));
                return 0;
            }
            Step::Features => {
                out(&cli::features());
                return 0;
            }
            Step::Help => {
                out(&cli::usage());
                return 0;
            }
            Step::BadOption(msg) => {
                eprintln!("{msg}");
                out(&cli::usage());
                return FAILED;
            }
            Step::BadIdle(msg) => {
                log_error("server.c.1282", &msg);
                return FAILED;
            }
        }
    }
    let Some(tree) = tree else {
        log_error(
            "server.c.1317",
            "No configuration available. Try using -f option.",
        );
        return FAILED;
    };
    if print {
        out(&config::print::print(&tree));
    }
    if test == 1 {
        out("Syntax OK\n");
    }
    if test == 1 || print {
        return 0;
    }
    // -tt / startup: the phases after the ones already reported at -f,
    // with the built-in modules loaded and constructed (once: the server
    // keeps them)
    let tree = lighttpd::server::prepare(tree);
    let module_dir = opts
        .module_dir
        .as_deref()
        .unwrap_or(cli::DEFAULT_MODULE_DIR);
    let plugins = registry::Loader::new(&tree, module_dir);
    if report(&validate::lighttpd_preflight(&tree, &plugins)) {
        return FAILED;
    }
    if test > 1 {
        return 0;
    }
    let modules = plugins.into_modules();
    serve(tree, opts, modules)
}

/// Print validation findings as lighttpd log lines (one per line of a
/// message, as lighttpd logs each step of a failure); true if any is an error.
fn report(diags: &[Diagnostic]) -> bool {
    for line in diags.iter().flat_map(|d| d.message.lines()) {
        log_error("configfile.c.0", line);
    }
    diags.iter().any(Diagnostic::is_error)
}

fn serve(tree: ConfigTree, opts: ServeOptions, modules: Option<Vec<Box<dyn Module>>>) -> u8 {
    u8::try_from(lighttpd::server::run(tree, opts, modules)).unwrap_or(FAILED)
}

/// `lighttpd check [...]`: every problem, rustc-style (see config::check).
fn check(args: &[String]) -> u8 {
    let load = |path: &str| config::load(path).map_err(|e| (e.diagnostics, e.sources));
    let preflight = |tree: &ConfigTree| {
        let plugins = registry::Loader::new(tree, cli::DEFAULT_MODULE_DIR);
        validate::preflight_with(tree, &plugins)
    };
    let (text, code) = config::check::check_with_preflight(args, load, preflight);
    if code == 0 {
        out(&text);
    } else {
        eprint!("{text}");
    }
    u8::try_from(code).unwrap_or(FAILED)
}
