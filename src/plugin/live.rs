//! What open connections are doing between hooks, for mod_status (lighttpd
//! reads each connection's `r->state` directly): the connection state
//! machine publishes, after each run, whether a connection is reading a
//! request body for its handler (lighttpd `CON_STATE_READ_POST`, `R`) and
//! how far. Off unless mod_status asks for it; one event loop per process,
//! so thread-local; only connections reading a body are kept.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;

/// A request body being read: bytes received and the length expected
/// (-1 for chunked, as lighttpd's `reqbody_length`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyProgress {
    pub received: u64,
    pub expected: i64,
}

thread_local! {
    static ENABLED: Cell<bool> = const { Cell::new(false) };
    static READING: RefCell<HashMap<usize, BodyProgress>> = RefCell::new(HashMap::new());
}

/// Start publishing (mod_status is loaded).
pub fn enable() {
    ENABLED.with(|e| e.set(true));
}

pub fn enabled() -> bool {
    ENABLED.with(Cell::get)
}

/// A connection's state after a run: `Some` while it reads a request body.
pub fn publish(conn: usize, body: Option<BodyProgress>) {
    if !enabled() {
        return;
    }
    READING.with(|m| {
        let mut m = m.borrow_mut();
        match body {
            Some(b) => {
                m.insert(conn, b);
            }
            None => {
                m.remove(&conn);
            }
        }
    });
}

/// The body a connection is reading, if it is.
pub fn reading_body(conn: usize) -> Option<BodyProgress> {
    READING.with(|m| m.borrow().get(&conn).copied())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_only_when_enabled_and_while_reading() {
        let b = BodyProgress {
            received: 3,
            expected: 10,
        };
        publish(7, Some(b));
        assert_eq!(reading_body(7), None);
        enable();
        publish(7, Some(b));
        assert_eq!(reading_body(7), Some(b));
        publish(7, None);
        assert_eq!(reading_body(7), None);
    }
}
