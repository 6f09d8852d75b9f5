//! mod_ssi `<!--#exec cmd="..." -->`: run `/bin/sh -c cmd` and collect its
//! standard output. lighttpd 1.4.69 runs it synchronously (blocking the
//! whole server until the command exits); here the wait is bounded:
//! at most [`TIMEOUT`] (then the command is killed) and at most
//! [`MAX_OUTPUT`] bytes are kept (the rest is read and discarded).
//! stdin is /dev/null, stderr goes to the server's stderr (the error log).

use std::io::Read;
use std::os::fd::AsFd;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

/// Longest a command may run.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// Most output kept from one command.
pub const MAX_OUTPUT: usize = 16 << 20;

/// Run `cmd`; its output (possibly cut short), or the spawn error.
pub fn run(cmd: &str) -> std::io::Result<Vec<u8>> {
    let mut child = Command::new("/bin/sh")
        .arg("-c")
        .arg(cmd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()?;
    let mut out = Vec::new();
    if let Some(mut stdout) = child.stdout.take() {
        read_bounded(&mut stdout, &mut out, Instant::now() + TIMEOUT);
    }
    let status = match child.try_wait() {
        Ok(Some(s)) => Some(s),
        _ => {
            let deadline = Instant::now() + Duration::from_millis(200);
            wait_until(&mut child, deadline)
        }
    };
    match status {
        Some(s) if s.code().is_none() => {
            crate::log_error!("process exited abnormally: {cmd}");
        }
        Some(_) => {}
        None => {
            crate::log_error!(
                "ssi: exec timed out after {}s, killed: {cmd}",
                TIMEOUT.as_secs()
            );
            let _ = child.kill();
            let _ = child.wait();
        }
    }
    Ok(out)
}

/// Read `pipe` until EOF or `deadline`, keeping at most [`MAX_OUTPUT`].
fn read_bounded(pipe: &mut std::process::ChildStdout, out: &mut Vec<u8>, deadline: Instant) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        let ms = u16::try_from(left.as_millis()).unwrap_or(u16::MAX);
        let mut fds = [PollFd::new(pipe.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::from(ms)) {
            Ok(0) => continue,
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return,
        }
        match pipe.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                let room = MAX_OUTPUT.saturating_sub(out.len());
                out.extend_from_slice(&buf[..n.min(room)]);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}

fn wait_until(
    child: &mut std::process::Child,
    deadline: Instant,
) -> Option<std::process::ExitStatus> {
    loop {
        if let Ok(Some(s)) = child.try_wait() {
            return Some(s);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_is_collected() {
        assert_eq!(run("echo hi; echo err >&2").expect("spawn"), b"hi\n");
    }

    #[test]
    fn output_is_capped() {
        let out = run("head -c 20000000 /dev/zero").expect("spawn");
        assert_eq!(out.len(), MAX_OUTPUT);
    }
}
