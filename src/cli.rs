//! lighttpd's command line: `-f -m -i -1 -p -t -tt -D -v -V -h`, parsed
//! with POSIX `getopt("f:m:i:hvVD1pt")` semantics (bundled flags, attached
//! or separate arguments, `--`, options acting in the order given), and the
//! `check` subcommand of lighttpd-rs.

/// The version string lighttpd prints with `-v`.
pub const VERSION_LINE: &str = "lighttpd/1.4.69 (ssl) - a light and fast webserver";

/// Compiled-in module directory lighttpd names in its usage text.
pub const DEFAULT_MODULE_DIR: &str = "/usr/lib/lighttpd";

/// `-h` output, verbatim (ends with an empty line).
pub fn usage() -> String {
    format!(
        "{VERSION_LINE}\n\
usage:\n \
-f <name>  filename of the config-file\n \
-m <name>  module directory (default: {DEFAULT_MODULE_DIR})\n \
-i <secs>  graceful shutdown after <secs> of inactivity\n \
-1         process single (one) request on stdin socket, then exit\n \
-p         print the parsed config-file in internal form, and exit\n \
-t         test config-file syntax, then exit\n \
-tt        test config-file syntax, load and init modules, then exit\n \
-D         don't go to background (default: go to background)\n \
-v         show version\n \
-V         show compile-time features\n \
-h         show this help\n\n"
    )
}

/// `-V` output in lighttpd's layout (`+` = built in, `-` = not).
/// lighttpd's own test suite greps these lines (e.g. `+ PCRE support`).
pub fn features() -> String {
    let section = |title: &str, items: &[(bool, &str)]| {
        let mut s = format!("{title}:\n\n");
        for (on, name) in items {
            s += &format!("\t{} {name}\n", if *on { '+' } else { '-' });
        }
        s + "\n"
    };
    let mut out = format!("{VERSION_LINE}\n\n");
    out += &section(
        "Event Handlers",
        &[
            (false, "select (generic)"),
            (false, "poll (Unix)"),
            (true, "epoll (Linux)"),
            (false, "/dev/poll (Solaris)"),
            (false, "eventports (Solaris)"),
            (false, "kqueue (FreeBSD)"),
        ],
    );
    out += &section(
        "Network handler",
        &[
            (true, "linux-sendfile"),
            (false, "freebsd-sendfile"),
            (false, "darwin-sendfile"),
            (false, "solaris-sendfilev"),
            (true, "writev"),
            (true, "write"),
            (false, "mmap support"),
        ],
    );
    let feature_list: &[(bool, &str)] = &[
        (true, "IPv6 support"),
        (true, "zlib support"),
        (cfg!(feature = "zstd"), "zstd support"),
        (false, "bzip2 support"),
        (cfg!(feature = "brotli"), "brotli support"),
        (true, "crypt support"),
        (true, "OpenSSL support"),
        (false, "mbedTLS support"),
        (false, "NSS crypto support"),
        (false, "GnuTLS support"),
        (false, "WolfSSL support"),
        (false, "Nettle support"),
        (true, "PCRE support"),
        (false, "MySQL support"),
        (false, "PgSQL support"),
        (false, "DBI support"),
        (false, "Kerberos support"),
        (false, "LDAP support"),
        (false, "PAM support"),
        (false, "FAM support"),
        (false, "LUA support"),
        (false, "xml support"),
        (false, "SQLite support"),
        (true, "Y2038 support"),
    ];
    // lighttpd ends the list with the empty line of the section
    out + &section("Features", feature_list)
}

/// What the serving side needs from the command line.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServeOptions {
    pub config_path: String,
    /// `-D`
    pub foreground: bool,
    /// `-1`
    pub one_shot: bool,
    /// `-i SECS`
    pub idle_timeout: Option<u64>,
    /// `-m DIR` (accepted; modules are built in)
    pub module_dir: Option<String>,
}

/// One getopt step, in command-line order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// `-f FILE`: load now.
    Config(String),
    /// `-m DIR`
    ModuleDir(String),
    /// `-i SECS` (already validated)
    Idle(u64),
    Print,
    Test,
    OneShot,
    Foreground,
    /// `-v`, `-V`, `-h`: print and exit 0.
    Version,
    Features,
    Help,
    /// Invalid option / missing argument: message for stderr, usage, exit 255.
    BadOption(String),
    /// `-i` with a bad value: lighttpd's log message, exit 255.
    BadIdle(String),
}

/// The whole command line as lighttpd's getopt loop sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invocation {
    /// `lighttpd check [args]` (lighttpd-rs only)
    Check(Vec<String>),
    /// Classic lighttpd flags, in order.
    Steps(Vec<Step>),
}

/// Parse argv (including argv[0]).
pub fn parse(argv: &[String]) -> Invocation {
    if argv.get(1).map(String::as_str) == Some("check") {
        return Invocation::Check(argv[2..].to_vec());
    }
    let prog = argv.first().map_or("lighttpd", String::as_str);
    Invocation::Steps(getopt(prog, argv.get(1..).unwrap_or(&[])))
}

fn getopt(prog: &str, args: &[String]) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        if arg == "--" {
            break;
        }
        let Some(flags) = arg.strip_prefix('-').filter(|f| !f.is_empty()) else {
            continue; // GNU getopt skips operands; lighttpd ignores them
        };
        for (pos, c) in flags.char_indices() {
            if "fmi".contains(c) {
                let attached = &flags[pos + c.len_utf8()..];
                let value = if !attached.is_empty() {
                    attached.to_string()
                } else if i < args.len() {
                    i += 1;
                    args[i - 1].clone()
                } else {
                    steps.push(Step::BadOption(format!(
                        "{prog}: option requires an argument -- '{c}'"
                    )));
                    return steps;
                };
                steps.push(with_arg(c, value));
                break;
            }
            let step = match c {
                'p' => Step::Print,
                't' => Step::Test,
                '1' => Step::OneShot,
                'D' => Step::Foreground,
                'v' => Step::Version,
                'V' => Step::Features,
                'h' => Step::Help,
                _ => Step::BadOption(format!("{prog}: invalid option -- '{c}'")),
            };
            let stop = matches!(step, Step::BadOption(_));
            steps.push(step);
            if stop {
                return steps;
            }
        }
    }
    steps
}

fn with_arg(c: char, value: String) -> Step {
    match c {
        'f' => Step::Config(value),
        'm' => Step::ModuleDir(value),
        _ => match parse_idle(&value) {
            Some(n) => Step::Idle(n),
            None => Step::BadIdle(format!("Invalid idle timeout value: {value}")),
        },
    }
}

/// `strtol(s, &end, 0)`: decimal, `0` octal, `0x` hex; whole string, ≥ 0.
fn parse_idle(s: &str) -> Option<u64> {
    let t = s.trim_start();
    let t = t.strip_prefix('+').unwrap_or(t);
    if s.is_empty() {
        return None;
    }
    if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        return u64::from_str_radix(h, 16).ok();
    }
    if t.len() > 1 && t.starts_with('0') {
        return u64::from_str_radix(&t[1..], 8).ok();
    }
    if t == "-0" {
        return Some(0);
    }
    t.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn steps(args: &[&str]) -> Vec<Step> {
        let argv: Vec<String> = std::iter::once("lighttpd")
            .chain(args.iter().copied())
            .map(String::from)
            .collect();
        match parse(&argv) {
            Invocation::Steps(s) => s,
            Invocation::Check(_) => panic!("check"),
        }
    }

    #[test]
    fn getopt_table() {
        use Step::*;
        assert_eq!(
            steps(&["-f", "a.conf", "-tt"]),
            vec![Config("a.conf".into()), Test, Test]
        );
        assert_eq!(steps(&["-pfa.conf"]), vec![Print, Config("a.conf".into())]);
        assert_eq!(
            steps(&["-Df", "x", "-m", "/m"]),
            vec![Foreground, Config("x".into()), ModuleDir("/m".into())]
        );
        assert_eq!(steps(&["-i", "0x10", "-1"]), vec![Idle(16), OneShot]);
        assert_eq!(steps(&["-i", "010"]), vec![Idle(8)]);
        assert_eq!(
            steps(&["-i", "abc"]),
            vec![BadIdle("Invalid idle timeout value: abc".into())]
        );
        assert_eq!(
            steps(&["-i", "-5"]),
            vec![BadIdle("Invalid idle timeout value: -5".into())]
        );
        assert_eq!(steps(&["-v", "-f", "x"]), vec![Version, Config("x".into())]);
        assert_eq!(
            steps(&["-x"]),
            vec![BadOption("lighttpd: invalid option -- 'x'".into())]
        );
        assert_eq!(
            steps(&["-f"]),
            vec![BadOption(
                "lighttpd: option requires an argument -- 'f'".into()
            )]
        );
        assert_eq!(steps(&["extra", "-p", "--", "-t"]), vec![Print]);
    }

    #[test]
    fn check_subcommand() {
        let argv: Vec<String> = ["lighttpd", "check", "-f", "x"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            parse(&argv),
            Invocation::Check(vec!["-f".into(), "x".into()])
        );
    }

    #[test]
    fn usage_and_features_layout() {
        let u = usage();
        assert!(u.starts_with(
            "lighttpd/1.4.69 (ssl) - a light and fast webserver\nusage:\n -f <name>  filename"
        ));
        assert!(u.ends_with(" -h         show this help\n\n"));
        let v = features();
        assert!(v.contains("\nFeatures:\n\n\t+ IPv6 support\n"));
        assert!(v.contains("\t+ PCRE support\n"));
        assert!(v.ends_with("\t+ Y2038 support\n\n"));
    }
}
