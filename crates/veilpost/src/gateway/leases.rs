//! The leases this node holds, renewed while it works, and the work other nodes announce. A worker takes messages and
//! deliveries with a lease of `store.lease_seconds`; while the work goes on, the lease is
//! renewed every third of that. So leases can be short: a node that dies (or is cut off
//! from the database) stops renewing, and within `lease_seconds` another node takes its
//! work up (on SQLite the one server also frees them at start). The price is
//! at-least-once: a node that stalls longer than a lease and then carries on may deliver
//! what another node delivers too.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::Shared;

/// What this node is working on.
#[derive(Debug, Default)]
pub struct Held {
    messages: Mutex<HashSet<String>>,
    deliveries: Mutex<HashSet<i64>>,
}

/// One piece of work held; the lease is no longer renewed once this is dropped (done, or
/// failed: then the lease runs out and the work is tried again).
#[derive(Debug)]
pub struct Holding {
    held: Arc<Held>,
    what: Work,
}

#[derive(Debug)]
enum Work {
    Message(String),
    Delivery(i64),
}

fn locked<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Held {
    /// Hold message `id` (being processed).
    pub fn message(self: &Arc<Self>, id: &str) -> Holding {
        locked(&self.messages).insert(id.to_string());
        Holding {
            held: self.clone(),
            what: Work::Message(id.to_string()),
        }
    }

    /// Hold delivery `recipient_id`.
    pub fn delivery(self: &Arc<Self>, recipient_id: i64) -> Holding {
        locked(&self.deliveries).insert(recipient_id);
        Holding {
            held: self.clone(),
            what: Work::Delivery(recipient_id),
        }
    }

    /// What is held now.
    fn snapshot(&self) -> (Vec<String>, Vec<i64>) {
        (
            locked(&self.messages).iter().cloned().collect(),
            locked(&self.deliveries).iter().copied().collect(),
        )
    }
}

impl Drop for Holding {
    fn drop(&mut self) {
        match &self.what {
            Work::Message(id) => {
                locked(&self.held.messages).remove(id);
            }
            Work::Delivery(id) => {
                locked(&self.held.deliveries).remove(id);
            }
        }
    }
}

/// Renew the leases of what this node holds, every third of a lease, until the process
/// ends.
pub async fn renew(shared: Arc<Shared>) {
    let lease = shared.config.store.lease_seconds.max(5) as i64;
    let every = Duration::from_secs((lease / 3).max(1) as u64);
    loop {
        tokio::time::sleep(every).await;
        let (messages, deliveries) = shared.held.snapshot();
        if messages.is_empty() && deliveries.is_empty() {
            continue;
        }
        if let Err(e) = shared
            .store
            .renew_leases(&messages, &deliveries, lease)
            .await
        {
            tracing::error!("renewing leases: {e}");
        }
    }
}

/// Wake this node's idle workers when any node commits work (PostgreSQL's
/// LISTEN/NOTIFY), rather than at their next look a second later.
pub async fn hear_work(shared: Arc<Shared>, mut listener: veilpost_store::WorkListener) {
    loop {
        match listener.next().await {
            Ok(veilpost_store::Work::Received) => shared.wake_processor.notify_one(),
            Ok(veilpost_store::Work::Queued) => shared.wake_delivery.notify_one(),
            Err(e) => {
                tracing::warn!("listening for work: {e}");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn work_is_held_until_its_holding_is_dropped() {
        let held = Arc::new(Held::default());
        let a = held.message("m1");
        let b = held.delivery(7);
        let c = held.delivery(8);
        assert_eq!(held.snapshot().0, ["m1"]);
        let mut d = held.snapshot().1;
        d.sort_unstable();
        assert_eq!(d, [7, 8]);
        drop((a, c));
        assert_eq!(held.snapshot(), (Vec::new(), vec![7]));
        drop(b);
        assert_eq!(held.snapshot(), (Vec::new(), Vec::new()));
    }
}
