//! Processing and delivery queues over the `messages` and `recipients` tables. Workers
//! take rows with a lease (`lease_until`), so a crashed worker's rows come back after the
//! lease, and several workers (or nodes) never take the same row at once. What the admin
//! pages read of the queue (rows, retries, traces, sent messages) is here too.

use sqlx::{AssertSqlSafe, Row};

use crate::commit::Write;
use crate::messages::{Origin, Route, TraceRow, write_delivery_done};
use crate::{
    Delivery, DeliveryOutcome, Generated, MessageInfo, PortalEntry, Processed, QueueRow, Received,
    RecipientTrace, Result, Store,
};

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
        let t = self.now();
        let rows = sqlx::query(
            "UPDATE messages SET state = 'processing', lease_until = ?1
             WHERE id IN (SELECT id FROM messages
                          WHERE state = 'received' OR (state = 'processing' AND lease_until < ?2)
                          ORDER BY id LIMIT ?3)
             RETURNING id, origin, mail_from, auth_user, client_ip, received_at, blob, confirmed, intent",
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
                intent: row.try_get("intent")?,
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
        let t = self.now();
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
                Origin,
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
                route: Route::from_stored(row.try_get::<Option<&str>, _>("route")?),
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
        write_delivery_done(&mut conn, recipient_id, outcome, self.now()).await?;
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
            let t = self.now();
            for (id, _, _) in &done {
                let findings: Option<String> =
                    sqlx::query_scalar("SELECT findings FROM messages WHERE id = ?")
                        .bind(id)
                        .fetch_one(&mut *tx)
                        .await?;
                sqlx::query("UPDATE messages SET purged_at = ?, findings = ? WHERE id = ?")
                    .bind(t)
                    .bind(findings.as_deref().map(without_file_names))
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

    /// Recipients waiting for delivery or failed, newest first.
    pub async fn queue_list(&self, limit: i64) -> Result<Vec<QueueRow>> {
        Ok(sqlx::query_as::<_, QueueRow>(
            "SELECT r.id, r.message_id, m.mail_from, r.address, r.route, r.state, r.attempts,
                    r.next_attempt_at, r.last_error, m.received_at
               FROM recipients r JOIN messages m ON m.id = r.message_id
              WHERE r.state IN ('queued', 'failed')
              ORDER BY r.id DESC LIMIT ?",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Try a waiting recipient again now. True if it was waiting. (A failed one cannot be
    /// retried: its content is purged once every recipient is done.)
    pub async fn queue_retry(&self, recipient_id: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE recipients SET next_attempt_at = 0 WHERE id = ? AND state = 'queued'",
        )
        .bind(recipient_id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Stop delivering to a queued recipient. True if it was queued.
    pub async fn queue_cancel(&self, recipient_id: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE recipients SET state = 'cancelled', done_at = ? WHERE id = ? AND state = 'queued'",
        )
        .bind(self.now())
        .bind(recipient_id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// A message's envelope and verdict, for the trace.
    pub async fn message_info(&self, id: &str) -> Result<Option<MessageInfo>> {
        if id.len() > 128 {
            return Ok(None);
        }
        Ok(sqlx::query_as::<_, MessageInfo>(
            "SELECT id, received_at, origin, mail_from, auth_user, client_ip, size, state, verdict,
                    findings, held_reasons, processed_at FROM messages WHERE id = ?",
        )
        .bind(id.trim())
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Messages by a sender address (or account), newest first: for the trace's search.
    pub async fn messages_from(&self, sender: &str, limit: i64) -> Result<Vec<MessageInfo>> {
        Ok(sqlx::query_as::<_, MessageInfo>(
            "SELECT id, received_at, origin, mail_from, auth_user, client_ip, size, state, verdict,
                    findings, held_reasons, processed_at FROM messages
              WHERE mail_from = ?1 COLLATE NOCASE OR auth_user = ?1 COLLATE NOCASE
              ORDER BY received_at DESC LIMIT ?2",
        )
        .bind(sender.trim())
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Portal messages addressed to `recipient` (a staff member's replies from outside),
    /// newest first.
    pub async fn received_by(&self, recipient: &str, limit: i64) -> Result<Vec<PortalEntry>> {
        self.portal_of("recipient", recipient, limit).await
    }

    /// Secure messages (vault entries) `sender` sent, newest first.
    pub async fn sent_by(&self, sender: &str, limit: i64) -> Result<Vec<PortalEntry>> {
        self.portal_of("sender", sender, limit).await
    }

    /// Entries whose `column` (`sender` or `recipient`, never outside input) is `address`.
    async fn portal_of(
        &self,
        column: &'static str,
        address: &str,
        limit: i64,
    ) -> Result<Vec<PortalEntry>> {
        let sql = format!(
            "SELECT {} FROM vault WHERE {column} = ? COLLATE NOCASE ORDER BY created_at DESC LIMIT ?",
            crate::portal::COLUMNS
        );
        Ok(sqlx::query_as::<_, PortalEntry>(AssertSqlSafe(sql))
            .bind(address.trim())
            .bind(limit)
            .fetch_all(&self.pool)
            .await?)
    }
}

/// The findings of a message whose content is gone, without the attachment names in
/// their locations (`attachment/uitslag_Jansen_1961.pdf/page 2` becomes `attachment`): a
/// file name is often personal data itself. Findings that do not parse are dropped.
fn without_file_names(findings: &str) -> String {
    let Ok(mut list) = serde_json::from_str::<Vec<serde_json::Value>>(findings) else {
        return "[]".into();
    };
    for f in &mut list {
        if let Some(loc) = f.get_mut("location")
            && loc.as_str().is_some_and(|l| l.starts_with("attachment"))
        {
            *loc = "attachment".into();
        }
    }
    serde_json::Value::from(list).to_string()
}
