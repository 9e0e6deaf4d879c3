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
        if q.len() >= self.limit {
            let oldest = q.front().copied().unwrap_or(now);
            return Err((oldest + window - now).max(1));
        }
        q.push_back(now);
        Ok(())
    }

    /// Keys currently tracked.
    pub fn len(&self) -> usize {
        self.hits.len()
    }

    pub fn is_empty(&self) -> bool {
        self.hits.is_empty()
    }
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
