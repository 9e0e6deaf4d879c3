//! Staff sign-in failures (web and SMTP AUTH alike), counted so that guessing stops and
//! nobody can lock a colleague out.
//!
//! - Only failures count; a successful sign-in adds nothing.
//! - Failures are counted per account *and* client address: after `pair_limit` wrong
//!   passwords from one address, that address may not try that account again for the
//!   window. Someone else, elsewhere, signs in as usual.
//! - Guessing from many addresses is stopped per account: once the account has had
//!   `account_limit` failures in the window, every address that has failed on it is
//!   refused, so each further address gets at most one wrong try; an address that has
//!   not failed (the account's owner) is not affected.
//! - A valid second factor proves the person: their account's failures are forgotten.
//!
//! The client address is keyed by /64 for IPv6 ([`client_key`]).

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

use crate::client::client_key;

/// Refused for now: try again in `retry_after` seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Locked {
    pub retry_after: i64,
}

/// Failure times per key, bounded: when full, the key whose last failure is oldest goes.
#[derive(Debug, Clone)]
struct Failures {
    window: i64,
    max_keys: usize,
    times: HashMap<String, VecDeque<i64>>,
}

impl Failures {
    fn new(window: i64, max_keys: usize) -> Failures {
        Failures {
            window: window.max(1),
            max_keys: max_keys.max(1),
            times: HashMap::new(),
        }
    }

    /// Failures of `key` within the window, and when the oldest of them expires.
    fn count(&self, key: &str, now: i64) -> (usize, i64) {
        let Some(q) = self.times.get(key) else {
            return (0, 0);
        };
        let live: Vec<i64> = q
            .iter()
            .copied()
            .filter(|t| now - t < self.window)
            .collect();
        let expires = live.first().map(|t| t + self.window - now).unwrap_or(0);
        (live.len(), expires.max(1))
    }

    fn add(&mut self, key: String, now: i64, keep: usize) {
        let window = self.window;
        if !self.times.contains_key(&key) && self.times.len() >= self.max_keys {
            self.times
                .retain(|_, q| q.back().is_some_and(|t| now - t < window));
            if self.times.len() >= self.max_keys
                && let Some(oldest) = self
                    .times
                    .iter()
                    .min_by_key(|(_, q)| q.back().copied().unwrap_or(i64::MIN))
                    .map(|(k, _)| k.clone())
            {
                self.times.remove(&oldest);
            }
        }
        let q = self.times.entry(key).or_default();
        while q.front().is_some_and(|t| now - t >= window) || q.len() >= keep.max(1) {
            q.pop_front();
        }
        q.push_back(now);
    }
}

/// The failure counts behind every staff sign-in.
#[derive(Debug, Clone)]
pub struct LoginGuard {
    pair_limit: usize,
    account_limit: usize,
    pairs: Failures,
    accounts: Failures,
}

impl Default for LoginGuard {
    /// Ten wrong passwords per account and address in 15 minutes; fifty per account in an
    /// hour from everywhere.
    fn default() -> Self {
        LoginGuard::new(10, 900, 50, 3600, 100_000)
    }
}

/// How an account is counted: trimmed, in lower case.
pub fn account_key(account: &str) -> String {
    account.trim().to_lowercase()
}

fn pair_key(account: &str, ip: IpAddr) -> String {
    format!("{}\u{0}{}", account_key(account), client_key(ip))
}

impl LoginGuard {
    pub fn new(
        pair_limit: usize,
        pair_window: i64,
        account_limit: usize,
        account_window: i64,
        max_keys: usize,
    ) -> LoginGuard {
        LoginGuard {
            pair_limit: pair_limit.max(1),
            account_limit: account_limit.max(1),
            pairs: Failures::new(pair_window, max_keys),
            accounts: Failures::new(account_window, max_keys),
        }
    }

    /// May `ip` try a password for `account` now? Counts nothing.
    pub fn check(&self, account: &str, ip: IpAddr, now: i64) -> Result<(), Locked> {
        let pair = self.pairs.count(&pair_key(account, ip), now);
        let all = self.accounts.count(&account_key(account), now);
        self.decide(pair, all)
    }

    /// The rule alone, for failures counted elsewhere (the database several nodes
    /// share): (failures, seconds until the oldest expires) of this account from this
    /// address within [`LoginGuard::pair_window`], and of the account from everywhere
    /// within [`LoginGuard::account_window`].
    pub fn decide(&self, pair: (usize, i64), account: (usize, i64)) -> Result<(), Locked> {
        let (pair, pair_expires) = pair;
        if pair >= self.pair_limit {
            return Err(Locked {
                retry_after: pair_expires.max(1),
            });
        }
        let (all, all_expires) = account;
        if pair > 0 && all >= self.account_limit {
            return Err(Locked {
                retry_after: all_expires.max(1),
            });
        }
        Ok(())
    }

    /// The same rules with nothing counted (to decide on counts kept elsewhere).
    pub fn clone_rule(&self) -> LoginGuard {
        LoginGuard::new(
            self.pair_limit,
            self.pairs.window,
            self.account_limit,
            self.accounts.window,
            1,
        )
    }

    /// Seconds a failure counts for this account from one address.
    pub fn pair_window(&self) -> i64 {
        self.pairs.window
    }

    /// Seconds a failure counts for the account from everywhere.
    pub fn account_window(&self) -> i64 {
        self.accounts.window
    }

    /// A wrong password (or second factor) for `account` from `ip`.
    pub fn failed(&mut self, account: &str, ip: IpAddr, now: i64) {
        self.pairs.add(pair_key(account, ip), now, self.pair_limit);
        self.accounts
            .add(account_key(account), now, self.account_limit);
    }

    /// The account's owner passed the second factor: forget its failures.
    pub fn passed(&mut self, account: &str) {
        let account = account_key(account);
        let prefix = format!("{account}\u{0}");
        self.pairs.times.retain(|k, _| !k.starts_with(&prefix));
        self.accounts.times.remove(&account);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn failures_lock_one_account_from_one_address_only() {
        let mut g = LoginGuard::new(3, 900, 50, 3600, 1000);
        let (ann, office, home) = ("ann@o.test", ip("10.0.0.1"), ip("192.0.2.7"));
        for t in 0..3 {
            assert_eq!(g.check(ann, office, t), Ok(()));
            g.failed(ann, office, t);
        }
        assert_eq!(
            g.check("ANN@o.test ", office, 10),
            Err(Locked { retry_after: 890 })
        );
        // Elsewhere the owner signs in; other accounts from the office too.
        assert_eq!(g.check(ann, home, 10), Ok(()));
        assert_eq!(g.check("bob@o.test", office, 10), Ok(()));
        // The window passes.
        assert_eq!(g.check(ann, office, 900), Ok(()));
    }

    #[test]
    fn successes_do_not_count() {
        let mut g = LoginGuard::new(3, 900, 50, 3600, 1000);
        // Two failures, then many successful sign-ins: never locked.
        g.failed("a@o.test", ip("10.0.0.1"), 0);
        g.failed("a@o.test", ip("10.0.0.1"), 1);
        for t in 2..100 {
            assert_eq!(g.check("a@o.test", ip("10.0.0.1"), t), Ok(()));
        }
    }

    #[test]
    fn many_addresses_get_one_wrong_try_each_the_owner_is_not_affected() {
        let mut g = LoginGuard::new(10, 900, 20, 3600, 1000);
        let victim = "dokter@o.test";
        for i in 0..20u8 {
            let bot = IpAddr::from([198, 51, 100, i]);
            assert_eq!(g.check(victim, bot, 5), Ok(()));
            g.failed(victim, bot, 5);
        }
        // The account has had its twenty: each address that failed is stopped…
        assert!(g.check(victim, IpAddr::from([198, 51, 100, 3]), 6).is_err());
        // …a new one gets one try, then is stopped too.
        let next = IpAddr::from([203, 0, 113, 9]);
        assert_eq!(g.check(victim, next, 6), Ok(()));
        g.failed(victim, next, 6);
        assert!(g.check(victim, next, 7).is_err());
        // The owner, who never failed, signs in.
        assert_eq!(g.check(victim, ip("10.0.0.1"), 7), Ok(()));
    }

    #[test]
    fn a_valid_second_factor_unlocks() {
        let mut g = LoginGuard::new(2, 900, 50, 3600, 1000);
        let office = ip("10.0.0.1");
        g.failed("a@o.test", office, 0);
        g.failed("a@o.test", office, 0);
        g.failed("b@o.test", office, 0);
        g.failed("b@o.test", office, 0);
        assert!(g.check("a@o.test", office, 1).is_err());
        g.passed("A@o.test");
        assert_eq!(g.check("a@o.test", office, 1), Ok(()));
        assert!(g.check("b@o.test", office, 1).is_err(), "only that account");
    }

    #[test]
    fn ipv6_hosts_count_per_64_and_memory_is_bounded() {
        let mut g = LoginGuard::new(2, 900, 1000, 3600, 1000);
        g.failed("a@o.test", ip("2001:db8:1:2::1"), 0);
        g.failed("a@o.test", ip("2001:db8:1:2:ffff::9"), 0);
        assert!(g.check("a@o.test", ip("2001:db8:1:2::77"), 1).is_err());
        assert_eq!(g.check("a@o.test", ip("2001:db8:1:3::1"), 1), Ok(()));
        assert!(g.check("a@o.test", ip("::ffff:10.0.0.1"), 1).is_ok());
        for i in 0..5000u32 {
            g.failed(&format!("u{i}@o.test"), ip("10.0.0.2"), 2);
        }
        assert!(g.pairs.times.len() <= 1000 && g.accounts.times.len() <= 1000);
    }

    #[test]
    fn the_rule_alone_reads_failures_counted_elsewhere() {
        let g = LoginGuard::default();
        let locked = |after: i64| Err(Locked { retry_after: after });
        let table = [
            ((0, 0), (0, 0), Ok(())),
            ((9, 100), (9, 100), Ok(())),
            ((10, 300), (10, 300), locked(300)),
            // Guessing from many addresses: an address that failed once is held...
            ((1, 800), (50, 1200), locked(1200)),
            // ...the owner, who has not failed from theirs, is not.
            ((0, 0), (50, 1200), Ok(())),
            ((10, 0), (0, 0), locked(1)),
        ];
        for (pair, account, want) in table {
            assert_eq!(g.decide(pair, account), want, "{pair:?} {account:?}");
        }
        assert_eq!((g.pair_window(), g.account_window()), (900, 3600));
    }
}
