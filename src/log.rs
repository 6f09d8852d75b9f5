//! The error log, in lighttpd's line format
//! `YYYY-MM-DD HH:MM:SS: (file.line) message` (local time), written to
//! stderr, a file (`server.errorlog`), a pipe (`"|command"`) or syslog
//! (`server.errorlog-use-syslog`). Files are reopened on SIGHUP.
//!
//! The server is single-threaded, so the log is a thread-local; use the
//! [`log_error!`](crate::log_error) macro, which records the source file and line.

use std::cell::RefCell;
use std::fmt::{self, Write as _};
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::process::{Child, Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::sys;

/// Where error-log lines go, as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogTarget {
    Stderr,
    /// `server.errorlog = "/path"`.
    File(String),
    /// `server.errorlog = "|command"` (the command without the `|`).
    Pipe(String),
    /// `server.errorlog-use-syslog`, with `server.syslog-facility`.
    Syslog(String),
}

impl LogTarget {
    /// Interpret a `server.errorlog` value (`""` = stderr).
    pub fn from_errorlog(value: &str) -> LogTarget {
        match value {
            "" => LogTarget::Stderr,
            v if v.starts_with('|') => LogTarget::Pipe(v[1..].to_string()),
            v => LogTarget::File(v.to_string()),
        }
    }
}

enum Sink {
    Stderr,
    File { path: String, file: File },
    Pipe { child: Child },
    Syslog(Box<syslog::Logger<syslog::LoggerBackend, syslog::Formatter3164>>),
}

struct ErrorLog {
    sink: Sink,
    /// Cached `"YYYY-MM-DD HH:MM:SS: "` and the second it is for.
    stamp: String,
    stamp_secs: i64,
    line: String,
}

thread_local! {
    static LOG: RefCell<ErrorLog> = RefCell::new(ErrorLog {
        sink: Sink::Stderr,
        stamp: String::new(),
        stamp_secs: i64::MIN,
        line: String::with_capacity(256),
    });
}

/// Open a log file the way lighttpd does: append, create 0644, close-on-exec.
pub fn open_append(path: &str) -> io::Result<File> {
    OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o644)
        .custom_flags(libc::O_CLOEXEC)
        .open(path)
}

/// Start a `|command` log pipe: `/bin/sh -c command` reading our lines.
pub fn spawn_pipe(cmd: &str) -> io::Result<Child> {
    Command::new("/bin/sh")
        .arg("-c")
        .arg(cmd)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
}

fn open_sink(target: &LogTarget) -> io::Result<Sink> {
    Ok(match target {
        LogTarget::Stderr => Sink::Stderr,
        LogTarget::File(path) => Sink::File {
            path: path.clone(),
            file: open_append(path)?,
        },
        LogTarget::Pipe(cmd) => Sink::Pipe {
            child: spawn_pipe(cmd)?,
        },
        LogTarget::Syslog(facility) => {
            let formatter = syslog::Formatter3164 {
                facility: syslog_facility(facility),
                hostname: None,
                process: "lighttpd".into(),
                pid: std::process::id(),
            };
            let logger = syslog::unix(formatter).map_err(|e| io::Error::other(e.to_string()))?;
            Sink::Syslog(Box::new(logger))
        }
    })
}

/// Map `server.syslog-facility` names to syslog facilities (unknown → daemon).
pub fn syslog_facility(name: &str) -> syslog::Facility {
    use syslog::Facility::*;
    match name.to_ascii_lowercase().as_str() {
        "auth" | "security" => LOG_AUTH,
        "authpriv" => LOG_AUTHPRIV,
        "cron" => LOG_CRON,
        "ftp" => LOG_FTP,
        "kern" => LOG_KERN,
        "lpr" => LOG_LPR,
        "mail" => LOG_MAIL,
        "news" => LOG_NEWS,
        "syslog" => LOG_SYSLOG,
        "user" => LOG_USER,
        "uucp" => LOG_UUCP,
        "local0" => LOG_LOCAL0,
        "local1" => LOG_LOCAL1,
        "local2" => LOG_LOCAL2,
        "local3" => LOG_LOCAL3,
        "local4" => LOG_LOCAL4,
        "local5" => LOG_LOCAL5,
        "local6" => LOG_LOCAL6,
        "local7" => LOG_LOCAL7,
        _ => LOG_DAEMON,
    }
}

/// Switch the error log to `target`. On failure the previous sink stays.
pub fn open(target: &LogTarget) -> io::Result<()> {
    let sink = open_sink(target)?;
    LOG.with(|log| log.borrow_mut().sink = sink);
    Ok(())
}

/// SIGHUP: reopen a log file (rotation). Pipes and syslog stay as they are.
pub fn reopen() -> io::Result<()> {
    LOG.with(|log| {
        let mut log = log.borrow_mut();
        if let Sink::File { path, file } = &mut log.sink {
            *file = open_append(path)?;
        }
        Ok(())
    })
}

/// Is the log going to stderr (nothing configured)?
pub fn is_stderr() -> bool {
    LOG.with(|log| matches!(log.borrow().sink, Sink::Stderr))
}

/// `YYYY-MM-DD HH:MM:SS` in local time.
pub fn format_local(secs: i64) -> String {
    let t = sys::localtime(secs);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        t.year, t.month, t.day, t.hour, t.minute, t.second
    )
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Append `msg` with non-printable bytes C-escaped, as lighttpd does.
fn push_escaped(out: &mut String, msg: &str) {
    for c in msg.chars() {
        match c {
            ' '..='~' => out.push(c),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x80 => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
}

/// Build one line (without timestamp): `(file.line) message`.
pub fn format_body(file: &str, line: u32, msg: &str) -> String {
    let mut out = String::with_capacity(msg.len() + 32);
    push_body(&mut out, file, line, msg);
    out
}

fn push_body(out: &mut String, file: &str, line: u32, msg: &str) {
    let base = file.rsplit('/').next().unwrap_or(file);
    let _ = write!(out, "({base}.{line}) ");
    push_escaped(out, msg);
}

/// Write one message. Used through [`log_error!`](crate::log_error).
pub fn write(file: &str, line: u32, args: fmt::Arguments<'_>) {
    let msg = args.to_string();
    LOG.with(|log| {
        let Ok(mut log) = log.try_borrow_mut() else {
            return;
        };
        let log = &mut *log;
        let now = now_secs();
        if now != log.stamp_secs {
            log.stamp = format!("{}: ", format_local(now));
            log.stamp_secs = now;
        }
        log.line.clear();
        if !matches!(log.sink, Sink::Syslog(_)) {
            log.line.push_str(&log.stamp);
        }
        push_body(&mut log.line, file, line, &msg);
        log.line.push('\n');
        // A failing log must never take the server down; nothing to do.
        let _ = match &mut log.sink {
            Sink::Stderr => io::stderr().write_all(log.line.as_bytes()),
            Sink::File { file, .. } => file.write_all(log.line.as_bytes()),
            Sink::Pipe { child } => match child.stdin.as_mut() {
                Some(stdin) => stdin.write_all(log.line.as_bytes()),
                None => Ok(()),
            },
            Sink::Syslog(logger) => logger
                .err(log.line.trim_end())
                .map_err(|e| io::Error::other(e.to_string())),
        };
    });
}

/// Log a message to the error log: `log_error!("bind failed: {}", e)`.
#[macro_export]
macro_rules! log_error {
    ($($arg:tt)*) => {
        $crate::log::write(file!(), line!(), format_args!($($arg)*))
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_has_lighttpd_prefix_and_escapes() {
        assert_eq!(
            format_body("src/server.rs", 42, "server started (x)"),
            "(server.rs.42) server started (x)"
        );
        assert_eq!(format_body("a.rs", 1, "bad\x01\n"), "(a.rs.1) bad\\x01\\n");
    }

    #[test]
    fn errorlog_values_map_to_targets() {
        assert_eq!(LogTarget::from_errorlog(""), LogTarget::Stderr);
        assert_eq!(
            LogTarget::from_errorlog("|cat"),
            LogTarget::Pipe("cat".into())
        );
        assert_eq!(
            LogTarget::from_errorlog("/x.log"),
            LogTarget::File("/x.log".into())
        );
    }

    #[test]
    fn file_log_gets_timestamped_lines_and_reopens() {
        let dir = std::env::temp_dir().join(format!("lrs-log-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("error.log");
        let p = path.to_str().unwrap().to_string();
        open(&LogTarget::File(p.clone())).unwrap();
        crate::log_error!("hello {}", 7);
        std::fs::rename(&path, dir.join("old.log")).unwrap();
        reopen().unwrap();
        crate::log_error!("after");
        open(&LogTarget::Stderr).unwrap();
        let old = std::fs::read_to_string(dir.join("old.log")).unwrap();
        let new = std::fs::read_to_string(&path).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        assert!(old.ends_with(") hello 7\n"), "{old}");
        assert_eq!(&old[4..5], "-");
        assert_eq!(&old[19..22], ": (");
        assert!(new.contains("(log.rs."), "{new}");
        assert!(new.ends_with(") after\n"));
    }

    #[test]
    fn local_time_format_shape() {
        let s = format_local(0);
        assert_eq!(s.len(), 19);
        assert_eq!(&s[10..11], " ");
    }
}
