//! Processing and delivery queues over the `messages` and `recipients` tables. Workers
//! take rows with a lease (`lease_until`), so a crashed worker's rows come back after the
//! lease, and several workers (or nodes) never take the same row at once. What the admin
//! pages read of the queue (rows, retries, traces, sent messages) is here too.

use sqlx::{AssertSqlSafe, FromRow};

use crate::commit::Write;
use crate::messages::{Origin, Route, TraceRow};
use crate::{
    Delivery, DeliveryOutcome, Generated, MessageInfo, PortalEntry, Processed, QueueRow, Received,
    RecipientTrace, Result, Store,
};

/// What a claim of messages to process returns.
macro_rules! claimed_columns {
    () => {
        " RETURNING id, origin, mail_from, auth_user, client_ip, received_at, blob, confirmed,
                    intent, header_message_id"
    };
}

/// The statement that takes messages to process on SQLite: the oldest received (in id
/// order, straight from the `(state, id)` index: no sort of the whole backlog) and any
/// whose lease ran out.
const CLAIM_RECEIVED_SQLITE: &str = concat!(
    "UPDATE messages SET state = 'processing', lease_until = $1
     WHERE id IN (SELECT id FROM (
                      SELECT id FROM (SELECT id FROM messages WHERE state = 'received'
                                       ORDER BY id LIMIT $3)
                      UNION ALL
                      SELECT id FROM (SELECT id FROM messages
                                       WHERE state = 'processing' AND lease_until < $2
                                       ORDER BY id LIMIT $3))
                  ORDER BY id LIMIT $3)",
    claimed_columns!()
);

/// The same on PostgreSQL, skipping rows another node is taking at this moment.
const CLAIM_RECEIVED_POSTGRES: &str = concat!(
    "UPDATE messages SET state = 'processing', lease_until = $1
     WHERE id IN (SELECT id FROM messages
                  WHERE state = 'received' OR (state = 'processing' AND lease_until < $2)
                  ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED)",
    claimed_columns!()
);

/// The statement that takes due deliveries; `$lock` is what PostgreSQL adds.
macro_rules! claim_deliveries_sql {
    ($lock:literal) => {
        concat!(
            "UPDATE recipients SET lease_until = $1
             WHERE id IN (SELECT id FROM recipients
                          WHERE state = 'queued' AND next_attempt_at <= $2 AND lease_until < $2
                          ORDER BY next_attempt_at, id LIMIT $3",
            $lock,
            ") RETURNING id, message_id, address, route, blob, attempts, delay_notified"
        )
    };
}

/// A message as [`Store::claim_received`] takes it.
#[derive(FromRow)]
struct ClaimedMessage {
    id: String,
    origin: Origin,
    mail_from: String,
    auth_user: Option<String>,
    client_ip: Option<String>,
    received_at: i64,
    blob: String,
    confirmed: bool,
    intent: Option<String>,
    header_message_id: Option<String>,
}

/// A recipient as [`Store::claim_deliveries`] takes it.
#[derive(FromRow)]
struct ClaimedRecipient {
    id: i64,
    message_id: String,
    address: String,
    route: Option<String>,
    blob: Option<String>,
    attempts: i64,
    delay_notified: bool,
}

/// What a delivery needs of its message.
#[derive(FromRow)]
struct DeliveredMessage {
    id: String,
    mail_from: String,
    origin: Origin,
    out_blob: Option<String>,
    blob: String,
    received_at: i64,
    out_prefix: Option<Vec<u8>>,
    header_message_id: Option<String>,
}

impl Store {
    /// Free every lease, for the one server that owns an SQLite store when it starts:
    /// work a killed predecessor had taken is picked up at once instead of after its
    /// lease. Returns (messages, deliveries) released.
    pub async fn release_leases(&self) -> Result<(u64, u64)> {
        if self.pool.engine() == crate::Engine::Postgres {
            // Other nodes may be at work on their leases: a dead node's work comes back
            // when its leases run out, not when some node starts.
            return Ok((0, 0));
        }
        let mut tx = self.pool.write_tx().await?;
        let m = crate::db::on_tx!(&mut tx, c => sqlx::query(
            "UPDATE messages SET state = 'received', lease_until = 0 WHERE state = 'processing'",
        )
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
        let d = crate::db::on_tx!(&mut tx, c => sqlx::query(
            "UPDATE recipients SET lease_until = 0 WHERE state = 'queued' AND lease_until > 0",
        )
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
        tx.commit().await?;
        Ok((m, d))
    }

    /// Take up to `n` messages to process, leased for `lease` seconds. On PostgreSQL
    /// rows another node is taking at this moment are skipped, not waited for.
    pub async fn claim_received(&self, n: i64, lease: i64) -> Result<Vec<Received>> {
        let t = self.now();
        let sql = match self.lease_pool.engine() {
            crate::Engine::Sqlite => CLAIM_RECEIVED_SQLITE,
            crate::Engine::Postgres => CLAIM_RECEIVED_POSTGRES,
        };
        // A write: it takes its turn with the process's other writers.
        let turn = self.lease_pool.write_turn().await?;
        let mut claimed: Vec<ClaimedMessage> = crate::db::on!(&self.lease_pool, ex => sqlx::query_as(sql)
            .bind(t + lease)
            .bind(t)
            .bind(n)
            .fetch_all(ex).await)?;
        drop(turn);
        claimed.sort_by(|a, b| a.id.cmp(&b.id));
        let ids: Vec<&str> = claimed.iter().map(|m| m.id.as_str()).collect();
        let mut recipients: std::collections::HashMap<String, Vec<(i64, String)>> =
            std::collections::HashMap::new();
        for (message_id, id, address) in self.recipients_of(&ids).await? {
            recipients
                .entry(message_id)
                .or_default()
                .push((id, address));
        }
        Ok(claimed
            .into_iter()
            .map(|m| Received {
                recipients: recipients.remove(&m.id).unwrap_or_default(),
                id: m.id,
                origin: m.origin,
                mail_from: m.mail_from,
                auth_user: m.auth_user,
                client_ip: m.client_ip,
                received_at: m.received_at,
                blob: m.blob,
                confirmed: m.confirmed,
                intent: m.intent,
                header_message_id: m.header_message_id,
            })
            .collect())
    }

    /// (message id, recipient row id, address) of these messages' recipients, in order.
    async fn recipients_of(&self, ids: &[&str]) -> Result<Vec<(String, i64, String)>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        Ok(crate::db::on!(&self.pool, ex => {
            let mut q = sqlx::QueryBuilder::new(
                "SELECT message_id, id, address FROM recipients WHERE message_id IN (",
            );
            let mut list = q.separated(", ");
            for id in ids {
                list.push_bind(*id);
            }
            q.push(") ORDER BY id");
            q.build_query_as().fetch_all(ex).await
        })?)
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

    /// Take up to `n` due deliveries, leased for `lease` seconds. On PostgreSQL rows
    /// another node is taking at this moment are skipped, not waited for.
    pub async fn claim_deliveries(&self, n: i64, lease: i64) -> Result<Vec<Delivery>> {
        let t = self.now();
        let sql = match self.lease_pool.engine() {
            crate::Engine::Sqlite => claim_deliveries_sql!(""),
            crate::Engine::Postgres => claim_deliveries_sql!(" FOR UPDATE SKIP LOCKED"),
        };
        // A write: it takes its turn with the process's other writers.
        let turn = self.lease_pool.write_turn().await?;
        let mut claimed: Vec<ClaimedRecipient> = crate::db::on!(&self.lease_pool, ex => sqlx::query_as(sql)
            .bind(t + lease)
            .bind(t)
            .bind(n)
            .fetch_all(ex).await)?;
        drop(turn);
        claimed.sort_by_key(|r| r.id);
        let mut ids: Vec<&str> = claimed.iter().map(|r| r.message_id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        let messages: std::collections::HashMap<String, DeliveredMessage> = if ids.is_empty() {
            std::collections::HashMap::new()
        } else {
            let rows: Vec<DeliveredMessage> = crate::db::on!(&self.pool, ex => {
                let mut q = sqlx::QueryBuilder::new(
                    "SELECT id, mail_from, origin, out_blob, blob, received_at, out_prefix,
                            header_message_id
                       FROM messages WHERE id IN (",
                );
                let mut list = q.separated(", ");
                for id in &ids {
                    list.push_bind(*id);
                }
                q.push(")");
                q.build_query_as().fetch_all(ex).await
            })?;
            rows.into_iter().map(|m| (m.id.clone(), m)).collect()
        };
        let mut out = Vec::with_capacity(claimed.len());
        for r in claimed {
            let Some(m) = messages.get(&r.message_id) else {
                continue;
            };
            // The prefix belongs to the received blob only.
            let prefix = if r.blob.is_none() && m.out_blob.is_none() {
                m.out_prefix.clone().unwrap_or_default()
            } else {
                Vec::new()
            };
            out.push(Delivery {
                recipient_id: r.id,
                message_id: r.message_id,
                address: r.address,
                route: Route::from_stored(r.route.as_deref()),
                mail_from: m.mail_from.clone(),
                origin: m.origin,
                blob: r
                    .blob
                    .or_else(|| m.out_blob.clone())
                    .unwrap_or_else(|| m.blob.clone()),
                prefix,
                attempts: r.attempts,
                received_at: m.received_at,
                delay_notified: r.delay_notified,
                header_message_id: m.header_message_id.clone(),
            });
        }
        Ok(out)
    }

    /// Extend the leases of messages being processed and deliveries being made (by this
    /// node) to `lease` seconds from now.
    pub async fn renew_leases(
        &self,
        messages: &[String],
        recipients: &[i64],
        lease: i64,
    ) -> Result<()> {
        if messages.is_empty() && recipients.is_empty() {
            return Ok(());
        }
        let until = self.now() + lease;
        let _turn = self.lease_pool.write_turn().await?;
        for chunk in messages.chunks(500) {
            crate::db::on!(&self.lease_pool, ex => {
                let mut q = sqlx::QueryBuilder::new("UPDATE messages SET lease_until = ");
                q.push_bind(until);
                q.push(" WHERE state = 'processing' AND id IN (");
                let mut list = q.separated(", ");
                for id in chunk {
                    list.push_bind(id.as_str());
                }
                q.push(")");
                q.build().execute(ex).await.map(|_| ())
            })?;
        }
        for chunk in recipients.chunks(500) {
            crate::db::on!(&self.lease_pool, ex => {
                let mut q = sqlx::QueryBuilder::new("UPDATE recipients SET lease_until = ");
                q.push_bind(until);
                q.push(" WHERE state = 'queued' AND id IN (");
                let mut list = q.separated(", ");
                for id in chunk {
                    list.push_bind(*id);
                }
                q.push(")");
                q.build().execute(ex).await.map(|_| ())
            })?;
        }
        Ok(())
    }

    /// Record how a delivery attempt ended. Committed without waiting for fsync: losing
    /// this record in a crash means the delivery is made again (a duplicate), never that a
    /// message is lost, and the next durable commit's fsync covers it within moments.
    /// Reports (DSNs) a failure causes are queued durably on their own.
    pub async fn delivery_done(&self, recipient_id: i64, outcome: &DeliveryOutcome) -> Result<()> {
        self.recorder.record(recipient_id, outcome.clone()).await
    }

    /// Remove the content of up to `limit` messages whose recipients are all done
    /// (delivered, failed, in the portal vault, blocked): the received blob, the delivered
    /// form and per-recipient copies. The rows stay for the trace. Returns how many
    /// messages were purged. Files go first, then one transaction removes the content kept
    /// in the database and marks the rows: a crash in between only means the (already
    /// missing) files are removed again.
    pub async fn purge_finished(&self, limit: i64) -> Result<usize> {
        let done: Vec<(String, String, Option<String>, Option<String>)> = crate::db::on!(&self.pool, ex => sqlx::query_as(
            "SELECT m.id, m.blob, m.out_blob, m.findings FROM messages m
              WHERE m.purged_at IS NULL AND m.state = 'processed'
                AND NOT EXISTS (SELECT 1 FROM recipients r
                                 WHERE r.message_id = m.id AND r.state IN ('new', 'queued'))
              ORDER BY m.received_at LIMIT $1",
        )
        .bind(limit)
        .fetch_all(ex).await)?;
        if done.is_empty() {
            return Ok(0);
        }
        let copies: Vec<(String,)> = crate::db::on!(&self.pool, ex => {
            let mut q = sqlx::QueryBuilder::new(
                "SELECT blob FROM recipients WHERE blob IS NOT NULL AND message_id IN (",
            );
            let mut list = q.separated(", ");
            for (id, ..) in &done {
                list.push_bind(id);
            }
            q.push(")");
            q.build_query_as().fetch_all(ex).await
        })?;
        let names = done
            .iter()
            .flat_map(|(_, blob, out_blob, _)| std::iter::once(blob).chain(out_blob))
            .chain(copies.iter().map(|(b,)| b));
        let (inline, files): (Vec<&String>, Vec<&String>) =
            names.partition(|n| crate::blob::is_inline(n));
        for name in files {
            self.blobs.remove(name).await?;
        }
        let t = self.now();
        let mut tx = self.lease_pool.write_tx().await?;
        if !inline.is_empty() {
            self.recent.forget(inline.iter().map(|n| n.as_str()));
            crate::db::on_tx!(&mut tx, c => {
                let mut q = sqlx::QueryBuilder::new("DELETE FROM inline_blobs WHERE name IN (");
                let mut list = q.separated(", ");
                for name in &inline {
                    list.push_bind(*name);
                }
                q.push(")");
                q.build().execute(&mut *c).await.map(|r| r.rows_affected())
            })?;
        }
        crate::db::on_tx!(&mut tx, c => {
            let mut q = sqlx::QueryBuilder::new(
                "UPDATE messages SET findings = v.column2, purged_at = v.column3 FROM (",
            );
            q.push_values(&done, |mut row, (id, _, _, findings)| {
                row.push_bind(id)
                    .push_bind(findings.as_deref().map(without_file_names))
                    .push_bind(t);
            });
            q.push(") AS v WHERE messages.id = v.column1");
            q.build().execute(&mut *c).await.map(|r| r.rows_affected())
        })?;
        tx.commit().await?;
        Ok(done.len())
    }

    /// Note that the sender was told of a delay for this recipient.
    pub async fn mark_delay_notified(&self, recipient_id: i64) -> Result<()> {
        crate::db::on!(&self.pool, ex => sqlx::query("UPDATE recipients SET delay_notified = TRUE WHERE id = $1")
            .bind(recipient_id)
            .execute(ex).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// The trace of one message: (address, route, reasons, state, attempts, last error).
    pub async fn trace(&self, message_id: &str) -> Result<Vec<RecipientTrace>> {
        let rows: Vec<TraceRow> = crate::db::on!(&self.pool, ex => sqlx::query_as(
            "SELECT address, route, reasons, state, attempts, last_error FROM recipients
                 WHERE message_id = $1 ORDER BY id",
        )
        .bind(message_id)
        .fetch_all(ex).await)?;
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

    /// How much work waits, by state: messages `received` (to process), `processing`,
    /// `held` (for the sender's confirmation) and recipients `queued` for delivery. Every
    /// state is named, with 0 when nothing is in it.
    pub async fn queue_depth(&self) -> Result<Vec<(&'static str, i64)>> {
        let messages: Vec<(String, i64)> = crate::db::on!(&self.pool, ex => sqlx::query_as(
            "SELECT state, COUNT(*) FROM messages
              WHERE state IN ('received', 'processing', 'held') GROUP BY state",
        )
        .fetch_all(ex).await)?;
        let queued: i64 = crate::db::on!(&self.pool, ex => sqlx::query_scalar(
            "SELECT COUNT(*) FROM recipients WHERE state = 'queued'",
        )
        .fetch_one(ex).await)?;
        let count = |state: &str| {
            messages
                .iter()
                .find(|(s, _)| s == state)
                .map_or(0, |(_, n)| *n)
        };
        Ok(vec![
            ("received", count("received")),
            ("processing", count("processing")),
            ("held", count("held")),
            ("queued", queued),
        ])
    }

    /// Recipients waiting for delivery or failed, newest first.
    pub async fn queue_list(&self, limit: i64) -> Result<Vec<QueueRow>> {
        Ok(
            crate::db::on!(&self.pool, ex => sqlx::query_as::<_, QueueRow>(
            "SELECT r.id, r.message_id, m.mail_from, r.address, r.route, r.state, r.attempts,
                    r.next_attempt_at, r.last_error, m.received_at
               FROM recipients r JOIN messages m ON m.id = r.message_id
              WHERE r.state IN ('queued', 'failed')
              ORDER BY r.id DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(ex).await)?,
        )
    }

    /// Try a waiting recipient again now. True if it was waiting. (A failed one cannot be
    /// retried: its content is purged once every recipient is done.)
    pub async fn queue_retry(&self, recipient_id: i64) -> Result<bool> {
        let done = crate::db::on!(&self.pool, ex => sqlx::query(
            "UPDATE recipients SET next_attempt_at = 0 WHERE id = $1 AND state = 'queued'",
        )
        .bind(recipient_id)
        .execute(ex).await.map(|r| r.rows_affected()))?;
        Ok(done == 1)
    }

    /// Stop delivering to a queued recipient. True if it was queued.
    pub async fn queue_cancel(&self, recipient_id: i64) -> Result<bool> {
        let done = crate::db::on!(&self.pool, ex => sqlx::query(
            "UPDATE recipients SET state = 'cancelled', done_at = $1 WHERE id = $2 AND state = 'queued'",
        )
        .bind(self.now())
        .bind(recipient_id)
        .execute(ex).await.map(|r| r.rows_affected()))?;
        Ok(done == 1)
    }

    /// A message's envelope and verdict, for the trace.
    pub async fn message_info(&self, id: &str) -> Result<Option<MessageInfo>> {
        if id.len() > 128 {
            return Ok(None);
        }
        Ok(
            crate::db::on!(&self.pool, ex => sqlx::query_as::<_, MessageInfo>(
            "SELECT id, received_at, origin, mail_from, auth_user, client_ip, size, state, verdict,
                    findings, held_reasons, processed_at FROM messages WHERE id = $1",
        )
        .bind(id.trim())
        .fetch_optional(ex).await)?,
        )
    }

    /// Messages by a sender address (or account), newest first: for the trace's search.
    pub async fn messages_from(&self, sender: &str, limit: i64) -> Result<Vec<MessageInfo>> {
        Ok(
            crate::db::on!(&self.pool, ex => sqlx::query_as::<_, MessageInfo>(
            "SELECT id, received_at, origin, mail_from, auth_user, client_ip, size, state, verdict,
                    findings, held_reasons, processed_at FROM messages
              WHERE lower(mail_from) = lower($1) OR lower(auth_user) = lower($1)
              ORDER BY received_at DESC LIMIT $2",
        )
        .bind(sender.trim())
        .bind(limit)
        .fetch_all(ex).await)?,
        )
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
            "SELECT {} FROM vault WHERE lower({column}) = lower($1) ORDER BY created_at DESC LIMIT $2",
            crate::portal::COLUMNS
        );
        Ok(
            crate::db::on!(&self.pool, ex => sqlx::query_as::<_, PortalEntry>(AssertSqlSafe(sql))
            .bind(address.trim())
            .bind(limit)
            .fetch_all(ex).await)?,
        )
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
