//! Sliding-window rate limits per key (an IP address, a recipient), with the clock passed
//! in and bounded memory: when the table is full of live keys, new keys are refused (fail
//! closed) rather than forgetting who was guessing.

use std::collections::{HashMap, VecDeque};

/// At most `limit` events per `window` seconds per key.
#[derive(Debug, Clone)]
pub struct RateLimit {
    limit: usize,
    window: i64,
    max_keys: usize,
    hits: HashMap<String, VecDeque<i64>>,
}

impl RateLimit {
    pub fn new(limit: usize, window: i64, max_keys: usize) -> RateLimit {
        RateLimit {
            limit: limit.max(1),
            window: window.max(1),
            max_keys: max_keys.max(1),
            hits: HashMap::new(),
        }
    }

    /// Count an event for `key` at `now`; `Err(seconds)` to wait when over the limit.
    pub fn hit(&mut self, key: &str, now: i64) -> Result<(), i64> {
        let window = self.window;
        if !self.hits.contains_key(key) && self.hits.len() >= self.max_keys {
            self.hits
                .retain(|_, q| q.back().is_some_and(|t| now - *t < window));
            if self.hits.len() >= self.max_keys {
                return Err(window);
            }
        }
        let q = self.hits.entry(key.to_string()).or_default();
        while q.front().is_some_and(|t| now - *t >= window) {
            q.pop_front();
        }
        over(self.limit, window, q.len(), q.front().copied(), now)?;
        q.push_back(now);
        Ok(())
    }

    /// The rule alone, for counts kept elsewhere (the database several nodes share):
    /// `count` events since `now - window`, the oldest at `oldest`. `Err(seconds)` to
    /// wait when one more would be over the limit.
    pub fn allows(&self, count: usize, oldest: Option<i64>, now: i64) -> Result<(), i64> {
        over(self.limit, self.window, count, oldest, now)
    }

    /// The window in seconds.
    pub fn window(&self) -> i64 {
        self.window
    }

    /// The same rule with nothing counted (to decide on counts kept elsewhere).
    pub fn clone_rule(&self) -> RateLimit {
        RateLimit::new(self.limit, self.window, 1)
    }

    /// Keys currently tracked.
    pub fn len(&self) -> usize {
        self.hits.len()
    }

    pub fn is_empty(&self) -> bool {
        self.hits.is_empty()
    }
}

/// One more event than `count` (the oldest at `oldest`) within `window`: over `limit`?
/// `Err(seconds)` until the oldest leaves the window.
fn over(limit: usize, window: i64, count: usize, oldest: Option<i64>, now: i64) -> Result<(), i64> {
    if count >= limit {
        let oldest = oldest.unwrap_or(now);
        return Err((oldest + window - now).max(1));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::RateLimit;

    #[test]
    fn limits_per_key_within_the_window() {
        let mut r = RateLimit::new(3, 60, 100);
        for t in 0..3 {
            assert_eq!(r.hit("1.2.3.4", 1000 + t), Ok(()));
        }
        assert_eq!(r.hit("1.2.3.4", 1010), Err(50));
        assert_eq!(
            r.hit("5.6.7.8", 1010),
            Ok(()),
            "other keys are not affected"
        );
        // The window slides: the first hit (t=1000) expires at 1060.
        assert_eq!(r.hit("1.2.3.4", 1060), Ok(()));
        assert_eq!(r.hit("1.2.3.4", 1060), Err(1));
    }

    #[test]
    fn the_rule_alone_reads_counts_kept_elsewhere() {
        let r = RateLimit::new(3, 60, 100);
        let table = [
            (0, None, Ok(())),
            (2, Some(1000), Ok(())),
            (3, Some(1000), Err(50)),
            (7, Some(1005), Err(55)),
            (3, Some(950), Err(1)),
        ];
        for (count, oldest, want) in table {
            assert_eq!(r.allows(count, oldest, 1010), want, "{count} {oldest:?}");
        }
        assert_eq!(r.window(), 60);
    }

    #[test]
    fn a_full_table_refuses_new_keys_until_old_ones_expire() {
        let mut r = RateLimit::new(5, 60, 2);
        assert!(r.hit("a", 0).is_ok());
        assert!(r.hit("b", 0).is_ok());
        assert_eq!(
            r.hit("c", 10),
            Err(60),
            "fail closed while a and b are live"
        );
        assert!(r.hit("a", 10).is_ok(), "known keys still count");
        assert!(r.hit("c", 65).is_ok(), "b expired and made room");
        assert_eq!(r.len(), 2);
    }
}
