//! When to read a keep-alive connection again right after its response,
//! before the poller says there is something to read.
//!
//! lighttpd always does. The read finds the next request already there when
//! the client runs beside the server on a busy machine, and then saves a
//! poller round and often a sleep; with a client that waits for each answer
//! it finds nothing (EAGAIN) and is a wasted system call. So the server keeps
//! a score of how such reads went lately and makes them while they pay off,
//! probing now and then when they do not.

/// Outcomes of recent reads-after-response, server wide.
#[derive(Debug, Default)]
pub struct ReadAhead {
    /// Up by 16 for a read that found data, down by 1 for one that did not:
    /// reads stay on while at least one in 17 finds the next request. (With
    /// wrk beside the server on two cores, 3-30 % of them do and save a
    /// poller round each; with the server on a core of its own, almost none.)
    score: i8,
    /// Responses since the last probe while reads are off.
    skipped: u8,
}

impl ReadAhead {
    const HIT: i8 = 16;
    const MAX: i8 = 64;
    const MIN: i8 = -16;
    /// While reads are off, still read after one response in this many.
    const PROBE_EVERY: u8 = 16;

    /// Should the connection read right after this response?
    pub fn wanted(&mut self) -> bool {
        if self.score >= 0 {
            return true;
        }
        self.skipped += 1;
        if self.skipped < Self::PROBE_EVERY {
            return false;
        }
        self.skipped = 0;
        true
    }

    /// What a read-after-response found.
    pub fn record(&mut self, found_data: bool) {
        self.score = if found_data {
            self.score.saturating_add(Self::HIT).min(Self::MAX)
        } else {
            self.score.saturating_sub(1).max(Self::MIN)
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reads_in(ra: &mut ReadAhead, n: usize) -> usize {
        (0..n).filter(|_| ra.wanted()).count()
    }

    #[test]
    fn reads_while_they_find_data() {
        let mut ra = ReadAhead::default();
        for _ in 0..100 {
            assert!(ra.wanted());
            ra.record(true);
        }
    }

    #[test]
    fn stops_after_a_miss_but_keeps_probing() {
        let mut ra = ReadAhead::default();
        assert!(ra.wanted());
        ra.record(false);
        assert_eq!(reads_in(&mut ra, 32), 2, "one probe in 16 responses");
    }

    #[test]
    fn probes_that_find_data_turn_reads_back_on() {
        let mut ra = ReadAhead::default();
        for _ in 0..40 {
            ra.record(false);
        }
        for _ in 0..2 * 16 {
            if ra.wanted() {
                ra.record(true);
            }
        }
        assert_eq!(reads_in(&mut ra, 100), 100);
    }

    #[test]
    fn one_hit_in_seventeen_keeps_reads_on() {
        let mut ra = ReadAhead::default();
        for i in 0..300 {
            assert!(ra.wanted(), "response {i}");
            ra.record(i % 17 == 0);
        }
    }

    #[test]
    fn one_hit_in_twenty_turns_reads_off() {
        let mut ra = ReadAhead::default();
        let reads = (0..2000)
            .filter(|i| {
                let read = ra.wanted();
                if read {
                    ra.record(i % 20 == 0);
                }
                read
            })
            .count();
        assert!(reads < 1000, "{reads}");
    }
}
