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
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Submission => "submission",
            Origin::Relay => "relay",
            Origin::Notification => "notification",
            Origin::Dsn => "dsn",
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

type Job = (NewMessage, oneshot::Sender<Result<(), String>>);

/// The group committer.
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
                let result = insert_all(&pool, batch.iter().map(|(m, _)| m)).await;
                for (_, done) in batch.drain(..) {
                    let _ = done.send(result.clone().map_err(|e| e.to_string()));
                }
            }
        });
        Committer { tx }
    }

    async fn commit(&self, m: NewMessage) -> Result<()> {
        let (done, wait) = oneshot::channel();
        self.tx.send((m, done)).await.map_err(|_| Error::Closed)?;
        wait.await
            .map_err(|_| Error::Closed)?
            .map_err(|e| Error::Invalid(format!("commit failed: {e}")))
    }
}

async fn insert_all<'a>(
    pool: &SqlitePool,
    messages: impl Iterator<Item = &'a NewMessage>,
) -> Result<(), std::sync::Arc<sqlx::Error>> {
    let run = async {
        let mut tx = pool.begin().await?;
        let t = now();
        for m in messages {
            insert_message(&mut tx, m, t, "received").await?;
        }
        tx.commit().await
    };
    run.await.map_err(std::sync::Arc::new)
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
            .commit(NewMessage {
                id: id.clone(),
                envelope,
                size,
                blob,
            })
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
