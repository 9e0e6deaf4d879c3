//! The group committer: rows from concurrent writers (spooled messages, processing
//! results, audit entries, generated mail) are committed in one transaction by one task
//! (one for spooled messages, one for the rest), so one fsync serves many writers. When a batch fails, its writes are retried one by one
//! so that one bad write does not fail the others. Audit entries are appended through it
//! ([`Store::audit`]), so the hash chain is extended by one writer at a time.

use tokio::sync::{mpsc, oneshot};

use crate::db::{Pool, Tx};
use crate::messages::NewMessage;
use crate::{AuditEvent, Clock, Error, Result, Store};

/// A write that waits for the group commit.
pub(crate) enum Write {
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

/// A committed group's answer to each of its writers.
type Done = oneshot::Sender<Result<(), sqlx::Error>>;

/// How a group is written: in one transaction, at time `t`.
type Commit<T> = for<'a> fn(&'a Pool, i64, &'a [&'a T]) -> BoxFuture<'a, Result<(), sqlx::Error>>;

type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// One task that takes whatever writers have queued up (at most `most`) and commits it
/// together, so one transaction (and one fsync) serves many writers; when a group fails,
/// its items are retried one by one so that one bad write does not fail the others.
struct Groups<T> {
    tx: mpsc::Sender<(T, Done)>,
}

impl<T> std::fmt::Debug for Groups<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Groups").finish_non_exhaustive()
    }
}

impl<T> Clone for Groups<T> {
    fn clone(&self) -> Self {
        Groups {
            tx: self.tx.clone(),
        }
    }
}

impl<T: Send + Sync + 'static> Groups<T> {
    fn start(pool: Pool, clock: Clock, queue: usize, most: usize, commit: Commit<T>) -> Self {
        let (tx, mut rx) = mpsc::channel::<(T, Done)>(queue);
        tokio::spawn(async move {
            let mut group: Vec<(T, Done)> = Vec::with_capacity(most);
            while let Some(first) = rx.recv().await {
                group.push(first);
                while group.len() < most {
                    match rx.try_recv() {
                        Ok(item) => group.push(item),
                        Err(_) => break,
                    }
                }
                let items: Vec<&T> = group.iter().map(|(item, _)| item).collect();
                let together = commit(&pool, clock.now(), &items).await;
                drop(items);
                if together.is_ok() {
                    for (_, done) in group.drain(..) {
                        let _ = done.send(Ok(()));
                    }
                } else {
                    for (item, done) in group.drain(..) {
                        let _ = done.send(commit(&pool, clock.now(), &[&item]).await);
                    }
                }
            }
        });
        Groups { tx }
    }

    /// Queue `item` and wait for its group's commit: `Err` when the task is gone, else
    /// how the commit went.
    async fn submit(&self, item: T) -> Result<Result<(), sqlx::Error>> {
        let (done, wait) = oneshot::channel();
        self.tx
            .send((item, done))
            .await
            .map_err(|_| Error::Closed)?;
        wait.await.map_err(|_| Error::Closed)
    }
}

/// The group committer: every durable write (spooling, processing results, audit
/// entries, generated mail) is committed in groups ([`Groups`]). Spooled messages have
/// groups of their own, ahead of every other writer: a 250 waits for that commit, so it
/// carries only the new rows, not the processing results (the larger statements).
#[derive(Debug, Clone)]
pub(crate) struct Committer {
    spools: Groups<NewMessage>,
    rest: Groups<Write>,
}

/// Most rows committed in one transaction.
const BATCH: usize = 128;

impl Committer {
    pub(crate) fn start(pool: Pool, clock: Clock) -> Committer {
        Committer {
            spools: Groups::start(pool.clone(), clock.clone(), 1024, BATCH, |pool, t, ms| {
                Box::pin(commit_spooled(pool, t, ms))
            }),
            rest: Groups::start(pool, clock, 1024, BATCH, |pool, t, w| {
                Box::pin(commit_all(pool, t, w))
            }),
        }
    }

    /// Spool a received message: `Ok` once its group is committed.
    pub(crate) async fn spool(&self, m: NewMessage) -> Result<()> {
        self.spools.submit(m).await?.map_err(Error::Commit)
    }

    pub(crate) async fn commit(&self, w: Write) -> Result<()> {
        self.rest.submit(w).await?.map_err(Error::Commit)
    }
}

/// Commit a group of received messages: on SQLite in one round trip, ahead of the other
/// writers ([`crate::messages::spool_in_one_trip`]); on PostgreSQL in a transaction that
/// tells the other nodes' idle workers.
async fn commit_spooled(pool: &Pool, t: i64, ms: &[&NewMessage]) -> Result<(), sqlx::Error> {
    if let Pool::Sqlite(p, gate) = pool {
        return crate::messages::spool_in_one_trip(p, gate, ms, t).await;
    }
    let mut tx = pool.write_tx().await?;
    crate::messages::insert_messages(&mut tx, ms, t, "received").await?;
    announce(&mut tx, "received").await?;
    tx.commit().await
}

/// On PostgreSQL, tell the other nodes' idle workers of new work (`what`: see
/// [`crate::db::WORK_CHANNEL`]) when `tx` commits; nothing on SQLite (one node).
async fn announce(tx: &mut Tx, what: &str) -> Result<(), sqlx::Error> {
    if let Tx::Pg(c) = tx {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(crate::db::WORK_CHANNEL)
            .bind(what)
            .execute(&mut **c)
            .await?;
    }
    Ok(())
}

/// Commit writes in one transaction, each kind in as few statements as it takes (a
/// statement costs a round trip to the database; under load a group carries dozens of
/// writes). Audit entries are chained in the order their writes came.
async fn commit_all(pool: &Pool, t: i64, writes: &[&Write]) -> Result<(), sqlx::Error> {
    let mut tx = pool.write_tx().await?;
    let processed: Vec<(&str, &crate::Processed)> = writes
        .iter()
        .filter_map(|w| match w {
            Write::Processed { message_id, p } => Some((message_id.as_str(), p)),
            _ => None,
        })
        .collect();
    let audit: Vec<&AuditEvent> = writes
        .iter()
        .flat_map(|w| match w {
            Write::Audit(a) => std::slice::from_ref(a),
            Write::Processed { p, .. } => p.audit.as_slice(),
            _ => &[],
        })
        .collect();
    crate::messages::write_processed(&mut tx, &processed, t).await?;
    let mut generated = false;
    for w in writes {
        if let Write::Generated { id, g } = *w {
            crate::messages::insert_generated(&mut tx, id, g, t).await?;
            generated = true;
        }
    }
    crate::audit::insert_audits(&mut tx, &audit, t).await?;
    if generated || !processed.is_empty() {
        announce(&mut tx, "queued").await?;
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

/// How delivery attempts ended, recorded in groups ([`Groups`]): every finished attempt
/// waits for its record, but whatever finished meanwhile goes into the same transaction,
/// so a busy queue does not take the database's write lock once per delivery. Committed
/// without waiting for fsync on SQLite (the lease pool): a record lost in a crash means the
/// delivery is made again (a duplicate), never that a message is lost.
#[derive(Debug, Clone)]
pub(crate) struct Recorder(Groups<(i64, crate::DeliveryOutcome)>);

/// Most outcomes recorded in one transaction.
const OUTCOMES: usize = 256;

impl Recorder {
    pub(crate) fn start(pool: Pool, clock: Clock) -> Recorder {
        Recorder(Groups::start(
            pool,
            clock,
            4096,
            OUTCOMES,
            |pool, t, outcomes| Box::pin(record_all(pool, t, outcomes)),
        ))
    }

    pub(crate) async fn record(
        &self,
        recipient_id: i64,
        outcome: crate::DeliveryOutcome,
    ) -> Result<()> {
        Ok(self.0.submit((recipient_id, outcome)).await??)
    }
}

async fn record_all(
    pool: &Pool,
    t: i64,
    outcomes: &[&(i64, crate::DeliveryOutcome)],
) -> Result<(), sqlx::Error> {
    let mut tx = pool.write_tx().await?;
    crate::messages::write_delivery_done(&mut tx, outcomes, t).await?;
    tx.commit().await
}
