//! The group committer: rows from concurrent writers (spooled messages, processing
//! results, audit entries, generated mail) are committed in one transaction by one task,
//! so one fsync serves many writers. When a batch fails, its writes are retried one by one
//! so that one bad write does not fail the others. Audit entries are appended through it
//! ([`Store::audit`]), so the hash chain is extended by one writer at a time.

use tokio::sync::{mpsc, oneshot};

use crate::db::{Pool, Tx};
use crate::messages::NewMessage;
use crate::{AuditEvent, Clock, Error, Result, Store};

/// A write that waits for the group commit.
pub(crate) enum Write {
    Spool(NewMessage),
    Processed {
        message_id: String,
        p: crate::Processed,
    },
    Audit(crate::AuditEvent),
    Generated {
        id: String,
        g: crate::Generated,
    },
}

type Job = (Write, oneshot::Sender<Result<(), sqlx::Error>>);

/// The group committer: every durable write (spooling, processing results) goes through one task that commits whatever has queued up in one
/// transaction, so one fsync serves many writers. When a batch fails, its writes are
/// retried one by one so that one bad write does not fail the others.
#[derive(Debug, Clone)]
pub(crate) struct Committer {
    tx: mpsc::Sender<Job>,
}

/// Most rows committed in one transaction.
const BATCH: usize = 128;

impl Committer {
    pub(crate) fn start(pool: Pool, clock: Clock) -> Committer {
        let (tx, mut rx) = mpsc::channel::<Job>(1024);
        tokio::spawn(async move {
            let mut batch: Vec<Job> = Vec::with_capacity(BATCH);
            while let Some(first) = rx.recv().await {
                batch.push(first);
                while batch.len() < BATCH {
                    match rx.try_recv() {
                        Ok(job) => batch.push(job),
                        Err(_) => break,
                    }
                }
                if commit_all(&pool, clock.now(), batch.iter().map(|(w, _)| w))
                    .await
                    .is_ok()
                {
                    for (_, done) in batch.drain(..) {
                        let _ = done.send(Ok(()));
                    }
                } else {
                    for (w, done) in batch.drain(..) {
                        let r = commit_all(&pool, clock.now(), std::iter::once(&w)).await;
                        let _ = done.send(r);
                    }
                }
            }
        });
        Committer { tx }
    }

    pub(crate) async fn commit(&self, w: Write) -> Result<()> {
        let (done, wait) = oneshot::channel();
        self.tx.send((w, done)).await.map_err(|_| Error::Closed)?;
        wait.await
            .map_err(|_| Error::Closed)?
            .map_err(Error::Commit)
    }
}

/// Commit writes in one transaction, each kind in as few statements as it takes (a
/// statement costs a round trip to the database; under load a group carries dozens of
/// writes). Audit entries are chained in the order their writes came.
async fn commit_all<'a>(
    pool: &Pool,
    t: i64,
    writes: impl Iterator<Item = &'a Write> + Clone,
) -> Result<(), sqlx::Error> {
    let mut tx = pool.write_tx().await?;
    let spooled: Vec<&NewMessage> = writes
        .clone()
        .filter_map(|w| match w {
            Write::Spool(m) => Some(m),
            _ => None,
        })
        .collect();
    let processed: Vec<(&str, &crate::Processed)> = writes
        .clone()
        .filter_map(|w| match w {
            Write::Processed { message_id, p } => Some((message_id.as_str(), p)),
            _ => None,
        })
        .collect();
    let audit: Vec<&AuditEvent> = writes
        .clone()
        .flat_map(|w| match w {
            Write::Audit(a) => std::slice::from_ref(a),
            Write::Processed { p, .. } => p.audit.as_slice(),
            _ => &[],
        })
        .collect();
    crate::messages::insert_messages(&mut tx, &spooled, t, "received").await?;
    crate::messages::write_processed(&mut tx, &processed, t).await?;
    let mut generated = false;
    for w in writes {
        if let Write::Generated { id, g } = w {
            crate::messages::insert_generated(&mut tx, id, g, t).await?;
            generated = true;
        }
    }
    crate::audit::insert_audits(&mut tx, &audit, t).await?;
    // Other nodes' idle workers hear of the new work when this commits.
    if let Tx::Pg(c) = &mut tx {
        let queued = generated || !processed.is_empty();
        for (new, what) in [(!spooled.is_empty(), "received"), (queued, "queued")] {
            if new {
                sqlx::query("SELECT pg_notify($1, $2)")
                    .bind(crate::db::WORK_CHANNEL)
                    .bind(what)
                    .execute(&mut **c)
                    .await?;
            }
        }
    }
    tx.commit().await
}

impl Store {
    /// Append to the audit log (through the group committer, which is the one writer of
    /// the hash chain).
    pub async fn audit(
        &self,
        actor: &str,
        action: &str,
        subject: Option<&str>,
        detail: Option<&str>,
    ) -> Result<()> {
        let event = AuditEvent {
            actor: actor.to_string(),
            action: action.to_string(),
            subject: subject.map(str::to_string),
            detail: detail.map(str::to_string),
            ..AuditEvent::default()
        };
        self.committer.commit(Write::Audit(event)).await
    }

    /// Append a whole audit event (with address and outcome).
    pub async fn audit_event(&self, event: AuditEvent) -> Result<()> {
        self.committer.commit(Write::Audit(event)).await
    }
}

/// How delivery attempts ended, recorded in batches: every finished attempt waits for its
/// record, but whatever finished meanwhile goes into the same transaction, so a busy
/// queue does not take the database's write lock once per delivery. Committed without
/// waiting for fsync on SQLite (the lease pool): a record lost in a crash means the
/// delivery is made again (a duplicate), never that a message is lost.
#[derive(Debug, Clone)]
pub(crate) struct Recorder {
    tx: mpsc::Sender<Outcome>,
}

type Outcome = (
    i64,
    crate::DeliveryOutcome,
    oneshot::Sender<Result<(), sqlx::Error>>,
);

/// Most outcomes recorded in one transaction.
const OUTCOMES: usize = 256;

impl Recorder {
    pub(crate) fn start(pool: Pool, clock: Clock) -> Recorder {
        let (tx, mut rx) = mpsc::channel::<Outcome>(4096);
        tokio::spawn(async move {
            let mut batch: Vec<Outcome> = Vec::with_capacity(OUTCOMES);
            while let Some(first) = rx.recv().await {
                batch.push(first);
                while batch.len() < OUTCOMES {
                    match rx.try_recv() {
                        Ok(o) => batch.push(o),
                        Err(_) => break,
                    }
                }
                let t = clock.now();
                let all: Vec<(i64, &crate::DeliveryOutcome)> =
                    batch.iter().map(|(id, o, _)| (*id, o)).collect();
                if record_all(&pool, t, &all).await.is_ok() {
                    for (_, _, done) in batch.drain(..) {
                        let _ = done.send(Ok(()));
                    }
                } else {
                    for (id, o, done) in batch.drain(..) {
                        let r = record_all(&pool, clock.now(), &[(id, &o)]).await;
                        let _ = done.send(r);
                    }
                }
            }
        });
        Recorder { tx }
    }

    pub(crate) async fn record(
        &self,
        recipient_id: i64,
        outcome: crate::DeliveryOutcome,
    ) -> Result<()> {
        let (done, wait) = oneshot::channel();
        self.tx
            .send((recipient_id, outcome, done))
            .await
            .map_err(|_| Error::Closed)?;
        wait.await.map_err(|_| Error::Closed)??;
        Ok(())
    }
}

async fn record_all(
    pool: &Pool,
    t: i64,
    outcomes: &[(i64, &crate::DeliveryOutcome)],
) -> Result<(), sqlx::Error> {
    let mut tx = pool.write_tx().await?;
    crate::messages::write_delivery_done(&mut tx, outcomes, t).await?;
    tx.commit().await
}
