//! lighttpd's command line, run on the real binary: option order, exit
//! codes (0 / 255), stdout vs stderr, `-f -`, `-p -t`, `-p -tt`.
//! Expected texts were checked against lighttpd 1.4.69.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

fn lighttpd(args: &[&str], stdin: &str) -> Out {
    let dir = std::env::temp_dir();
    let mut child = Command::new(env!("CARGO_BIN_EXE_lighttpd"))
        .args(args)
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    if let Some(mut input) = child.stdin.take() {
        let _ = input.write_all(stdin.as_bytes());
    }
    let out = child.wait_with_output().expect("wait");
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Strip lighttpd's `YYYY-MM-DD HH:MM:SS: (file.c.N) ` log prefix.
fn unlog(s: &str) -> String {
    s.lines()
        .map(|l| l.split_once(") ").map_or(l, |(_, m)| m).to_string() + "\n")
        .collect()
}

fn conf(name: &str, text: &str) -> String {
    let p = std::env::temp_dir().join(format!("lhrs-cli-{}-{name}", std::process::id()));
    std::fs::write(&p, text).expect("write config");
    p.display().to_string()
}

#[test]
fn version_help_and_features() {
    let v = lighttpd(&["-v"], "");
    assert_eq!(
        (v.code, v.stdout.as_str()),
        (0, "lighttpd/1.4.69 (ssl) - a light and fast webserver\n")
    );
    let h = lighttpd(&["-h"], "");
    assert_eq!(h.code, 0);
    assert!(h
        .stdout
        .contains("\n -tt        test config-file syntax, load and init modules, then exit\n"));
    assert!(h.stdout.ends_with("show this help\n\n"));
    let f = lighttpd(&["-V"], "");
    assert_eq!(f.code, 0);
    assert!(
        f.stdout.contains("\nFeatures:\n\n\t+ IPv6 support\n")
            && f.stdout.contains("\t+ PCRE support\n")
    );
}

#[test]
fn bad_options_print_usage_and_fail() {
    let x = lighttpd(&["-x"], "");
    assert_eq!(x.code, 255);
    assert!(
        x.stderr.ends_with(": invalid option -- 'x'\n"),
        "{}",
        x.stderr
    );
    assert!(x
        .stdout
        .starts_with("lighttpd/1.4.69 (ssl) - a light and fast webserver\nusage:\n"));
    let f = lighttpd(&["-f"], "");
    assert_eq!(f.code, 255);
    assert!(f.stderr.ends_with(": option requires an argument -- 'f'\n"));
    let i = lighttpd(&["-i", "abc"], "");
    assert_eq!(
        (i.code, unlog(&i.stderr).as_str()),
        (255, "Invalid idle timeout value: abc\n")
    );
    let none = lighttpd(&["-p"], "");
    assert_eq!(
        (none.code, unlog(&none.stderr).as_str()),
        (255, "No configuration available. Try using -f option.\n")
    );
}

#[test]
fn options_act_in_order() {
    let missing = "/nonexistent/lhrs.conf";
    assert_eq!(lighttpd(&["-v", "-f", missing], "").code, 0);
    let e = lighttpd(&["-f", missing, "-v"], "");
    assert_eq!(e.code, 255);
    assert_eq!(
        unlog(&e.stderr),
        format!("opening configfile {missing} failed: No such file or directory\n")
    );
    let c = conf("twice.conf", "var.x = 1\n");
    let t = lighttpd(&["-f", &c, "-f", &c], "");
    assert_eq!(t.code, 255);
    assert_eq!(
        unlog(&t.stderr),
        "Can only read one config file. Use the include command to use multiple config files.\n"
    );
}

#[test]
fn print_test_and_stdin() {
    let c = conf("pt.conf", "var.x = 1\n");
    let t = lighttpd(&["-tf", &c], "");
    assert_eq!((t.code, t.stdout.as_str()), (0, "Syntax OK\n"));
    let pt = lighttpd(&["-f", &c, "-p", "-t"], "");
    assert!(
        pt.stdout.starts_with("config {\n") && pt.stdout.ends_with("\n}\nSyntax OK\n"),
        "{}",
        pt.stdout
    );
    let ptt = lighttpd(&["-f", &c, "-p", "-tt"], "");
    assert_eq!(ptt.code, 0);
    assert!(
        ptt.stdout.ends_with("    var.x   = 1\n\n}\n"),
        "{}",
        ptt.stdout
    );
    let stdin = lighttpd(&["-p", "-f", "-"], "var.from_stdin = \"yes\"\n");
    assert_eq!(stdin.code, 0);
    assert!(
        stdin.stdout.contains("    var.from_stdin = \"yes\"\n"),
        "{}",
        stdin.stdout
    );
    let bad = lighttpd(&["-t", "-f", "-"], "var.x = \"open\n");
    assert_eq!(bad.code, 255);
    assert_eq!(
        unlog(&bad.stderr),
        "source: - line: 1 pos: 8 missing closing quote\nconfigfile parser failed at: \n"
    );
}

#[test]
fn config_errors_go_to_stderr_with_status_255() {
    let c = conf("dup.conf", "server.port = 80\nserver.port = 81\n");
    let e = lighttpd(&["-p", "-f", &c], "");
    assert_eq!((e.code, e.stdout.as_str()), (255, ""));
    let want = format!(
        "Duplicate config variable in conditional 0 global: server.port\nsource: {c} line: 3 pos: 0 parser failed somehow near here: (EOL)\n"
    );
    assert_eq!(unlog(&e.stderr), want);
}

#[test]
fn check_reports_rustc_style() {
    let c = conf("check.conf", "server.port = 80\nserver.port = 81\n");
    let e = lighttpd(&["check", "-f", &c], "");
    assert_eq!(e.code, 255);
    assert!(
        e.stderr.contains(&format!(" --> {c}:2:1\n")),
        "{}",
        e.stderr
    );
}

/// A module lighttpd has but this build does not: `-t` accepts the config,
/// `-tt` and a start fail as lighttpd does without the module's `.so`,
/// naming the `-m` directory.
#[test]
fn modules_not_built_in_fail_like_a_missing_so() {
    let c = conf(
        "nomod.conf",
        "server.document-root = \"/tmp\"\nserver.bind = \"127.0.0.1\"\nserver.port = 18997\n\
         server.modules = (\"mod_access\", \"mod_authn_ldap\")\n",
    );
    assert_eq!(lighttpd(&["-t", "-f", &c], "").code, 0);
    let want = "dlopen() failed for: /opt/mods/mod_authn_ldap.so /opt/mods/mod_authn_ldap.so: \
                cannot open shared object file: No such file or directory\n\
                loading plugins finally failed\n";
    let tt = lighttpd(&["-m", "/opt/mods", "-tt", "-f", &c], "");
    assert_eq!((tt.code, unlog(&tt.stderr).as_str()), (255, want));
    let tt = lighttpd(&["-tt", "-f", &c], "");
    assert!(tt.stderr.contains(" /usr/lib/lighttpd/mod_authn_ldap.so: "));
    // -i bounds the run should the start succeed
    let start = lighttpd(&["-D", "-i", "2", "-m", "/opt/mods", "-f", &c], "");
    assert_eq!((start.code, unlog(&start.stderr).as_str()), (255, want));
}

/// `-tt` runs each module's set-up (lighttpd's `set_defaults`): module
/// errors fail it, and it opens no log, spawns no backend and binds nothing.
#[test]
fn preflight_constructs_modules_without_side_effects() {
    let dir = std::env::temp_dir().join(format!("lhrs-cli-{}-tt", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let marker = dir.join("spawned");
    let backend = dir.join("backend.sh");
    std::fs::write(&backend, format!("#!/bin/sh\ntouch {}\n", marker.display())).expect("w");
    std::process::Command::new("chmod")
        .args(["755", &backend.display().to_string()])
        .status()
        .expect("chmod");
    let base = format!(
        "server.document-root = \"{d}\"\nserver.bind = \"127.0.0.1\"\nserver.port = 18996\n\
         server.modules = (\"mod_rewrite\", \"mod_accesslog\", \"mod_fastcgi\")\n\
         accesslog.filename = \"{d}/access.log\"\nserver.errorlog = \"{d}/error.log\"\n\
         fastcgi.server = (\".x\" => ((\"bin-path\" => \"{b}\", \"socket\" => \"{d}/fcgi.sock\")))\n",
        d = dir.display(),
        b = backend.display()
    );
    let good = conf(
        "tt-good.conf",
        &format!("{base}url.rewrite = (\"^/a\" => \"/b\")\n"),
    );
    let ok = lighttpd(&["-tt", "-f", &good], "");
    assert_eq!((ok.code, ok.stdout.as_str()), (0, ""), "{}", ok.stderr);
    std::thread::sleep(std::time::Duration::from_millis(200));
    for f in [
        "access.log",
        "error.log",
        "fcgi.sock",
        "fcgi.sock-0",
        "spawned",
    ] {
        assert!(!dir.join(f).exists(), "-tt created {f}");
    }
    let bad = conf(
        "tt-bad.conf",
        &format!("{base}url.rewrite = (\"^/(a\" => \"/b\")\n"),
    );
    let e = lighttpd(&["-tt", "-f", &bad], "");
    assert_eq!(e.code, 255);
    let msgs = unlog(&e.stderr);
    assert!(msgs.contains("pcre-compile failed for ^/(a\n"), "{msgs}");
    assert!(
        msgs.ends_with("Configuration of plugins failed. Going down.\n"),
        "{msgs}"
    );
    // -t does not set up modules
    assert_eq!(lighttpd(&["-t", "-f", &bad], "").code, 0);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A server started with `-D` in directory `dir`, killed (by pid) on drop.
struct Running(Child);

impl Running {
    /// Start with the config `conf(ports)` on `n` free ports, trying other
    /// ports when the server exits (one was taken before it could bind).
    fn start(dir: &Path, n: usize, conf: impl Fn(&[u16]) -> String) -> (Running, Vec<u16>) {
        for _ in 0..5 {
            let ports: Vec<u16> = (0..n).map(|_| common::free_port()).collect();
            if let Some(run) = Running::try_start(dir, &conf(&ports), &ports) {
                return (run, ports);
            }
        }
        panic!("server exited at startup 5 times");
    }

    /// None when the server exits before it listens on all `ports`.
    fn try_start(dir: &Path, conf: &str, ports: &[u16]) -> Option<Running> {
        std::fs::write(dir.join("lighttpd.conf"), conf).expect("write conf");
        let child = Command::new(env!("CARGO_BIN_EXE_lighttpd"))
            .args(["-D", "-i", "30", "-f", "lighttpd.conf"])
            .current_dir(dir)
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        let mut run = Running(child);
        let pid = run.0.id();
        // its own listeners, not another process's on a taken port
        let listening = |p: u16| {
            common::listener_owned_by(pid, p)
                .unwrap_or_else(|| std::net::TcpStream::connect(("127.0.0.1", p)).is_ok())
        };
        let deadline = std::time::Instant::now() + common::START_TIMEOUT;
        while !ports.iter().all(|p| listening(*p)) {
            assert!(std::time::Instant::now() < deadline, "server did not start");
            if run.0.try_wait().ok().flatten().is_some() {
                return None;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        Some(run)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // (Child::kill sends nothing once the child was reaped: its pid may
        // belong to another process by now)
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn get(port: u16, path: &str) -> common::Response {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(common::TIMEOUT)).expect("timeout");
    let req = format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).expect("send");
    common::parse(&common::read_to_close(&mut s))
        .pop()
        .expect("a response")
}

/// lighttpd compares listeners by the address they resolve to and rewrites
/// `$SERVER["socket"]` values to it: `127.0.0.1` (with `server.port`) is the
/// `server.bind` listener, `localhost:P2` and `127.0.0.1:P2` are one socket,
/// and each condition matches however the address is spelled (checked
/// against lighttpd 1.4.69).
#[test]
fn socket_conditions_and_listeners_compare_resolved_addresses() {
    let dir = common::temp_dir("cli-sock");
    std::fs::write(dir.join("index.html"), "x").expect("write");
    let conf = |ports: &[u16]| {
        let (p1, p2) = (ports[0], ports[1]);
        format!(
        "server.document-root = \"{d}\"\nserver.bind = \"127.0.0.1\"\nserver.port = {p1}\n\
         server.modules = (\"mod_setenv\")\n\
         $SERVER[\"socket\"] == \"127.0.0.1\" {{ server.tag = \"bare\" }}\n\
         $SERVER[\"socket\"] == \"localhost:{p2}\" {{ server.tag = \"second\" }}\n\
         $SERVER[\"socket\"] == \"127.0.0.1:{p2}\" {{ setenv.add-response-header = (\"X-Dup\" => \"1\") }}\n\
         $SERVER[\"socket\"] != \"localhost:{p2}\" {{ setenv.add-response-header = (\"X-Not-Second\" => \"1\") }}\n",
        d = dir.display()
    )
    };
    let (_server, ports) = Running::start(&dir, 2, conf);
    let (p1, p2) = (ports[0], ports[1]);
    let first = get(p1, "/index.html");
    assert_eq!(first.status, 200);
    assert_eq!(first.header("Server"), Some("bare"));
    assert_eq!(
        (first.header("X-Not-Second"), first.header("X-Dup")),
        (Some("1"), None)
    );
    let second = get(p2, "/index.html");
    assert_eq!(second.header("Server"), Some("second"));
    assert_eq!(
        (second.header("X-Not-Second"), second.header("X-Dup")),
        (None, Some("1"))
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// lighttpd 1.4.69 turns `server.force-lowercase-filenames` on at startup
/// when the global block does not set it and the document root's lower- and
/// upper-case spellings are the same directory. A symlink `DOCS -> docs`
/// stands in for a case-insensitive filesystem.
#[test]
fn force_lowercase_filenames_is_detected_from_the_document_root() {
    let dir = common::temp_dir("cli-case");
    std::fs::create_dir_all(dir.join("docs")).expect("mkdir");
    std::fs::write(dir.join("docs/index.html"), "lower").expect("write");
    let status = |extra: &str| {
        let (_server, ports) = Running::start(&dir, 1, |ports: &[u16]| {
            format!(
                "server.document-root = \"docs\"\nserver.bind = \"127.0.0.1\"\nserver.port = {}\n{extra}\n",
                ports[0]
            )
        });
        get(ports[0], "/INDEX.HTML").status
    };
    assert_eq!(status(""), 404, "case-sensitive: no lowercasing");
    std::os::unix::fs::symlink("docs", dir.join("DOCS")).expect("symlink");
    assert_eq!(status(""), 200, "detected: /INDEX.HTML is index.html");
    let explicit = "server.force-lowercase-filenames = \"disable\"";
    assert_eq!(status(explicit), 404, "the global setting wins");
    let _ = std::fs::remove_dir_all(&dir);
}

/// At startup the modules set up by the `-tt` checks are the ones served:
/// what a module logs while being set up appears once, as in lighttpd.
#[test]
fn startup_sets_up_each_module_once() {
    let dir = common::temp_dir("cli-once");
    // (again on another port if the free one was taken before the bind)
    let (code, log) = (0..5)
        .map(|_| run_idle_one_second(&dir, common::free_port()))
        .find(|(code, log)| *code != Some(255) || !log.contains("Address already in use"))
        .expect("a free port in 5 tries");
    assert_eq!(code, Some(0), "{log}");
    assert_eq!(log.matches("invalid \"bin-path\" => ").count(), 1, "{log}");
    assert_eq!(log.matches("server started").count(), 1, "{log}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Start with `-i 1` in `dir` on `port`: the exit code and stderr.
fn run_idle_one_second(dir: &Path, port: u16) -> (Option<i32>, String) {
    let conf = format!(
        "server.document-root = \"{d}\"\nserver.bind = \"127.0.0.1\"\nserver.port = {port}\n\
         server.modules = (\"mod_fastcgi\")\n\
         fastcgi.server = (\".x\" => ((\"bin-path\" => \"{d}/missing-backend\", \"socket\" => \"{d}/s\")))\n",
        d = dir.display()
    );
    std::fs::write(dir.join("lighttpd.conf"), conf).expect("write");
    let mut child = Command::new(env!("CARGO_BIN_EXE_lighttpd"))
        .args(["-D", "-i", "1", "-f", "lighttpd.conf"])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let code = common::wait_exit(&mut child);
    if code.is_none() {
        common::signal(child.id() as i32, libc::SIGKILL);
    }
    let out = child.wait_with_output().expect("wait");
    (code, String::from_utf8_lossy(&out.stderr).into_owned())
}

/// `lighttpd check` sets the modules up too: a module that is not built in
/// and a module set-up error are reported with their location.
#[test]
fn check_reports_module_problems() {
    let c = conf(
        "check-mods.conf",
        "server.document-root = \"/tmp\"\nserver.bind = \"127.0.0.1\"\nserver.port = 18995\n\
         server.modules = (\"mod_rewrite\")\nurl.rewrite = (\"^/(a\" => \"/b\")\n",
    );
    let e = lighttpd(&["check", "-f", &c], "");
    assert_eq!(e.code, 255);
    assert!(
        e.stderr.contains("pcre-compile failed for ^/(a"),
        "{}",
        e.stderr
    );
    assert!(
        e.stderr.contains(&format!(" --> {c}:5:1\n")),
        "{}",
        e.stderr
    );
    let c = conf(
        "check-ldap.conf",
        "server.document-root = \"/tmp\"\nserver.bind = \"127.0.0.1\"\nserver.port = 18995\n\
         server.modules = (\"mod_authn_ldap\")\n",
    );
    let e = lighttpd(&["check", "-f", &c], "");
    assert_eq!(e.code, 255);
    assert!(
        e.stderr
            .contains("help: lighttpd-rs does not implement mod_authn_ldap (yet)"),
        "{}",
        e.stderr
    );
}
