//! Process-wide named counters (lighttpd `plugin_stats`): modules count
//! events under dotted names (`gw.backend.<label>.<proc>.died`,
//! `fastcgi.requests`…) and mod_status prints them at
//! `status.statistics-url`. One event loop per process, so a thread-local
//! map; the number of names is bounded by the configuration.

//! A module that updates a counter often keeps a [`Counter`] handle, as
//! lighttpd keeps a pointer into its stats array: no name is formatted or
//! looked up per request.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

thread_local! {
    static COUNTERS: RefCell<HashMap<String, Counter, rustc_hash::FxBuildHasher>> =
        RefCell::default();
}

/// A handle on one named counter.
#[derive(Debug, Clone, Default)]
pub struct Counter(Rc<Cell<i64>>);

impl Counter {
    pub fn add(&self, delta: i64) {
        self.0.set(self.0.get() + delta);
    }

    pub fn set(&self, value: i64) {
        self.0.set(value);
    }

    pub fn get(&self) -> i64 {
        self.0.get()
    }
}

/// The counter `name` (created at 0, and listed from then on).
pub fn counter(name: &str) -> Counter {
    COUNTERS.with(|c| {
        let mut c = c.borrow_mut();
        if let Some(k) = c.get(name) {
            return k.clone();
        }
        let k = Counter::default();
        c.insert(name.to_string(), k.clone());
        k
    })
}

/// Set a counter (creating it).
pub fn set(name: &str, value: i64) {
    counter(name).set(value);
}

/// Add `delta` to a counter (creating it at 0).
pub fn add(name: &str, delta: i64) {
    counter(name).add(delta);
}

/// A counter's value (0 when unknown).
pub fn get(name: &str) -> i64 {
    COUNTERS.with(|c| c.borrow().get(name).map_or(0, Counter::get))
}

/// Every counter, in lighttpd's order (shorter names first, then bytewise).
pub fn snapshot() -> Vec<(String, i64)> {
    let mut all: Vec<(String, i64)> = COUNTERS.with(|c| {
        c.borrow()
            .iter()
            .map(|(k, v)| (k.clone(), v.get()))
            .collect()
    });
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
        let died = counter("gw.backend..0.died");
        died.add(3);
        assert_eq!(get("gw.backend..0.died"), 5);
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
