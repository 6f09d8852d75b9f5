//! Process-wide named counters (lighttpd `plugin_stats`): modules count
//! events under dotted names (`gw.backend.<label>.<proc>.died`,
//! `fastcgi.requests`…) and mod_status prints them at
//! `status.statistics-url`. One event loop per process, so a thread-local
//! map; the number of names is bounded by the configuration.

use std::cell::RefCell;
use std::collections::HashMap;

thread_local! {
    static COUNTERS: RefCell<HashMap<String, i64>> = RefCell::new(HashMap::new());
}

/// Set a counter (creating it).
pub fn set(name: &str, value: i64) {
    COUNTERS.with(|c| {
        let mut c = c.borrow_mut();
        match c.get_mut(name) {
            Some(v) => *v = value,
            None => {
                c.insert(name.to_string(), value);
            }
        }
    });
}

/// Add `delta` to a counter (creating it at 0).
pub fn add(name: &str, delta: i64) {
    COUNTERS.with(|c| {
        let mut c = c.borrow_mut();
        match c.get_mut(name) {
            Some(v) => *v += delta,
            None => {
                c.insert(name.to_string(), delta);
            }
        }
    });
}

/// A counter's value (0 when unknown).
pub fn get(name: &str) -> i64 {
    COUNTERS.with(|c| c.borrow().get(name).copied().unwrap_or(0))
}

/// Every counter, in lighttpd's order (shorter names first, then bytewise).
pub fn snapshot() -> Vec<(String, i64)> {
    let mut all: Vec<(String, i64)> =
        COUNTERS.with(|c| c.borrow().iter().map(|(k, v)| (k.clone(), *v)).collect());
    all.sort_by(|a, b| (a.0.len(), &a.0).cmp(&(b.0.len(), &b.0)));
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_and_order() {
        set("gw.backend..0.connected", 0);
        add("gw.backend..0.died", 1);
        add("gw.backend..0.died", 1);
        set("gw.backend..load", 3);
        add("gw.active-requests", -1);
        assert_eq!(get("gw.backend..0.died"), 2);
        assert_eq!(get("nothing"), 0);
        let names: Vec<String> = snapshot().into_iter().map(|(k, _)| k).collect();
        assert_eq!(
            names,
            [
                "gw.backend..load",
                "gw.active-requests",
                "gw.backend..0.died",
                "gw.backend..0.connected"
            ]
        );
    }
}
