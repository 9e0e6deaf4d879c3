//! What the store keeps in memory so the hot path does not ask the database for it per
//! message: short-lived copies of small lists (read again every few seconds, and at once
//! after a change made through this store), and the content of recently spooled messages
//! (read back by processing and delivery moments later).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

fn locked<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A value read from the database at most every `every` seconds (store clock). A change
/// made through this store forgets it, so it is read again at once; a change made by
/// another process (or node) on the same database shows within `every` seconds.
#[derive(Debug)]
pub(crate) struct ReadEvery<T: ?Sized> {
    every: i64,
    last: Mutex<Option<(i64, Arc<T>)>>,
}

impl<T: ?Sized> ReadEvery<T> {
    pub(crate) fn new(every: i64) -> ReadEvery<T> {
        ReadEvery {
            every,
            last: Mutex::new(None),
        }
    }

    /// The value read at most `every` seconds before `now`, if there is one.
    pub(crate) fn fresh(&self, now: i64) -> Option<Arc<T>> {
        match &*locked(&self.last) {
            Some((at, value)) if (*at..*at + self.every).contains(&now) => Some(value.clone()),
            _ => None,
        }
    }

    /// Keep `value`, read at `now`.
    pub(crate) fn keep(&self, now: i64, value: Arc<T>) {
        *locked(&self.last) = Some((now, value));
    }

    /// Forget the value: the next use reads it again.
    pub(crate) fn forget(&self) {
        *locked(&self.last) = None;
    }
}

/// The content of the messages spooled most recently, up to `capacity` bytes in all:
/// processing reads a message moments after it was spooled, and delivery moments after
/// that, so both find it here instead of in the database. The oldest go first; content
/// leaves when its message is purged.
#[derive(Debug)]
pub(crate) struct Recent {
    capacity: usize,
    inner: Mutex<RecentInner>,
}

#[derive(Debug, Default)]
struct RecentInner {
    content: HashMap<String, Arc<[u8]>>,
    order: VecDeque<String>,
    bytes: usize,
}

impl Recent {
    pub(crate) fn new(capacity: usize) -> Recent {
        Recent {
            capacity,
            inner: Mutex::default(),
        }
    }

    /// Keep `content` under `name`, making room by dropping the oldest.
    pub(crate) fn keep(&self, name: &str, content: Arc<[u8]>) {
        if content.len() > self.capacity {
            return;
        }
        let mut inner = locked(&self.inner);
        while inner.bytes + content.len() > self.capacity {
            let Some(oldest) = inner.order.pop_front() else {
                break;
            };
            if let Some(gone) = inner.content.remove(&oldest) {
                inner.bytes -= gone.len();
            }
        }
        inner.bytes += content.len();
        if let Some(old) = inner.content.insert(name.to_string(), content) {
            inner.bytes -= old.len();
        } else {
            inner.order.push_back(name.to_string());
        }
    }

    /// The content kept under `name`.
    pub(crate) fn get(&self, name: &str) -> Option<Arc<[u8]>> {
        locked(&self.inner).content.get(name).cloned()
    }

    /// Drop what is kept under `names` (purged).
    pub(crate) fn forget<'a>(&self, names: impl IntoIterator<Item = &'a str>) {
        let mut inner = locked(&self.inner);
        for name in names {
            if let Some(gone) = inner.content.remove(name) {
                inner.bytes -= gone.len();
            }
        }
        // The order keeps only names still held (so it cannot grow without bound).
        let RecentInner { content, order, .. } = &mut *inner;
        if order.len() > 2 * content.len() + 64 {
            order.retain(|n| content.contains_key(n));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_is_fresh_for_its_seconds_and_gone_once_forgotten() {
        let cache: ReadEvery<[String]> = ReadEvery::new(5);
        assert!(cache.fresh(100).is_none());
        cache.keep(100, vec!["a".to_string()].into());
        assert_eq!(cache.fresh(104).as_deref(), Some(&["a".to_string()][..]));
        assert!(cache.fresh(105).is_none(), "read again after five seconds");
        assert!(cache.fresh(99).is_none(), "a clock set back reads again");
        cache.keep(105, Vec::new().into());
        cache.forget();
        assert!(cache.fresh(105).is_none());
    }

    #[test]
    fn recent_content_stays_within_its_bytes_oldest_first() {
        let recent = Recent::new(10);
        recent.keep("a", Arc::from(&b"1234"[..]));
        recent.keep("b", Arc::from(&b"5678"[..]));
        assert_eq!(recent.get("a").as_deref(), Some(&b"1234"[..]));
        recent.keep("c", Arc::from(&b"90ab"[..]));
        assert!(recent.get("a").is_none(), "the oldest made room");
        assert!(recent.get("b").is_some() && recent.get("c").is_some());
        recent.keep("huge", Arc::from(&[0u8; 11][..]));
        assert!(recent.get("huge").is_none(), "larger than the whole cache");
        recent.forget(["b", "c", "never"]);
        assert!(recent.get("b").is_none() && recent.get("c").is_none());
        assert_eq!(locked(&recent.inner).bytes, 0);
        // Keeping the same name twice counts its bytes once.
        recent.keep("d", Arc::from(&b"12"[..]));
        recent.keep("d", Arc::from(&b"345"[..]));
        assert_eq!(locked(&recent.inner).bytes, 3);
        for i in 0..1000 {
            let name = format!("n{i}");
            recent.keep(&name, Arc::from(&b"x"[..]));
            recent.forget([name.as_str()]);
        }
        assert!(
            locked(&recent.inner).order.len() <= 2 + 64 + 1,
            "the order keeps only what is held"
        );
    }
}
