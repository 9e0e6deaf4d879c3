//! Messages the double-check holds until the sender confirms or cancels.

use sqlx::{AssertSqlSafe, FromRow};

use crate::vault::token_hash;
use crate::{MessageState, Result, Store};

/// A message held by the double-check.
#[derive(Debug, Clone, FromRow)]
pub struct Held {
    pub id: String,
    pub mail_from: String,
    pub state: MessageState,
    pub held_reasons: Option<String>,
    pub received_at: i64,
    /// The sender (or an offboarding) cancelled it: nothing was sent.
    pub cancelled: bool,
}

/// The columns of [`Held`].
const HELD_COLUMNS: &str = "id, mail_from, state, held_reasons, received_at,
    EXISTS (SELECT 1 FROM recipients r WHERE r.message_id = messages.id
             AND r.state = 'cancelled') AS cancelled";

impl Store {
    /// Hold a message in processing until its sender decides; `token_hash` is the hash of
    /// the confirm link's token, `reasons` JSON.
    pub async fn hold_message(&self, id: &str, token_hash: &str, reasons: &str) -> Result<()> {
        crate::db::on!(&self.pool, ex => sqlx::query(
            "UPDATE messages SET state = 'held', hold_token_hash = $1, held_reasons = $2,
                    lease_until = 0 WHERE id = $3",
        )
        .bind(token_hash)
        .bind(reasons)
        .bind(id)
        .execute(ex).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// The held message a confirm link names.
    pub async fn held_by_token(&self, token: &str) -> Result<Option<Held>> {
        if token.len() > 128 {
            return Ok(None);
        }
        // Dynamic SQL here only joins a fixed column list, never input.
        let sql = format!("SELECT {HELD_COLUMNS} FROM messages WHERE hold_token_hash = $1");
        Ok(
            crate::db::on!(&self.pool, ex => sqlx::query_as::<_, Held>(AssertSqlSafe(sql))
            .bind(token_hash(token))
            .fetch_optional(ex).await)?,
        )
    }

    /// Messages held for `sender` (by account or sender address), oldest first.
    pub async fn held_by_sender(&self, sender: &str) -> Result<Vec<Held>> {
        let sql = format!(
            "SELECT {HELD_COLUMNS} FROM messages
              WHERE state = 'held' AND (lower(auth_user) = lower($1) OR lower(mail_from) = lower($1))
              ORDER BY received_at"
        );
        Ok(
            crate::db::on!(&self.pool, ex => sqlx::query_as::<_, Held>(AssertSqlSafe(sql))
            .bind(sender.trim())
            .fetch_all(ex).await)?,
        )
    }

    /// Undo a hold whose notice could not be sent: the message is processed again.
    pub async fn unhold(&self, id: &str) -> Result<bool> {
        let done = crate::db::on!(&self.pool, ex => sqlx::query(
            "UPDATE messages SET state = 'received', hold_token_hash = NULL, held_reasons = NULL
              WHERE id = $1 AND state = 'held'",
        )
        .bind(id)
        .execute(ex).await.map(|r| r.rows_affected()))?;
        Ok(done == 1)
    }

    /// The sender confirmed: process again, without a second hold. True if it was held.
    pub async fn release_held(&self, id: &str) -> Result<bool> {
        let done = crate::db::on!(&self.pool, ex => sqlx::query(
            "UPDATE messages SET state = 'received', confirmed = TRUE WHERE id = $1 AND state = 'held'",
        )
        .bind(id)
        .execute(ex).await.map(|r| r.rows_affected()))?;
        Ok(done == 1)
    }

    /// Quarantine inbound message `id`: its content is now `blob`, sealed under
    /// `wrapped_key` (context `quarantine:<id>`), held with `reasons` (JSON). Returns the
    /// blob it replaces (the clear one, to remove), or `None` when `id` was not processing.
    pub async fn quarantine(
        &self,
        id: &str,
        blob: &str,
        wrapped_key: &[u8],
        reasons: &str,
    ) -> Result<Option<String>> {
        let mut tx = self.pool.write_tx().await?;
        let old: Option<String> = crate::db::on_tx!(&mut tx, c => sqlx::query_scalar("SELECT blob FROM messages WHERE id = $1 AND origin = 'inbound'")
                .bind(id)
                .fetch_optional(&mut *c).await)?;
        if old.is_some() {
            crate::db::on_tx!(&mut tx, c => sqlx::query(
                "UPDATE messages SET state = 'held', held_reasons = $1, blob = $2, sealed_key = $3,
                        lease_until = 0 WHERE id = $4",
            )
            .bind(reasons)
            .bind(blob)
            .bind(wrapped_key)
            .bind(id)
            .execute(&mut *c).await.map(|r| r.rows_affected()))?;
        }
        tx.commit().await?;
        Ok(old)
    }

    /// The wrapped data key of a message whose blob is sealed (quarantined), if it is.
    pub async fn sealed_key(&self, id: &str) -> Result<Option<Vec<u8>>> {
        Ok(
            crate::db::on!(&self.pool, ex => sqlx::query_scalar("SELECT sealed_key FROM messages WHERE id = $1")
                .bind(id)
                .fetch_optional(ex).await)?
                .flatten(),
        )
    }

    /// Who each quarantined inbound message is for: (message id, recipient address).
    pub async fn quarantine_recipients(&self) -> Result<Vec<(String, String)>> {
        Ok(crate::db::on!(&self.pool, ex => sqlx::query_as(
            "SELECT r.message_id, r.address FROM recipients r
               JOIN messages m ON m.id = r.message_id
              WHERE m.state = 'held' AND m.origin = 'inbound'",
        )
        .fetch_all(ex).await)?)
    }

    /// A quarantined message's blob and, when it is sealed, its wrapped key.
    pub async fn quarantined_blob(&self, id: &str) -> Result<Option<(String, Option<Vec<u8>>)>> {
        Ok(crate::db::on!(&self.pool, ex => sqlx::query_as(
            "SELECT blob, sealed_key FROM messages
              WHERE id = $1 AND state = 'held' AND origin = 'inbound'",
        )
        .bind(id)
        .fetch_optional(ex).await)?)
    }

    /// A released message written out in the clear again as `blob`, for delivery; returns
    /// the sealed blob it replaces (to remove).
    pub async fn unseal(&self, id: &str, blob: &str) -> Result<Option<String>> {
        let mut tx = self.pool.write_tx().await?;
        let old: Option<String> = crate::db::on_tx!(&mut tx, c => sqlx::query_scalar("SELECT blob FROM messages WHERE id = $1 AND sealed_key IS NOT NULL")
                .bind(id)
                .fetch_optional(&mut *c).await)?;
        crate::db::on_tx!(&mut tx, c => sqlx::query("UPDATE messages SET blob = $1, sealed_key = NULL WHERE id = $2 AND sealed_key IS NOT NULL")
            .bind(blob)
            .bind(id)
            .execute(&mut *c).await.map(|r| r.rows_affected()))?;
        tx.commit().await?;
        Ok(old)
    }

    /// Quarantined inbound message `id`, if it is one, and (with `for_address`) only if
    /// it was meant for that address.
    pub async fn quarantined_one(
        &self,
        id: &str,
        for_address: Option<&str>,
    ) -> Result<Option<Held>> {
        let sql = format!(
            "SELECT {HELD_COLUMNS} FROM messages
              WHERE id = $1 AND state = 'held' AND origin = 'inbound'
                AND ($2 IS NULL OR EXISTS (SELECT 1 FROM recipients r
                      WHERE r.message_id = messages.id AND lower(r.address) = lower($2)))"
        );
        Ok(
            crate::db::on!(&self.pool, ex => sqlx::query_as::<_, Held>(AssertSqlSafe(sql))
            .bind(id)
            .bind(for_address.map(str::trim))
            .fetch_optional(ex).await)?,
        )
    }

    /// Quarantined inbound mail for `address` (one of its recipients), newest first.
    pub async fn quarantined_for(&self, address: &str, limit: i64) -> Result<Vec<Held>> {
        let sql = format!(
            "SELECT {HELD_COLUMNS} FROM messages
              WHERE state = 'held' AND origin = 'inbound'
                AND EXISTS (SELECT 1 FROM recipients r WHERE r.message_id = messages.id
                             AND lower(r.address) = lower($1))
              ORDER BY received_at DESC LIMIT $2"
        );
        Ok(
            crate::db::on!(&self.pool, ex => sqlx::query_as::<_, Held>(AssertSqlSafe(sql))
            .bind(address.trim())
            .bind(limit)
            .fetch_all(ex).await)?,
        )
    }

    /// Inbound mail the verdict quarantined, newest first (at most `limit`).
    pub async fn held_inbound(&self, limit: i64) -> Result<Vec<Held>> {
        let sql = format!(
            "SELECT {HELD_COLUMNS} FROM messages
              WHERE state = 'held' AND origin = 'inbound' ORDER BY received_at DESC LIMIT $1"
        );
        Ok(
            crate::db::on!(&self.pool, ex => sqlx::query_as::<_, Held>(AssertSqlSafe(sql))
            .bind(limit)
            .fetch_all(ex).await)?,
        )
    }

    /// Is `id` quarantined inbound mail (not a message the double-check holds)?
    pub async fn is_quarantined(&self, id: &str) -> Result<bool> {
        let found: Option<i32> = crate::db::on!(&self.pool, ex => sqlx::query_scalar(
            "SELECT 1 FROM messages WHERE id = $1 AND state = 'held' AND origin = 'inbound'",
        )
        .bind(id)
        .fetch_optional(ex).await)?;
        Ok(found.is_some())
    }

    /// The sender cancelled: nothing goes; the purge removes the content. True if it was
    /// held.
    pub async fn cancel_held(&self, id: &str) -> Result<bool> {
        let t = self.now();
        let mut tx = self.pool.write_tx().await?;
        let done = crate::db::on_tx!(&mut tx, c => sqlx::query(
            "UPDATE messages SET state = 'processed', processed_at = $1 WHERE id = $2 AND state = 'held'",
        )
        .bind(t)
        .bind(id)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
        if done == 1 {
            crate::db::on_tx!(&mut tx, c => sqlx::query(
                "UPDATE recipients SET state = 'cancelled', done_at = $1 WHERE message_id = $2",
            )
            .bind(t)
            .bind(id)
            .execute(&mut *c).await.map(|r| r.rows_affected()))?;
        }
        tx.commit().await?;
        Ok(done == 1)
    }
}
