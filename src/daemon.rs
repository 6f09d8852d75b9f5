//! Process setup around the event loop (lighttpd src/server.c): going to the
//! background with a readiness pipe, the pid file, chroot and privilege drop
//! after the listeners are bound, and `server.max-worker` worker processes.

use std::fs::OpenOptions;
use std::io::{self, Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use nix::sys::signal::{kill, pthread_sigmask, SigSet, SigmaskHow, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{ForkResult, Pid};

use crate::sys;

/// The daemon's end of the readiness pipe: dropping it without
/// [`Ready::done`] tells the waiting parent that startup failed.
pub struct Ready {
    pipe: Option<std::fs::File>,
}

impl Ready {
    /// Not daemonized (`-D`): nothing to tell.
    pub fn none() -> Ready {
        Ready { pipe: None }
    }

    /// Startup finished: let the original process exit 0.
    pub fn done(mut self) {
        if let Some(mut p) = self.pipe.take() {
            let _ = p.write_all(b"\0");
        }
    }
}

/// Go to the background: fork, the parent waits for the child's
/// readiness byte and exits 0 (or prints lighttpd's failure message and
/// exits 255); the child starts a new session, forks again, changes to `/`
/// and points stdin/stdout at /dev/null.
pub fn daemonize() -> io::Result<Ready> {
    let (read_end, write_end) = nix::unistd::pipe().map_err(io::Error::from)?;
    match sys::fork().map_err(io::Error::from)? {
        ForkResult::Parent { .. } => {
            drop(write_end);
            std::process::exit(wait_for_ready(read_end));
        }
        ForkResult::Child => drop(read_end),
    }
    nix::unistd::setsid().map_err(io::Error::from)?;
    match sys::fork().map_err(io::Error::from)? {
        ForkResult::Parent { .. } => std::process::exit(0),
        ForkResult::Child => {}
    }
    std::env::set_current_dir("/")?;
    redirect_stdio_to_null()?;
    Ok(Ready {
        pipe: Some(std::fs::File::from(write_end)),
    })
}

fn wait_for_ready(read_end: OwnedFd) -> i32 {
    let mut f = std::fs::File::from(read_end);
    let mut b = [0u8; 1];
    match f.read(&mut b) {
        Ok(1) => 0,
        _ => {
            eprintln!("daemonized server failed to start; check error log for details");
            255
        }
    }
}

fn redirect_stdio_to_null() -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let null = OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")?;
    for fd in [0, 1] {
        nix::unistd::dup2(null.as_raw_fd(), fd).map_err(io::Error::from)?;
    }
    Ok(())
}

/// Write the pid file (created 0644; an existing file is overwritten).
pub fn write_pid_file(path: &str) -> io::Result<()> {
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o644)
        .open(path)?;
    writeln!(f, "{}", std::process::id())
}

/// Remove the pid file at exit (only if it still names us).
pub fn remove_pid_file(path: &str) {
    let ours = std::fs::read_to_string(path)
        .map(|s| s.trim() == std::process::id().to_string())
        .unwrap_or(false);
    if ours {
        let _ = std::fs::remove_file(path);
    }
}

/// What to become after binding, when started as root.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    pub chroot: Option<String>,
    pub username: Option<String>,
    pub groupname: Option<String>,
}

/// chroot and drop privileges (root only; a no-op otherwise), refusing uid
/// or gid 0 as lighttpd does.
pub fn drop_privileges(id: &Identity) -> Result<(), String> {
    use nix::unistd::{chroot, setgid, setgroups, setuid, Group, User};
    if !nix::unistd::geteuid().is_root() {
        return Ok(());
    }
    let user = match &id.username {
        Some(name) => Some(
            User::from_name(name)
                .ok()
                .flatten()
                .ok_or_else(|| format!("can't find username {name}"))?,
        ),
        None => None,
    };
    let group = match &id.groupname {
        Some(name) => Some(
            Group::from_name(name)
                .ok()
                .flatten()
                .ok_or_else(|| format!("can't find groupname {name}"))?
                .gid,
        ),
        None => user.as_ref().map(|u| u.gid),
    };
    if let Some(dir) = &id.chroot {
        check_chroot_dir(dir)?;
        chroot(dir.as_str()).map_err(|e| format!("chroot: {e}"))?;
        std::env::set_current_dir("/").map_err(|e| format!("chdir: {e}"))?;
    }
    if let Some(gid) = group {
        if gid.as_raw() == 0 {
            return Err("I will not set gid to 0".into());
        }
        setgid(gid).map_err(|e| format!("setgid: {e}"))?;
        setgroups(&[gid]).map_err(|e| format!("setgroups: {e}"))?;
    }
    if let Some(u) = user {
        if u.uid.is_root() {
            return Err("I will not set uid to 0".into());
        }
        setuid(u.uid).map_err(|e| format!("setuid: {e}"))?;
    }
    Ok(())
}

fn check_chroot_dir(dir: &str) -> Result<(), String> {
    match std::fs::metadata(Path::new(dir)) {
        Err(_) => Err(format!("server.chroot doesn't exist: {dir}")),
        Ok(m) if !m.is_dir() => Err(format!("server.chroot isn't a directory: {dir}")),
        Ok(_) => Ok(()),
    }
}

/// Fork `n` worker processes. Returns `Ok(None)` in a worker, the pids in
/// the parent.
pub fn fork_workers(n: usize) -> io::Result<Option<Vec<Pid>>> {
    let mut pids = Vec::with_capacity(n);
    for _ in 0..n {
        match fork_worker()? {
            None => return Ok(None),
            Some(child) => pids.push(child),
        }
    }
    Ok(Some(pids))
}

/// Fork one worker: `None` in the worker, its pid in the parent. A signal
/// caught before the fork is the master's, which passes it on (as sent by
/// the master): the worker drops its inherited copy of the pending bits.
/// The handled signals stay blocked across the fork so that one sent to the
/// new worker is never dropped with them: it is delivered once unblocked.
fn fork_worker() -> io::Result<Option<Pid>> {
    let mut handled = SigSet::empty();
    for sig in crate::signals::HANDLED {
        handled.add(sig);
    }
    let mut before = SigSet::empty();
    let _ = pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&handled), Some(&mut before));
    let forked = sys::fork();
    if let Ok(ForkResult::Child) = forked {
        // A worker must not outlive its parent.
        let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGTERM);
        let _ = sys::take_pending_signals();
    }
    let _ = pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&before), None);
    match forked.map_err(io::Error::from)? {
        ForkResult::Child => Ok(None),
        ForkResult::Parent { child } => Ok(Some(child)),
    }
}

/// Reap exited children without blocking; returns their pids and wait
/// statuses.
pub fn reap_children() -> Vec<(Pid, WaitStatus)> {
    let mut gone = Vec::new();
    loop {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(st @ WaitStatus::Exited(pid, _)) | Ok(st @ WaitStatus::Signaled(pid, _, _)) => {
                gone.push((pid, st))
            }
            Ok(WaitStatus::StillAlive) | Err(_) => break,
            Ok(_) => continue,
        }
    }
    gone
}

/// Pass a signal on to every worker.
pub fn signal_all(pids: &[Pid], sig: Signal) {
    for &pid in pids {
        let _ = kill(pid, sig);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pid_file_round_trip() {
        let path = std::env::temp_dir().join(format!("lrs-pid-{}", std::process::id()));
        let p = path.to_str().unwrap();
        write_pid_file(p).unwrap();
        let text = std::fs::read_to_string(p).unwrap();
        assert_eq!(text.trim(), std::process::id().to_string());
        remove_pid_file(p);
        assert!(!path.exists());
    }

    #[test]
    fn chroot_dir_is_checked() {
        assert!(check_chroot_dir("/nonexistent-x")
            .unwrap_err()
            .contains("doesn't exist"));
        assert!(check_chroot_dir("/etc/hostname")
            .unwrap_err()
            .contains("isn't a directory"));
        assert!(check_chroot_dir("/").is_ok());
    }

    #[test]
    fn non_root_drop_is_a_no_op_or_checks_names() {
        let id = Identity {
            chroot: None,
            username: Some("no-such-user-xyz".into()),
            groupname: None,
        };
        let r = drop_privileges(&id);
        if nix::unistd::geteuid().is_root() {
            assert!(r.unwrap_err().contains("can't find username"));
        } else {
            assert!(r.is_ok());
        }
    }
}
