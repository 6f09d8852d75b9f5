//! What open connections are doing between hooks, for mod_status (lighttpd
//! reads each connection's `r->state` directly): the connection state
//! machine publishes, after each run, whether a connection is reading a
//! request body for its handler (lighttpd `CON_STATE_READ_POST`, `R`) or
//! writing a response, and how far. Off unless mod_status asks for it; one
//! event loop per process, so thread-local; only connections doing one of
//! these are kept.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;

/// What a connection is doing between hooks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Reading a request body: bytes received and the length expected (-1
    /// for chunked, as lighttpd's `reqbody_length`).
    ReadBody { received: u64, expected: i64 },
    /// Writing a response: bytes written and queued so far (head included,
    /// lighttpd's `write_queue` bytes_out / bytes_in).
    Write { written: u64, queued: u64 },
}

thread_local! {
    static ENABLED: Cell<bool> = const { Cell::new(false) };
    static READING: RefCell<HashMap<usize, Progress>> = RefCell::new(HashMap::new());
}

/// Start publishing (mod_status is loaded).
pub fn enable() {
    ENABLED.with(|e| e.set(true));
}

pub fn enabled() -> bool {
    ENABLED.with(Cell::get)
}

/// A connection's state after a run (None: neither reading a body nor
/// writing).
pub fn publish(conn: usize, progress: Option<Progress>) {
    if !enabled() {
        return;
    }
    READING.with(|m| {
        let mut m = m.borrow_mut();
        match progress {
            Some(b) => {
                m.insert(conn, b);
            }
            None => {
                m.remove(&conn);
            }
        }
    });
}

/// What a connection is doing, if it reads a body or writes.
pub fn progress(conn: usize) -> Option<Progress> {
    READING.with(|m| m.borrow().get(&conn).copied())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_only_when_enabled_and_while_reading() {
        let b = Progress::ReadBody {
            received: 3,
            expected: 10,
        };
        publish(7, Some(b));
        assert_eq!(progress(7), None);
        enable();
        publish(7, Some(b));
        assert_eq!(progress(7), Some(b));
        publish(7, None);
        assert_eq!(progress(7), None);
    }
}
