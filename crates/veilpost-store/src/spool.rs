//! The spool: a message is stored (blob fsync'd, rows committed) before the SMTP server
//! answers 250. Rows from concurrent sessions are committed together by one task.

use sqlx::SqlitePool;
use tokio::sync::{mpsc, oneshot};

use crate::{Error, Result, Store, new_id, now};

/// Where a message came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Authenticated submission by a staff member.
    Submission,
    /// Relayed for a trusted network (the organisation's own mail server).
    Relay,
    /// A portal notification Veilpost made.
    Notification,
    /// A delivery status notification Veilpost made.
    Dsn,
    /// A recipient's secure reply from the portal (processed like a submission).
    Reply,
    /// A mail the portal wrote (a code, a read receipt, a confirmation).
    Portal,
    /// A patient's message from the secure contact form.
    Intake,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Submission => "submission",
            Origin::Relay => "relay",
            Origin::Notification => "notification",
            Origin::Dsn => "dsn",
            Origin::Reply => "reply",
            Origin::Portal => "portal",
            Origin::Intake => "intake",
        }
    }
}

/// The SMTP envelope and where the message came from.
#[derive(Debug, Clone)]
pub struct Envelope {
    pub origin: Origin,
    /// Reverse path; empty for the null sender.
    pub mail_from: String,
    pub rcpt_to: Vec<String>,
    pub auth_user: Option<String>,
    pub client_ip: Option<String>,
}

pub(crate) struct NewMessage {
    pub(crate) id: String,
    pub(crate) envelope: Envelope,
    pub(crate) size: usize,
    pub(crate) blob: String,
}

/// A write that waits for the group commit.
pub(crate) enum Write {
    Spool(NewMessage),
    Processed {
        message_id: String,
        p: crate::queue::Processed,
    },
    Audit(crate::queue::AuditEvent),
    Generated {
        id: String,
        g: crate::queue::Generated,
    },
}

impl Write {
    async fn apply(&self, tx: &mut sqlx::SqliteConnection, t: i64) -> Result<(), sqlx::Error> {
        match self {
            Write::Spool(m) => insert_message(tx, m, t, "received").await,
            Write::Processed { message_id, p } => {
                crate::queue::write_processed(tx, message_id, p, t).await
            }
            Write::Audit(a) => crate::insert_audit(tx, a, t).await,
            Write::Generated { id, g } => crate::queue::insert_generated(tx, id, g, t).await,
        }
    }
}

type Job = (Write, oneshot::Sender<Result<(), String>>);

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
    pub(crate) fn start(pool: SqlitePool) -> Committer {
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
                if commit_all(&pool, batch.iter().map(|(w, _)| w))
                    .await
                    .is_ok()
                {
                    for (_, done) in batch.drain(..) {
                        let _ = done.send(Ok(()));
                    }
                } else {
                    for (w, done) in batch.drain(..) {
                        let r = commit_all(&pool, std::iter::once(&w)).await;
                        let _ = done.send(r.map_err(|e| e.to_string()));
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
            .map_err(|e| Error::Invalid(format!("commit failed: {e}")))
    }
}

async fn commit_all<'a>(
    pool: &SqlitePool,
    writes: impl Iterator<Item = &'a Write>,
) -> Result<(), sqlx::Error> {
    let mut tx = crate::write_tx(pool).await?;
    let t = now();
    for w in writes {
        w.apply(&mut tx, t).await?;
    }
    tx.commit().await
}

pub(crate) async fn insert_message(
    tx: &mut sqlx::SqliteConnection,
    m: &NewMessage,
    at: i64,
    state: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO messages (id, received_at, origin, mail_from, auth_user, client_ip, size, blob, state)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&m.id)
    .bind(at)
    .bind(m.envelope.origin.as_str())
    .bind(&m.envelope.mail_from)
    .bind(&m.envelope.auth_user)
    .bind(&m.envelope.client_ip)
    .bind(m.size as i64)
    .bind(&m.blob)
    .bind(state)
    .execute(&mut *tx)
    .await?;
    for rcpt in &m.envelope.rcpt_to {
        sqlx::query("INSERT INTO recipients (message_id, address, state) VALUES (?, ?, 'new')")
            .bind(&m.id)
            .bind(rcpt)
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

impl Store {
    /// Store a received message durably; returns its id. When this returns `Ok`, the
    /// message survives a crash.
    pub async fn spool(&self, envelope: Envelope, data: Vec<u8>) -> Result<String> {
        if envelope.rcpt_to.is_empty() {
            return Err(Error::Invalid("no recipients".into()));
        }
        let size = data.len();
        let blob = self.blobs.write(data).await?;
        let id = new_id();
        self.committer
            .commit(Write::Spool(NewMessage {
                id: id.clone(),
                envelope,
                size,
                blob,
            }))
            .await?;
        Ok(id)
    }

    /// How many messages are waiting to be processed, and recipients waiting for delivery.
    pub async fn backlog(&self) -> Result<(i64, i64)> {
        let (m,): (i64,) =
            sqlx::query_as("SELECT count(*) FROM messages WHERE state != 'processed'")
                .fetch_one(&self.pool)
                .await?;
        let (r,): (i64,) =
            sqlx::query_as("SELECT count(*) FROM recipients WHERE state IN ('new', 'queued')")
                .fetch_one(&self.pool)
                .await?;
        Ok((m, r))
    }
}
