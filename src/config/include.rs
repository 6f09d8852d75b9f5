//! What `include` and `include_shell` touch outside the parser: lighttpd's
//! path resolution against the main config's directory, `glob(3)` with
//! `GLOB_BRACE` semantics, bounded file reads, and the shell command run
//! with a timeout and an output cap (lighttpd waits forever; we do not).

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// lighttpd rejects config files above 32 MiB; the same cap bounds
/// `include_shell` output and stdin.
pub const MAX_SOURCE: usize = 32 * 1024 * 1024;
/// How long an `include_shell` command may run.
pub const SHELL_TIMEOUT: Duration = Duration::from_secs(60);

/// lighttpd's `config_parse_file` path rule: relative to the main
/// config's directory unless absolute or starting with `./` / `../`.
pub fn resolve(basedir: &str, path: &str) -> String {
    let b = path.as_bytes();
    let explicit = matches!(b.first(), Some(b'/' | b'\\'))
        || (b.first() == Some(&b'.') && matches!(b.get(1), Some(b'/' | b'\\')))
        || (b.starts_with(b"..") && matches!(b.get(2), Some(b'/' | b'\\')));
    if basedir.is_empty() || explicit {
        path.to_string()
    } else if basedir.ends_with('/') {
        format!("{basedir}{path}")
    } else {
        format!("{basedir}/{path}")
    }
}

/// Does the path contain glob metacharacters (lighttpd's test)?
pub fn has_glob_chars(path: &str) -> bool {
    path.contains(['*', '?', '[', ']', '{', '}'])
}

/// `glob(path, GLOB_BRACE)`: brace alternatives in written order, each
/// alternative's matches sorted.
pub fn glob(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    for alt in expand_braces(path) {
        let mut found = glob_one(&alt);
        found.sort();
        out.extend(found);
    }
    out
}

/// `a{b,c{d,e}}f` → `abf`, `acdf`, `acef`. Unbalanced braces stay literal.
pub fn expand_braces(p: &str) -> Vec<String> {
    let b = p.as_bytes();
    let Some(open) = b.iter().position(|&c| c == b'{') else {
        return vec![p.to_string()];
    };
    let mut depth = 0;
    let mut commas = Vec::new();
    let mut close = None;
    for (i, &c) in b.iter().enumerate().skip(open) {
        match c {
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    close = Some(i);
                    break;
                }
            }
            b',' if depth == 1 => commas.push(i),
            _ => {}
        }
    }
    let Some(close) = close else {
        return vec![p.to_string()];
    };
    let (pre, post) = (&p[..open], &p[close + 1..]);
    let mut bounds = vec![open];
    bounds.extend(commas);
    bounds.push(close);
    let mut out = Vec::new();
    for w in bounds.windows(2) {
        let alt = &p[w[0] + 1..w[1]];
        out.extend(expand_braces(&format!("{pre}{alt}{post}")));
    }
    out
}

fn has_magic(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// Glob one brace-free pattern, component by component.
fn glob_one(pattern: &str) -> Vec<String> {
    if !has_magic(pattern) {
        let exists = std::fs::symlink_metadata(pattern).is_ok();
        return if exists {
            vec![pattern.to_string()]
        } else {
            Vec::new()
        };
    }
    let absolute = pattern.starts_with('/');
    let mut paths = vec![if absolute {
        "/".to_string()
    } else {
        String::new()
    }];
    let parts: Vec<&str> = pattern.split('/').filter(|s| !s.is_empty()).collect();
    for (n, part) in parts.iter().enumerate() {
        let last = n + 1 == parts.len();
        let mut next = Vec::new();
        for base in &paths {
            if !has_magic(part) {
                let p = format!("{base}{part}");
                if last || Path::new(&p).is_dir() {
                    next.push(if last { p } else { p + "/" });
                }
                continue;
            }
            let dir = if base.is_empty() { "." } else { base.as_str() };
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            let mut names: Vec<String> = entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            for name in names {
                if fnmatch(part.as_bytes(), name.as_bytes()) {
                    let p = format!("{base}{name}");
                    if last {
                        next.push(p);
                    } else if Path::new(&p).is_dir() {
                        next.push(p + "/");
                    }
                }
            }
        }
        paths = next;
    }
    if !last_exists(&paths) {
        return Vec::new();
    }
    paths
}

fn last_exists(paths: &[String]) -> bool {
    paths.iter().all(|p| std::fs::symlink_metadata(p).is_ok())
}

/// Shell-style match of one path component: `*`, `?`, `[...]` (with `!`
/// or `^` negation and ranges), `\` escapes; a leading `.` must be literal.
pub fn fnmatch(pat: &[u8], name: &[u8]) -> bool {
    if name.first() == Some(&b'.') && pat.first() != Some(&b'.') {
        return false;
    }
    match_from(pat, name)
}

fn match_from(pat: &[u8], name: &[u8]) -> bool {
    let Some((&c, rest)) = pat.split_first() else {
        return name.is_empty();
    };
    match c {
        b'*' => (0..=name.len()).any(|k| match_from(rest, &name[k..])),
        b'?' => !name.is_empty() && match_from(rest, &name[1..]),
        b'[' => match (name.first(), class(rest)) {
            (Some(&ch), Some((set, after))) => set(ch) && match_from(after, &name[1..]),
            (Some(&ch), None) => ch == b'[' && match_from(rest, &name[1..]),
            (None, _) => false,
        },
        b'\\' if !rest.is_empty() => {
            name.first() == Some(&rest[0]) && match_from(&rest[1..], &name[1..])
        }
        _ => name.first() == Some(&c) && match_from(rest, &name[1..]),
    }
}

type ClassMatch<'a> = (Box<dyn Fn(u8) -> bool + 'a>, &'a [u8]);

/// Parse a `[...]` class (after the `[`); None if it is not closed.
fn class(p: &[u8]) -> Option<ClassMatch<'_>> {
    let (negate, body) = match p.first() {
        Some(b'!' | b'^') => (true, &p[1..]),
        _ => (false, p),
    };
    // a `]` right at the start is a literal member
    let end = body
        .iter()
        .skip(1)
        .position(|&c| c == b']')
        .map(|i| i + 1)?;
    let set = &body[..end];
    let test = move |ch: u8| {
        let mut i = 0;
        let mut hit = false;
        while i < set.len() {
            if i + 2 < set.len() && set[i + 1] == b'-' {
                hit |= set[i] <= ch && ch <= set[i + 2];
                i += 3;
            } else {
                hit |= set[i] == ch;
                i += 1;
            }
        }
        hit != negate
    };
    Some((Box::new(test), &body[end + 1..]))
}

/// Read a config file with lighttpd's size cap; the error text is
/// `strerror` (what lighttpd appends to `opening configfile X failed: `).
pub fn read_file(path: &str) -> Result<Vec<u8>, String> {
    let file = std::fs::File::open(path).map_err(|e| strerror(&e))?;
    let mut data = Vec::new();
    file.take(MAX_SOURCE as u64 + 1)
        .read_to_end(&mut data)
        .map_err(|e| strerror(&e))?;
    if data.len() > MAX_SOURCE {
        return Err("File too large".to_string());
    }
    Ok(data)
}

/// Read the whole of stdin (`-f -`), capped.
pub fn read_stdin() -> Result<Vec<u8>, String> {
    let mut data = Vec::new();
    std::io::stdin()
        .take(MAX_SOURCE as u64 + 1)
        .read_to_end(&mut data)
        .map_err(|e| strerror(&e))?;
    if data.len() > MAX_SOURCE {
        return Err("config read from stdin is way too large".to_string());
    }
    Ok(data)
}

/// The C library's text for an I/O error, without Rust's `(os error N)`.
pub fn strerror(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(code) => nix::errno::Errno::from_raw(code).desc().to_string(),
        None => e.to_string(),
    }
}

/// Why an `include_shell` command produced no usable output.
#[derive(Debug)]
pub enum ShellError {
    /// Could not start the shell: `fork/exec(<cmd>)` + strerror.
    Spawn(String),
    /// Non-zero exit: lighttpd's `command "<cmd>" exited non-zero: <n>`.
    Status(i32),
    /// Ran longer than [`SHELL_TIMEOUT`] (killed).
    Timeout,
    /// Wrote more than [`MAX_SOURCE`] bytes (killed).
    TooLarge,
}

fn stop(child: &mut std::process::Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// Run `$SHELL -c cmd` (or `/bin/sh`), in `cwd` when non-empty; stdin and
/// stderr inherited; stdout collected.
pub fn run_shell(cmd: &str, cwd: &str) -> Result<Vec<u8>, ShellError> {
    let shell = match std::env::var("SHELL") {
        Ok(s) if !s.is_empty() && s != "/bin/false" && s != "/usr/bin/false" => s,
        _ => "/bin/sh".to_string(),
    };
    let mut command = Command::new(&shell);
    command.arg("-c").arg(cmd).stdout(Stdio::piped());
    if !cwd.is_empty() {
        command.current_dir(cwd);
    }
    let mut child = command
        .spawn()
        .map_err(|e| ShellError::Spawn(strerror(&e)))?;
    let Some(mut stdout) = child.stdout.take() else {
        return Err(ShellError::Spawn("no pipe".into()));
    };
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        let res = (&mut stdout)
            .take(MAX_SOURCE as u64 + 1)
            .read_to_end(&mut out);
        res.map(|_| out)
    });
    let deadline = Instant::now() + SHELL_TIMEOUT;
    while !reader.is_finished() {
        if Instant::now() >= deadline {
            stop(&mut child);
            return Err(ShellError::Timeout); // the reader thread ends with the pipe
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let out = match reader.join() {
        Ok(Ok(out)) => out,
        _ => return Err(ShellError::Spawn("read failed".into())),
    };
    if out.len() > MAX_SOURCE {
        stop(&mut child);
        return Err(ShellError::TooLarge);
    }
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break st,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(2)),
            _ => {
                stop(&mut child);
                return Err(ShellError::Timeout);
            }
        }
    };
    match status.code() {
        Some(0) => Ok(out),
        Some(n) => Err(ShellError::Status(n)),
        None => Err(ShellError::Status(0)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_follows_lighttpd() {
        assert_eq!(resolve("conf/", "a.conf"), "conf/a.conf");
        assert_eq!(resolve("conf/", "/etc/a.conf"), "/etc/a.conf");
        assert_eq!(resolve("conf/", "./a.conf"), "./a.conf");
        assert_eq!(resolve("conf/", "../a.conf"), "../a.conf");
        assert_eq!(resolve("", "a.conf"), "a.conf");
        assert_eq!(
            resolve("/etc/lighttpd/", "conf.d/*.conf"),
            "/etc/lighttpd/conf.d/*.conf"
        );
    }

    #[test]
    fn braces_keep_written_order() {
        assert_eq!(
            expand_braces("br/{y,x}.conf"),
            vec!["br/y.conf", "br/x.conf"]
        );
        assert_eq!(expand_braces("a{b,c{d,e}}f"), vec!["abf", "acdf", "acef"]);
        assert_eq!(expand_braces("a{b"), vec!["a{b"]);
    }

    #[test]
    fn fnmatch_table() {
        for (p, n, want) in [
            ("*.conf", "a.conf", true),
            ("*.conf", ".a.conf", false),
            (".*", ".a", true),
            ("?.c", "ab.c", false),
            ("[a-c]x", "bx", true),
            ("[!a-c]x", "bx", false),
            ("[]]", "]", true),
            ("a\\*", "a*", true),
            ("[ab", "[ab", true),
        ] {
            assert_eq!(fnmatch(p.as_bytes(), n.as_bytes()), want, "{p} {n}");
        }
    }

    #[test]
    fn glob_sorts_and_expands() {
        let dir = std::env::temp_dir().join(format!("lhrs-glob-{}", std::process::id()));
        let _ = std::fs::create_dir_all(dir.join("sub"));
        for f in ["b.conf", "a.conf", "c.txt", "sub/z.conf"] {
            let _ = std::fs::write(dir.join(f), "");
        }
        let d = dir.display();
        let got = glob(&format!("{d}/*.conf"));
        assert_eq!(got, vec![format!("{d}/a.conf"), format!("{d}/b.conf")]);
        let got = glob(&format!("{d}/{{b,a}}.conf"));
        assert_eq!(got, vec![format!("{d}/b.conf"), format!("{d}/a.conf")]);
        assert_eq!(
            glob(&format!("{d}/*/z.conf")),
            vec![format!("{d}/sub/z.conf")]
        );
        assert!(glob(&format!("{d}/none.conf")).is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn shell_runs_with_status_and_output() {
        assert_eq!(
            run_shell("echo 'a = 1'", "").ok(),
            Some(b"a = 1\n".to_vec())
        );
        assert!(matches!(
            run_shell("exit 3", ""),
            Err(ShellError::Status(3))
        ));
        let cwd = std::env::temp_dir();
        let out = run_shell("pwd", &cwd.display().to_string()).unwrap_or_default();
        let got = std::fs::canonicalize(String::from_utf8_lossy(&out).trim()).ok();
        assert_eq!(got, std::fs::canonicalize(&cwd).ok());
    }
}
