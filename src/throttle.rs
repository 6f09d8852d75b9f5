//! Bandwidth limits (lighttpd src/connections.c `connection_write_throttle`,
//! `connection_check_timeout`; src/configfile.c
//! `config_reset_config_bytes_sec`):
//!
//! * `connection.kbytes-per-second`: at most that many KiB per second on one
//!   connection; once reached, the connection is parked until the 1 s tick,
//!   and stays parked while its average since it was accepted is over the
//!   limit.
//! * `server.kbytes-per-second`: at most that many KiB per second for all
//!   connections whose request resolved the limit from the same assignment
//!   (each assignment, e.g. one per `$HTTP["host"]` block, has its own
//!   counter, emptied at every tick).
//!
//! Both come from the request's resolved configuration, so conditions apply.
//! A parked connection asks for no events: the loop never waits on it.

use std::collections::HashMap;

use crate::config::core::CoreConf;
use crate::config::source::Span;

/// Bytes sent this second per `server.kbytes-per-second` assignment.
#[derive(Debug, Default)]
pub struct ScopeCounters {
    sent: HashMap<Span, u64>,
}

impl ScopeCounters {
    /// The 1 s tick: every scope may send its limit again.
    pub fn reset(&mut self) {
        self.sent.clear();
    }

    fn sent(&self, scope: &Span) -> u64 {
        self.sent.get(scope).copied().unwrap_or(0)
    }
}

/// One connection's side of the limits.
#[derive(Debug, Default)]
pub struct ConnThrottle {
    /// Bytes written since the last tick.
    this_second: u64,
    /// Bytes written since the connection was accepted.
    total: u64,
    /// lighttpd `traffic_limit_reached`: parked until a tick lets it go.
    pub limited: bool,
}

fn conn_limit(conf: &CoreConf) -> u64 {
    u64::from(conf.connection_kbytes_per_second) << 10
}

fn scope_limit(conf: &CoreConf) -> u64 {
    u64::from(conf.kbytes_per_second) << 10
}

impl ConnThrottle {
    /// How many bytes may be written now under `conf`: `u64::MAX` when no
    /// limit applies, 0 when a limit is reached (the connection is then
    /// marked limited).
    pub fn allowance(&mut self, conf: &CoreConf, scopes: &ScopeCounters) -> u64 {
        let mut max = u64::MAX;
        if conf.kbytes_per_second > 0 {
            max = max
                .min(scope_limit(conf).saturating_sub(scopes.sent(&conf.kbytes_per_second_scope)));
        }
        if conf.connection_kbytes_per_second > 0 {
            max = max.min(conn_limit(conf).saturating_sub(self.this_second));
        }
        if max == 0 {
            self.limited = true;
        }
        max
    }

    /// Count `n` bytes written under `conf`.
    pub fn record(&mut self, n: u64, conf: &CoreConf, scopes: &mut ScopeCounters) {
        self.this_second += n;
        self.total += n;
        if conf.kbytes_per_second > 0 {
            *scopes.sent.entry(conf.kbytes_per_second_scope).or_insert(0) += n;
        }
    }

    /// The 1 s tick for a connection accepted `age` seconds ago, whose
    /// current request resolved `conf` (None between requests). True when
    /// a parked connection may write again.
    pub fn tick(&mut self, conf: Option<&CoreConf>, age: i64) -> bool {
        self.this_second = 0;
        if !self.limited {
            return false;
        }
        let limit = conf.map_or(0, conn_limit);
        let secs = age.max(1) as u64;
        if limit == 0 || self.total < limit.saturating_mul(secs) {
            self.limited = false;
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conf(server_kb: u16, conn_kb: u16, scope: usize) -> CoreConf {
        CoreConf {
            kbytes_per_second: server_kb,
            kbytes_per_second_scope: Span {
                file: 0,
                start: scope,
                end: scope + 1,
            },
            connection_kbytes_per_second: conn_kb,
            ..CoreConf::default()
        }
    }

    #[test]
    fn no_limit_no_parking() {
        let (mut t, mut s) = (ConnThrottle::default(), ScopeCounters::default());
        let c = conf(0, 0, 0);
        assert_eq!(t.allowance(&c, &s), u64::MAX);
        t.record(1 << 30, &c, &mut s);
        assert_eq!(t.allowance(&c, &s), u64::MAX);
        assert!(!t.limited);
    }

    #[test]
    fn connection_limit_parks_until_the_average_allows() {
        let (mut t, mut s) = (ConnThrottle::default(), ScopeCounters::default());
        let c = conf(0, 2, 0);
        assert_eq!(t.allowance(&c, &s), 2048);
        t.record(2048, &c, &mut s);
        assert_eq!(t.allowance(&c, &s), 0);
        assert!(t.limited);
        // one second in: 2048 sent, not below 2048 * 1: stays parked
        assert!(!t.tick(Some(&c), 1));
        assert!(t.tick(Some(&c), 2));
        assert_eq!(t.allowance(&c, &s), 2048);
    }

    #[test]
    fn server_limit_is_shared_per_assignment_and_reset_by_the_tick() {
        let mut s = ScopeCounters::default();
        let (mut a, mut b, mut other) = (
            ConnThrottle::default(),
            ConnThrottle::default(),
            ConnThrottle::default(),
        );
        let (c1, c2) = (conf(1, 0, 10), conf(1, 0, 20));
        a.record(1000, &c1, &mut s);
        assert_eq!(b.allowance(&c1, &s), 24);
        b.record(24, &c1, &mut s);
        assert_eq!(a.allowance(&c1, &s), 0);
        assert_eq!(other.allowance(&c2, &s), 1024);
        s.reset();
        assert!(a.tick(Some(&c1), 1), "no connection limit: free again");
        assert_eq!(a.allowance(&c1, &s), 1024);
    }
}
