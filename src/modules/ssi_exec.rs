//! mod_ssi `<!--#exec cmd="..." -->`: `/bin/sh -c cmd` with stdin
//! /dev/null and stderr to the server's stderr (the error log). lighttpd
//! 1.4.69 runs it synchronously, blocking the whole server; here the
//! command's stdout is a non-blocking pipe on the event loop
//! ([`Running::read`] on readiness), bounded in time ([`TIMEOUT`], then
//! the command is killed) and in kept output ([`MAX_OUTPUT`], the rest is
//! read and dropped). The server's SIGCHLD handling reaps the process.

use std::io::Read;
use std::os::fd::AsRawFd;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use mio::unix::SourceFd;
use mio::{Interest, Token};

use crate::plugin::Ctx;

/// Longest a command may run.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// Most output kept from one command.
pub const MAX_OUTPUT: usize = 16 << 20;
/// The handler token slot of the stdout pipe.
pub const SLOT: usize = 1;

/// A running command.
pub struct Running {
    cmd: String,
    child: Child,
    stdout: Option<ChildStdout>,
    out: Vec<u8>,
    deadline: Instant,
}

impl Running {
    /// Start `cmd` and register its stdout with the event loop.
    pub fn spawn(cmd: &str, cx: &mut Ctx) -> std::io::Result<Running> {
        let mut child = Command::new("/bin/sh")
            .arg("-c")
            .arg(cmd)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()?;
        let Some(stdout) = child.stdout.take() else {
            let _ = child.kill();
            return Err(std::io::Error::other("no stdout pipe"));
        };
        let _ = crate::sockets::set_nonblocking(stdout.as_raw_fd());
        let token = Token(cx.token_base | (SLOT << 32));
        if let Err(e) = cx.registry.register(
            &mut SourceFd(&stdout.as_raw_fd()),
            token,
            Interest::READABLE,
        ) {
            let _ = child.kill();
            return Err(e);
        }
        Ok(Running {
            cmd: cmd.to_string(),
            child,
            stdout: Some(stdout),
            out: Vec::new(),
            deadline: Instant::now() + TIMEOUT,
        })
    }

    /// Read what is available; true once the output is complete (EOF,
    /// error, or past the deadline).
    pub fn read(&mut self) -> bool {
        let Some(stdout) = self.stdout.as_mut() else {
            return true;
        };
        let mut buf = [0u8; 16 * 1024];
        loop {
            match stdout.read(&mut buf) {
                Ok(0) => return true,
                Ok(n) => {
                    let room = MAX_OUTPUT.saturating_sub(self.out.len());
                    self.out.extend_from_slice(&buf[..n.min(room)]);
                    // A command that never stops writing must not hold the
                    // loop: complete at the cap (the rest is dropped).
                    if n >= room || Instant::now() >= self.deadline {
                        return true;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    return self.expired();
                }
                Err(_) => return true,
            }
        }
    }

    /// Past the deadline?
    pub fn expired(&self) -> bool {
        Instant::now() >= self.deadline
    }

    /// Stop watching the pipe (killing the command if it timed out or is
    /// abandoned); the output.
    pub fn finish(mut self, cx: &mut Ctx) -> Vec<u8> {
        self.release(cx);
        std::mem::take(&mut self.out)
    }

    fn release(&mut self, cx: &mut Ctx) {
        if let Some(stdout) = self.stdout.take() {
            let _ = cx.registry.deregister(&mut SourceFd(&stdout.as_raw_fd()));
        }
        match self.child.try_wait() {
            Ok(Some(status)) if status.code().is_none() => {
                crate::log_error!("process exited abnormally: {}", self.cmd);
            }
            Ok(Some(_)) | Err(_) => {}
            Ok(None) if self.expired() => {
                crate::log_error!(
                    "ssi: exec ran longer than {}s, killed: {}",
                    TIMEOUT.as_secs(),
                    self.cmd
                );
                let _ = self.child.kill();
            }
            // output complete but still running: leave it to the reaper
            Ok(None) => {}
        }
    }

    /// The request is gone: stop the command.
    pub fn abandon(mut self, cx: &mut Ctx) {
        if let Some(stdout) = self.stdout.take() {
            let _ = cx.registry.deregister(&mut SourceFd(&stdout.as_raw_fd()));
        }
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
        }
    }
}
