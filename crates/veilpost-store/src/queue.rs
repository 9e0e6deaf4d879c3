//! Processing and delivery queues over the `messages` and `recipients` tables. Workers
//! take rows with a lease (`lease_until`), so a crashed worker's rows come back after the
//! lease, and several workers (or nodes) never take the same row at once.

use sqlx::Row;

use crate::spool::{Envelope, NewMessage, Origin, Write, insert_message};
use crate::vault::VaultEntry;
use crate::{Result, Store, now};

/// A spooled message waiting for the scan and the policy.
#[derive(Debug, Clone)]
pub struct Received {
    pub id: String,
    pub origin: String,
    pub mail_from: String,
    pub auth_user: Option<String>,
    pub client_ip: Option<String>,
    pub received_at: i64,
    pub blob: String,
    /// (recipient row id, address).
    pub recipients: Vec<(i64, String)>,
    /// The sender confirmed it after a double-check hold: no second hold.
    pub confirmed: bool,
}

/// The policy's outcome for one recipient.
#[derive(Debug, Clone)]
pub struct RecipientDecision {
    pub recipient_id: i64,
    /// `plain`, `tls`, `portal` or `block`.
    pub route: String,
    pub reasons: Vec<String>,
    /// `queued` (to be delivered), `portal`, `blocked` or `failed`.
    pub state: String,
    /// Content for this recipient, when not the message's delivered form.
    pub blob: Option<String>,
}

/// A message Veilpost made while processing (a notification, a DSN): stored and queued
/// in the same transaction as the decisions.
#[derive(Debug, Clone)]
pub struct Generated {
    pub envelope: Envelope,
    pub blob: String,
    pub size: usize,
    /// The route each recipient takes (`plain` for notifications and DSNs).
    pub route: String,
}

/// Everything processing decided about one message.
#[derive(Debug, Clone, Default)]
pub struct Processed {
    pub verdict: String,
    pub findings: serde_json::Value,
    /// The message as it is delivered, when it differs from the received one by more
    /// than a prefix (a stripped subject tag).
    pub out_blob: Option<String>,
    /// Or: the received message with this in front (the DKIM-Signature header).
    pub out_prefix: Option<Vec<u8>>,
    pub decisions: Vec<RecipientDecision>,
    pub generated: Vec<Generated>,
    pub vault: Vec<VaultEntry>,
    /// Audit events, written in the same transaction.
    pub audit: Vec<AuditEvent>,
}

/// One audit-log entry.
#[derive(Debug, Clone, Default)]
pub struct AuditEvent {
    pub actor: String,
    pub action: String,
    pub subject: Option<String>,
    pub detail: Option<String>,
    /// The client's IP address, for events a person caused over the network.
    pub ip: Option<String>,
    /// `ok`, `failed`, `refused`...
    pub outcome: Option<String>,
}

/// A recipient due for delivery.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub recipient_id: i64,
    pub message_id: String,
    pub address: String,
    pub route: String,
    pub mail_from: String,
    pub origin: String,
    /// The blob to send, after `prefix`.
    pub blob: String,
    pub prefix: Vec<u8>,
    pub attempts: i64,
    pub received_at: i64,
    pub delay_notified: bool,
}

/// How a delivery attempt ended.
#[derive(Debug, Clone)]
pub enum DeliveryOutcome {
    Delivered {
        detail: String,
    },
    /// Try again at `next_at`.
    Deferred {
        error: String,
        next_at: i64,
    },
    /// Permanent failure.
    Failed {
        error: String,
    },
}

impl Store {
    /// Free every lease, for the one server that owns this SQLite store when it starts:
    /// work a killed predecessor had taken is picked up at once instead of after its
    /// lease. Returns (messages, deliveries) released.
    pub async fn release_leases(&self) -> Result<(u64, u64)> {
        let mut tx = crate::write_tx(&self.pool).await?;
        let m = sqlx::query(
            "UPDATE messages SET state = 'received', lease_until = 0 WHERE state = 'processing'",
        )
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let d = sqlx::query(
            "UPDATE recipients SET lease_until = 0 WHERE state = 'queued' AND lease_until > 0",
        )
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok((m, d))
    }

    /// Take up to `n` messages to process, leased for `lease` seconds.
    pub async fn claim_received(&self, n: i64, lease: i64) -> Result<Vec<Received>> {
        let t = now();
        let rows = sqlx::query(
            "UPDATE messages SET state = 'processing', lease_until = ?1
             WHERE id IN (SELECT id FROM messages
                          WHERE state = 'received' OR (state = 'processing' AND lease_until < ?2)
                          ORDER BY id LIMIT ?3)
             RETURNING id, origin, mail_from, auth_user, client_ip, received_at, blob, confirmed",
        )
        .bind(t + lease)
        .bind(t)
        .bind(n)
        .fetch_all(&self.lease_pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let id: String = row.try_get("id")?;
            let recipients: Vec<(i64, String)> = sqlx::query_as(
                "SELECT id, address FROM recipients WHERE message_id = ? ORDER BY id",
            )
            .bind(&id)
            .fetch_all(&self.pool)
            .await?;
            out.push(Received {
                id,
                origin: row.try_get("origin")?,
                mail_from: row.try_get("mail_from")?,
                auth_user: row.try_get("auth_user")?,
                client_ip: row.try_get("client_ip")?,
                received_at: row.try_get("received_at")?,
                blob: row.try_get("blob")?,
                recipients,
                confirmed: row.try_get::<i64, _>("confirmed")? != 0,
            });
        }
        Ok(out)
    }

    /// Record what processing decided, queue the deliveries, store the vault entries and
    /// the generated messages: all in one transaction, committed together with other
    /// writers' (one fsync for many).
    pub async fn finish_processing(&self, message_id: &str, p: Processed) -> Result<()> {
        self.committer
            .commit(Write::Processed {
                message_id: message_id.to_string(),
                p,
            })
            .await
    }

    /// Store and queue a message Veilpost made outside processing (a DSN for a failed
    /// delivery): durable on return (through the group committer).
    pub async fn enqueue_generated(&self, g: Generated) -> Result<String> {
        let id = crate::new_id();
        self.committer
            .commit(Write::Generated { id: id.clone(), g })
            .await?;
        Ok(id)
    }

    /// Take up to `n` due deliveries, leased for `lease` seconds.
    pub async fn claim_deliveries(&self, n: i64, lease: i64) -> Result<Vec<Delivery>> {
        let t = now();
        let rows = sqlx::query(
            "UPDATE recipients SET lease_until = ?1
             WHERE id IN (SELECT id FROM recipients
                          WHERE state = 'queued' AND next_attempt_at <= ?2 AND lease_until < ?2
                          ORDER BY next_attempt_at, id LIMIT ?3)
             RETURNING id, message_id, address, route, blob, attempts, delay_notified",
        )
        .bind(t + lease)
        .bind(t)
        .bind(n)
        .fetch_all(&self.lease_pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let message_id: String = row.try_get("message_id")?;
            let (mail_from, origin, out_blob, blob, received_at, out_prefix): (
                String,
                String,
                Option<String>,
                String,
                i64,
                Option<Vec<u8>>,
            ) = sqlx::query_as(
                "SELECT mail_from, origin, out_blob, blob, received_at, out_prefix
                   FROM messages WHERE id = ?",
            )
            .bind(&message_id)
            .fetch_one(&self.pool)
            .await?;
            let own: Option<String> = row.try_get("blob")?;
            // The prefix belongs to the received blob only.
            let prefix = if own.is_none() && out_blob.is_none() {
                out_prefix.unwrap_or_default()
            } else {
                Vec::new()
            };
            out.push(Delivery {
                recipient_id: row.try_get("id")?,
                message_id,
                address: row.try_get("address")?,
                route: row
                    .try_get::<Option<String>, _>("route")?
                    .unwrap_or_default(),
                mail_from,
                origin,
                blob: own.or(out_blob).unwrap_or(blob),
                prefix,
                attempts: row.try_get("attempts")?,
                received_at,
                delay_notified: row.try_get::<i64, _>("delay_notified")? != 0,
            });
        }
        Ok(out)
    }

    /// Record how a delivery attempt ended. Committed without waiting for fsync: losing
    /// this record in a crash means the delivery is made again (a duplicate), never that a
    /// message is lost, and the next durable commit's fsync covers it within moments.
    /// Reports (DSNs) a failure causes are queued durably on their own.
    pub async fn delivery_done(&self, recipient_id: i64, outcome: &DeliveryOutcome) -> Result<()> {
        let mut conn = self.lease_pool.acquire().await?;
        write_delivery_done(&mut conn, recipient_id, outcome, now()).await?;
        Ok(())
    }

    /// Remove the content of up to `limit` messages whose recipients are all done
    /// (delivered, failed, in the portal vault, blocked): the received blob, the delivered
    /// form and per-recipient copies. The rows stay for the trace. Returns how many
    /// messages were purged. A crash between removing files and marking the row only
    /// means the (already missing) files are removed again.
    pub async fn purge_finished(&self, limit: i64) -> Result<usize> {
        let done: Vec<(String, String, Option<String>)> = sqlx::query_as(
            "SELECT m.id, m.blob, m.out_blob FROM messages m
              WHERE m.purged_at IS NULL AND m.state = 'processed'
                AND NOT EXISTS (SELECT 1 FROM recipients r
                                 WHERE r.message_id = m.id AND r.state IN ('new', 'queued'))
              ORDER BY m.received_at LIMIT ?",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        for (id, blob, out_blob) in &done {
            let own: Vec<(Option<String>,)> =
                sqlx::query_as("SELECT blob FROM recipients WHERE message_id = ?")
                    .bind(id)
                    .fetch_all(&self.pool)
                    .await?;
            let names = std::iter::once(blob.clone())
                .chain(out_blob.clone())
                .chain(own.into_iter().filter_map(|(b,)| b));
            for name in names {
                self.blobs.remove(&name).await?;
            }
        }
        if !done.is_empty() {
            let mut tx = crate::write_tx(&self.lease_pool).await?;
            let t = now();
            for (id, _, _) in &done {
                sqlx::query("UPDATE messages SET purged_at = ? WHERE id = ?")
                    .bind(t)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        }
        Ok(done.len())
    }

    /// Note that the sender was told of a delay for this recipient.
    pub async fn mark_delay_notified(&self, recipient_id: i64) -> Result<()> {
        sqlx::query("UPDATE recipients SET delay_notified = 1 WHERE id = ?")
            .bind(recipient_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The trace of one message: (address, route, reasons, state, attempts, last error).
    pub async fn trace(&self, message_id: &str) -> Result<Vec<RecipientTrace>> {
        let rows: Vec<TraceRow> = sqlx::query_as(
            "SELECT address, route, reasons, state, attempts, last_error FROM recipients
                 WHERE message_id = ? ORDER BY id",
        )
        .bind(message_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(
                |(address, route, reasons, state, attempts, last_error)| RecipientTrace {
                    address,
                    route,
                    reasons: reasons
                        .and_then(|r| serde_json::from_str(&r).ok())
                        .unwrap_or_default(),
                    state,
                    attempts,
                    last_error,
                },
            )
            .collect())
    }
}

type TraceRow = (
    String,
    Option<String>,
    Option<String>,
    String,
    i64,
    Option<String>,
);

/// What happened to one recipient of a message.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RecipientTrace {
    pub address: String,
    pub route: Option<String>,
    pub reasons: Vec<String>,
    pub state: String,
    pub attempts: i64,
    pub last_error: Option<String>,
}

impl Origin {
    /// Parse the stored word.
    pub fn parse(s: &str) -> Option<Origin> {
        match s {
            "submission" => Some(Origin::Submission),
            "relay" => Some(Origin::Relay),
            "notification" => Some(Origin::Notification),
            "dsn" => Some(Origin::Dsn),
            "reply" => Some(Origin::Reply),
            "portal" => Some(Origin::Portal),
            "intake" => Some(Origin::Intake),
            _ => None,
        }
    }
}

/// The writes of [`Store::finish_processing`], inside the committer's transaction.
pub(crate) async fn write_processed(
    tx: &mut sqlx::SqliteConnection,
    message_id: &str,
    p: &Processed,
    t: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE messages SET state = 'processed', lease_until = 0, verdict = ?, findings = ?,
                    out_blob = ?, out_prefix = ?, processed_at = ? WHERE id = ?",
    )
    .bind(&p.verdict)
    .bind(p.findings.to_string())
    .bind(&p.out_blob)
    .bind(&p.out_prefix)
    .bind(t)
    .bind(message_id)
    .execute(&mut *tx)
    .await?;
    for d in &p.decisions {
        let done = if d.state == "queued" { None } else { Some(t) };
        sqlx::query(
                "UPDATE recipients SET route = ?, reasons = ?, state = ?, blob = ?, next_attempt_at = ?,
                        done_at = ? WHERE id = ?",
            )
            .bind(&d.route)
            .bind(serde_json::to_string(&d.reasons).unwrap_or_default())
            .bind(&d.state)
            .bind(&d.blob)
            .bind(t)
            .bind(done)
            .bind(d.recipient_id)
            .execute(&mut *tx)
            .await?;
    }
    for v in &p.vault {
        crate::vault::insert(&mut *tx, v).await?;
    }
    for g in &p.generated {
        insert_generated(&mut *tx, &crate::new_id(), g, t).await?;
    }
    for a in &p.audit {
        crate::insert_audit(&mut *tx, a, t).await?;
    }
    Ok(())
}

/// A message Veilpost made, stored as processed and queued for delivery.
pub(crate) async fn insert_generated(
    tx: &mut sqlx::SqliteConnection,
    id: &str,
    g: &Generated,
    t: i64,
) -> Result<(), sqlx::Error> {
    let m = NewMessage {
        id: id.to_string(),
        envelope: g.envelope.clone(),
        size: g.size,
        blob: g.blob.clone(),
    };
    insert_message(&mut *tx, &m, t, "processed").await?;
    sqlx::query(
        "UPDATE messages SET out_blob = blob, processed_at = ?, verdict = 'clean' WHERE id = ?",
    )
    .bind(t)
    .bind(id)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE recipients SET route = ?, state = 'queued', next_attempt_at = ? WHERE message_id = ?",
    )
    .bind(&g.route)
    .bind(t)
    .bind(id)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// The write of [`Store::delivery_done`], inside the committer's transaction.
pub(crate) async fn write_delivery_done(
    tx: &mut sqlx::SqliteConnection,
    recipient_id: i64,
    outcome: &DeliveryOutcome,
    t: i64,
) -> Result<(), sqlx::Error> {
    match outcome {
        DeliveryOutcome::Delivered { detail } => {
            sqlx::query(
                    "UPDATE recipients SET state = 'delivered', attempts = attempts + 1, lease_until = 0,
                            last_error = ?, done_at = ? WHERE id = ?",
                )
                .bind(detail)
                .bind(t)
                .bind(recipient_id)
                .execute(&mut *tx)
                .await?;
        }
        DeliveryOutcome::Deferred { error, next_at } => {
            sqlx::query(
                "UPDATE recipients SET attempts = attempts + 1, lease_until = 0, last_error = ?,
                            next_attempt_at = ? WHERE id = ?",
            )
            .bind(error)
            .bind(next_at)
            .bind(recipient_id)
            .execute(&mut *tx)
            .await?;
        }
        DeliveryOutcome::Failed { error } => {
            sqlx::query(
                "UPDATE recipients SET state = 'failed', attempts = attempts + 1, lease_until = 0,
                            last_error = ?, done_at = ? WHERE id = ?",
            )
            .bind(error)
            .bind(t)
            .bind(recipient_id)
            .execute(&mut *tx)
            .await?;
        }
    }
    Ok(())
}
