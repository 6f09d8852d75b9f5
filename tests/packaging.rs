//! The Debian package description against the code and Debian's lighttpd: the package
//! provides exactly the module names it implements, every /etc file is a conffile, the
//! snippets keep Debian's names and dependency headers, lighty-enable-mod behaves like
//! Debian's, lighttpd-angel supervises like Debian's, and the include_shell helpers
//! produce configuration our binary accepts.

use lighttpd::plugin::registry::BUILTIN;
use std::collections::BTreeSet;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Modules for which Debian has a `lighttpd-mod-*` package name (real or provided by
/// lighttpd 1.4.69-1), so other packages can depend on them.
const DEBIAN_MODULE_PACKAGES: &[&str] = &[
    "mod_accesslog",
    "mod_ajp13",
    "mod_auth",
    "mod_authn_file",
    "mod_cgi",
    "mod_deflate",
    "mod_dirlisting",
    "mod_extforward",
    "mod_magnet",
    "mod_openssl",
    "mod_proxy",
    "mod_rrdtool",
    "mod_sockproxy",
    "mod_ssi",
    "mod_status",
    "mod_userdir",
    "mod_vhostdb",
    "mod_webdav",
    "mod_wstunnel",
];

/// The snippets Debian's lighttpd, lighttpd-mod-openssl and lighttpd-mod-deflate ship.
const DEBIAN_SNIPPETS: &[&str] = &[
    "05-auth.conf",
    "05-setenv.conf",
    "10-accesslog.conf",
    "10-cgi.conf",
    "10-dir-listing.conf",
    "10-evhost.conf",
    "10-expire.conf",
    "10-fastcgi.conf",
    "10-no-www.conf",
    "10-proxy.conf",
    "10-rewrite.conf",
    "10-rrdtool.conf",
    "10-simple-vhost.conf",
    "10-sockproxy.conf",
    "10-ssi.conf",
    "10-ssl.conf",
    "10-status.conf",
    "10-userdir.conf",
    "11-extforward.conf",
    "15-fastcgi-php-fpm.conf",
    "15-fastcgi-php.conf",
    "20-deflate.conf",
    "90-debian-doc.conf",
    "99-unconfigured.conf",
];

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    let path = repo().join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The `[package.metadata.deb]` section of Cargo.toml.
fn deb_metadata() -> String {
    let toml = read("Cargo.toml");
    let start = toml
        .find("[package.metadata.deb]")
        .expect("Cargo.toml has [package.metadata.deb]");
    let rest = &toml[start + 1..];
    let end = rest.find("\n[").map_or(rest.len(), |i| i + 1);
    rest[..end].to_string()
}

/// The comma-separated names of a `field = "..."` line, without version constraints.
fn relation(meta: &str, field: &str) -> BTreeSet<String> {
    let prefix = format!("{field} = \"");
    let line = meta
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no {field} in [package.metadata.deb]"));
    line.trim_end_matches('"')
        .split(',')
        .map(|item| item.split('(').next().unwrap_or("").trim().to_string())
        .filter(|name| !name.is_empty())
        .collect()
}

fn debian_name(module: &str) -> String {
    format!("lighttpd-{}", module.replace('_', "-"))
}

#[test]
fn deb_provides_exactly_the_implemented_module_packages() {
    let provides = relation(&deb_metadata(), "provides");
    let built_in: BTreeSet<&str> = BUILTIN.iter().map(|(name, _)| *name).collect();
    let should: BTreeSet<String> = DEBIAN_MODULE_PACKAGES
        .iter()
        .filter(|m| built_in.contains(**m))
        .map(|m| debian_name(m))
        .collect();
    let does: BTreeSet<String> = provides
        .iter()
        .filter(|p| p.starts_with("lighttpd-mod-"))
        .cloned()
        .collect();
    let add: Vec<&String> = should.difference(&does).collect();
    let remove: Vec<&String> = does.difference(&should).collect();
    assert!(
        add.is_empty() && remove.is_empty(),
        "Cargo.toml [package.metadata.deb] `provides` must name lighttpd-mod-* exactly for \
         the modules in plugin::registry::BUILTIN: add {add:?}, remove {remove:?}"
    );
    for name in ["lighttpd", "httpd"] {
        assert!(provides.contains(name), "provides lacks {name}");
    }
    assert_eq!(
        provides.contains("httpd-cgi"),
        built_in.contains("mod_cgi"),
        "provides httpd-cgi exactly when mod_cgi is built in"
    );
}

#[test]
fn deb_replaces_every_debian_lighttpd_package() {
    let meta = deb_metadata();
    let (conflicts, replaces) = (relation(&meta, "conflicts"), relation(&meta, "replaces"));
    assert_eq!(conflicts, replaces);
    for name in [
        "lighttpd",
        "lighttpd-mod-openssl",
        "lighttpd-mod-deflate",
        "lighttpd-mod-webdav",
        "lighttpd-modules-lua",
    ] {
        assert!(conflicts.contains(name), "conflicts/replaces lack {name}");
    }
}

#[test]
fn every_etc_file_is_a_conffile() {
    let meta = deb_metadata();
    let listed: BTreeSet<&str> = meta
        .lines()
        .filter_map(|l| l.trim().strip_prefix("\"/etc/"))
        .filter_map(|l| l.split('"').next())
        .collect();
    let mut shipped: Vec<String> = ["lighttpd/lighttpd.conf", "init.d/lighttpd"]
        .iter()
        .map(|s| s.to_string())
        .chain(["logrotate.d/lighttpd", "cron.daily/lighttpd"].map(String::from))
        .collect();
    let available = repo().join("conf-samples/debian/conf-available");
    for entry in std::fs::read_dir(&available).expect("conf-available") {
        let name = entry.expect("entry").file_name();
        shipped.push(format!(
            "lighttpd/conf-available/{}",
            name.to_string_lossy()
        ));
    }
    for file in &shipped {
        assert!(
            listed.contains(file.as_str()),
            "/etc/{file} is not in conf-files"
        );
    }
    assert_eq!(
        listed.len(),
        shipped.len(),
        "conf-files lists files not shipped"
    );
}

#[test]
fn snippets_keep_debians_names_and_headers() {
    let dir = repo().join("conf-samples/debian/conf-available");
    let ours: BTreeSet<String> = std::fs::read_dir(&dir)
        .expect("conf-available")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".conf"))
        .collect();
    let debian: BTreeSet<String> = DEBIAN_SNIPPETS.iter().map(|s| s.to_string()).collect();
    assert_eq!(ours, debian);
    let php = read("conf-samples/debian/conf-available/15-fastcgi-php.conf");
    assert!(php.contains("# -*- depends: fastcgi -*-"));
    assert!(php.contains("# -*- conflicts: fastcgi-php-fpm -*-"));
    let fpm = read("conf-samples/debian/conf-available/15-fastcgi-php-fpm.conf");
    assert!(fpm.contains("# -*- depends: fastcgi -*-"));
    assert!(fpm.contains("# -*- conflicts: fastcgi-php -*-"));
    let ssl = read("conf-samples/debian/conf-available/10-ssl.conf");
    assert!(ssl.contains("# -*- conflicts: mbedtls, gnutls, nss, wolfssl -*-"));
}

/// Runs a command with a 60 s limit, reading its output as it comes; None if it cannot
/// be started.
fn run(cmd: &mut Command) -> Option<Output> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .ok()?;
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut data = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut data);
            }
            data
        })
    };
    let stdout = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().ok()? {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} did not finish within 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Some(Output {
        status,
        stdout: stdout.join().ok()?,
        stderr: stderr.join().ok()?,
    })
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lighttpd-rs-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// Runs lighty-enable-mod (or an alias) against `confdir`: (exit code, stdout).
fn enable_mod(confdir: &Path, alias: &str, args: &[&str]) -> (i32, String) {
    let script = repo().join("packaging/debian/lighty-enable-mod");
    let link = confdir.join(alias);
    if !link.exists() {
        std::os::unix::fs::symlink(&script, &link).expect("alias symlink");
    }
    let out = run(Command::new(&link)
        .args(args)
        .env("LIGHTTPD_CONFDIR", confdir))
    .expect("sh runs lighty-enable-mod");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn lighty_enable_mod_follows_debians_rules() {
    let dir = temp_dir("enable-mod");
    let available = dir.join("conf-available");
    std::fs::create_dir_all(dir.join("conf-enabled")).expect("conf-enabled");
    std::fs::create_dir_all(&available).expect("conf-available");
    for name in [
        "10-fastcgi.conf",
        "15-fastcgi-php.conf",
        "15-fastcgi-php-fpm.conf",
    ] {
        let text = read(&format!("conf-samples/debian/conf-available/{name}"));
        std::fs::write(available.join(name), text).expect("copy snippet");
    }
    std::fs::write(
        available.join("50-broken.conf"),
        "# -*- depends: nosuch -*-\n",
    )
    .expect("write");
    let enabled = |name: &str| dir.join("conf-enabled").join(name);

    let (code, out) = enable_mod(&dir, "lighty-enable-mod", &["fastcgi-php"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Met dependency: fastcgi\n"), "{out}");
    assert!(out.ends_with("Run \"service lighttpd force-reload\" to enable changes\n"));
    assert_eq!(
        std::fs::read_link(enabled("10-fastcgi.conf")).expect("link"),
        Path::new("../conf-available/10-fastcgi.conf")
    );
    assert!(enabled("15-fastcgi-php.conf").exists());

    assert_eq!(
        enable_mod(&dir, "lighttpd-enable-mod", &["fastcgi-php"]).0,
        2
    );
    let (code, out) = enable_mod(&dir, "lighty-enable-mod", &["fastcgi-php-fpm"]);
    assert_eq!(code, 1);
    assert_eq!(
        out,
        "Conflicting dependencies: fastcgi-php-fpm conflicts with fastcgi-php\n"
    );
    assert_eq!(enable_mod(&dir, "lighty-enable-mod", &["broken"]).0, 1);
    assert_eq!(enable_mod(&dir, "lighty-enable-mod", &["nosuch"]).0, 2);

    let (code, out) = enable_mod(&dir, "lighty-disable-mod", &["fastcgi"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("Reverse dependency met: Disabling fastcgi-php too\n"),
        "{out}"
    );
    assert!(!enabled("15-fastcgi-php.conf").exists());
    assert!(!enabled("10-fastcgi.conf").exists());
    assert_eq!(enable_mod(&dir, "lighttpd-disable-mod", &["fastcgi"]).0, 2);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn include_shell_helpers_give_config_our_binary_accepts() {
    if run(Command::new("perl").arg("-e1")).is_none() || !Path::new("/etc/mime.types").exists() {
        eprintln!("perl or /etc/mime.types missing: skipped");
        return;
    }
    let dir = temp_dir("helpers");
    let helpers = repo().join("packaging/debian");
    let conf = dir.join("lighttpd.conf");
    std::fs::write(
        &conf,
        format!(
            "server.document-root = \"{root}\"\nserver.bind = \"127.0.0.1\"\nserver.port = 18998\n\
             include_shell \"perl {h}/create-mime.conf.pl\"\n\
             include_shell \"perl {h}/use-ipv6.pl 18998\"\n",
            root = dir.display(),
            h = helpers.display()
        ),
    )
    .expect("write conf");
    let out = run(Command::new(env!("CARGO_BIN_EXE_lighttpd"))
        .arg("-p")
        .arg("-f")
        .arg(&conf))
    .expect("lighttpd runs");
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        printed.contains("\".html\""),
        "mimetype.assign missing:\n{printed}"
    );
    assert!(printed.contains("\"application/octet-stream\""));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Kills a process group (SIGKILL) when dropped.
struct KillGroupOnDrop(u32);

impl Drop for KillGroupOnDrop {
    fn drop(&mut self) {
        let group = nix::unistd::Pid::from_raw(self.0 as i32);
        let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
    }
}

/// Sends a signal with kill(1).
fn signal(pid: u32, sig: &str) {
    let status = Command::new("kill")
        .args(["-s", sig, &pid.to_string()])
        .status()
        .expect("kill(1)");
    assert!(status.success(), "kill -s {sig} {pid}");
}

/// Waits up to 10 s until the log has `n` lines; returns them.
fn log_lines(log: &Path, n: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let lines: Vec<String> = text.lines().map(String::from).collect();
        if lines.len() >= n || Instant::now() > deadline {
            return lines;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn lighttpd_angel_relays_signals_and_restarts() {
    let dir = temp_dir("angel");
    let log = dir.join("log");
    // a stand-in for lighttpd that logs what happens to it
    let fake = dir.join("fake-lighttpd");
    std::fs::write(
        &fake,
        "#!/bin/sh\n\
         trap 'echo int >>\"$ANGEL_LOG\"; exit 0' INT\n\
         trap 'echo term >>\"$ANGEL_LOG\"; exit 0' TERM\n\
         trap 'echo usr1 >>\"$ANGEL_LOG\"' USR1\n\
         echo \"start $$ $*\" >>\"$ANGEL_LOG\"\n\
         while :; do sleep 0.05; done\n",
    )
    .expect("write fake");
    let mut perms = std::fs::metadata(&fake).expect("meta").permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&fake, perms).expect("chmod");

    // started with HUP and INT ignored, as under nohup or in a script's
    // background job (a CI runner): a shell cannot trap a signal it inherited
    // as ignored, so the angel must start over from the defaults itself
    let mut angel = Command::new("/bin/sh")
        .process_group(0)
        .args(["-c", "trap '' HUP INT; exec \"$0\" \"$@\""])
        .arg(repo().join("packaging/debian/lighttpd-angel"))
        .args(["-D", "-f", "x.conf"])
        .env("LIGHTTPD_ANGEL_BIN", &fake)
        .env("ANGEL_LOG", &log)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start angel");
    let angel_pid = angel.id();
    // should an assertion fail: the angel and its looping stand-ins go too
    let _group = KillGroupOnDrop(angel_pid);
    let child_pid = |line: &str| -> u32 {
        line.split_whitespace()
            .nth(1)
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("bad log line {line:?}"))
    };

    let lines = log_lines(&log, 1);
    assert_eq!(
        lines.first().map(|l| l.ends_with(" -D -f x.conf")),
        Some(true),
        "{lines:?}"
    );
    let first = child_pid(&lines[0]);
    // let the traps of the stand-in be set before signalling
    std::thread::sleep(Duration::from_millis(200));
    signal(angel_pid, "USR1");
    assert_eq!(log_lines(&log, 2).get(1).map(String::as_str), Some("usr1"));
    signal(angel_pid, "HUP");
    let lines = log_lines(&log, 4);
    assert_eq!(lines.get(2).map(String::as_str), Some("int"), "{lines:?}");
    let second = child_pid(lines.get(3).expect("restart after HUP"));
    assert_ne!(first, second);
    std::thread::sleep(Duration::from_millis(200));
    signal(second, "KILL");
    let lines = log_lines(&log, 5);
    let third = child_pid(lines.get(4).expect("restart after a crash"));
    std::thread::sleep(Duration::from_millis(200));
    signal(angel_pid, "TERM");
    assert_eq!(log_lines(&log, 6).get(5).map(String::as_str), Some("term"));

    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = angel.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = angel.kill();
            signal(third, "KILL");
            panic!("angel still running after its child exited");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success());
    let _ = std::fs::remove_dir_all(&dir);
}
