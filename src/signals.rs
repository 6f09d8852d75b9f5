//! Signals → self-pipe → event-loop events, with lighttpd's meanings:
//! SIGTERM stops now, SIGINT stops gracefully (a second SIGINT stops now),
//! SIGUSR1 restarts gracefully re-reading the config, SIGHUP reopens logs,
//! SIGCHLD reaps children. The sender's uid and pid are kept for lighttpd's
//! "server stopped by UID = … PID = …" and "logfiles cycled …" lines.
//!
//! The handler itself lives in [`crate::sys`]; here the pipe is registered
//! with mio and the pending bits are turned into [`SignalEvent`]s.

use std::io::{self, Read};
use std::os::fd::AsRawFd;

use mio::unix::pipe;
use mio::{Interest, Registry, Token};
use nix::sys::signal::Signal;

use crate::sys;

/// What the server loop should do about a signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignalEvent {
    /// SIGTERM: close everything and exit now.
    Terminate,
    /// SIGINT: stop accepting, finish open requests, then exit.
    GracefulShutdown,
    /// SIGUSR1: stop accepting, reload the config, serve again.
    GracefulRestart,
    /// SIGHUP: reopen log files.
    ReopenLogs,
    /// SIGCHLD: reap children.
    Child,
}

/// The signals lighttpd-rs handles.
pub const HANDLED: [Signal; 5] = [
    Signal::SIGTERM,
    Signal::SIGINT,
    Signal::SIGUSR1,
    Signal::SIGHUP,
    Signal::SIGCHLD,
];

/// The self-pipe: its read end is registered with the event loop.
pub struct Signals {
    receiver: pipe::Receiver,
    /// Kept open: the handler writes to its fd.
    _sender: pipe::Sender,
}

impl Signals {
    /// Create the pipe, install the handlers and register the read end.
    pub fn install(registry: &Registry, token: Token) -> io::Result<Signals> {
        let (sender, mut receiver) = pipe::new()?;
        registry.register(&mut receiver, token, Interest::READABLE)?;
        sys::install_signal_handlers(sender.as_raw_fd(), &HANDLED).map_err(io::Error::from)?;
        Ok(Signals {
            receiver,
            _sender: sender,
        })
    }

    /// Return the events for every signal received; empty the pipe first
    /// when `pipe_ready` (its readiness was reported: no read per loop
    /// round otherwise).
    pub fn drain(&mut self, pipe_ready: bool) -> Vec<SignalEvent> {
        let mut buf = [0u8; 64];
        if pipe_ready {
            loop {
                match self.receiver.read(&mut buf) {
                    Ok(n) if n > 0 => continue,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    _ => break,
                }
            }
        }
        match sys::take_pending_signals() {
            0 => Vec::new(),
            bits => events_from_bits(bits),
        }
    }
}

/// Translate the pending-signal bits into events, most drastic first.
pub fn events_from_bits(bits: u32) -> Vec<SignalEvent> {
    let table = [
        (Signal::SIGTERM, SignalEvent::Terminate),
        (Signal::SIGINT, SignalEvent::GracefulShutdown),
        (Signal::SIGUSR1, SignalEvent::GracefulRestart),
        (Signal::SIGHUP, SignalEvent::ReopenLogs),
        (Signal::SIGCHLD, SignalEvent::Child),
    ];
    table
        .iter()
        .filter(|(sig, _)| bits & (1 << (*sig as i32)) != 0)
        .map(|(_, ev)| *ev)
        .collect()
}

/// lighttpd's last log line after a stop (or before a graceful restart),
/// naming who sent the signal.
pub fn stopped_by_message() -> String {
    let (uid, pid) = sys::signal_sender(false);
    format!("server stopped by UID = {uid} PID = {pid}")
}

/// lighttpd's log line after SIGHUP reopened the logs.
pub fn logs_cycled_message() -> String {
    let (uid, pid) = sys::signal_sender(true);
    format!("logfiles cycled UID = {uid} PID = {pid}")
}

/// Catch the handled signals from the very start (before the listeners
/// exist), only recording them; [`Signals::install`] later adds the wakeup
/// pipe and the recorded signals are acted on then.
pub fn catch_early() -> io::Result<()> {
    sys::install_signal_handlers(-1, &HANDLED).map_err(io::Error::from)
}

/// Restore default dispositions (in forked children that exec).
pub fn reset_in_child() {
    sys::reset_signal_handlers(&HANDLED);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_map_to_events_in_priority_order() {
        let bits = (1 << Signal::SIGHUP as i32) | (1 << Signal::SIGTERM as i32);
        assert_eq!(
            events_from_bits(bits),
            vec![SignalEvent::Terminate, SignalEvent::ReopenLogs]
        );
        assert!(events_from_bits(0).is_empty());
    }
}
