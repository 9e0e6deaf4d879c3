//! What the portal keeps per vault entry: the recipient's login and what happened to the
//! message. Expiry and revocation shred the content: the wrapped data key and the
//! ciphertext go, so nothing can decrypt the message any more (a backup of the database
//! included).

use sqlx::{AssertSqlSafe, FromRow};

use crate::vault::token_hash;
use crate::{Result, Store};

/// Everything the portal knows about one vault entry.
#[derive(Debug, Clone, FromRow)]
pub struct PortalEntry {
    pub id: String,
    pub message_id: String,
    pub recipient: String,
    pub sender: String,
    pub blob: String,
    pub wrapped_key: Vec<u8>,
    pub key_id: String,
    pub created_at: i64,
    pub expires_at: i64,
    /// `notified`, `revoked` or `expired`.
    pub state: String,
    pub phone: Option<String>,
    pub access_code: Option<String>,
    pub email_code: bool,
    /// The login state machine (JSON), if a login has begun.
    pub login: Option<String>,
    pub login_version: i64,
    pub read_receipt: bool,
    /// An upload request (the `[upload]` tag).
    pub upload: bool,
    pub opened_at: Option<i64>,
    pub downloaded_at: Option<i64>,
    pub replied_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub shredded_at: Option<i64>,
    /// The subject sealed on its own (see `MasterKey::open_subject`); gone when shredded.
    pub subject_key: Option<Vec<u8>>,
    pub subject_sealed: Option<Vec<u8>>,
}

impl PortalEntry {
    /// The content can still be read: not revoked, not expired, key present.
    pub fn readable(&self, now: i64) -> bool {
        self.shredded_at.is_none() && self.revoked_at.is_none() && self.expires_at > now
    }
}

pub(crate) const COLUMNS: &str =
    "id, message_id, recipient, sender, blob, wrapped_key, key_id, created_at,
    expires_at, state, phone, access_code, email_code, login, login_version, read_receipt, upload,
    opened_at, downloaded_at, replied_at, revoked_at, shredded_at, subject_key, subject_sealed";

/// One of the recipient's replies kept with the message it answers (sealed with the
/// master key, context `reply:<id>`).
#[derive(Debug, Clone, FromRow)]
pub struct PortalReply {
    pub id: String,
    pub vault_id: String,
    pub blob: String,
    pub wrapped_key: Vec<u8>,
    pub created_at: i64,
}

/// What one milestone update changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Milestone {
    Opened,
    Downloaded,
    Replied,
}

impl Store {
    async fn portal_where(&self, clause: &str, value: &str) -> Result<Option<PortalEntry>> {
        if value.len() > 128 {
            return Ok(None);
        }
        let sql = format!("SELECT {COLUMNS} FROM vault WHERE {clause} = $1");
        Ok(
            crate::db::on!(&self.pool, ex => sqlx::query_as::<_, PortalEntry>(AssertSqlSafe(sql))
            .bind(value)
            .fetch_optional(ex).await)?,
        )
    }

    /// The entry a recipient's link token opens.
    pub async fn portal_by_token(&self, token: &str) -> Result<Option<PortalEntry>> {
        if token.len() > 128 {
            return Ok(None);
        }
        self.portal_where("token_hash", &token_hash(token)).await
    }

    /// The entry a sender's status-link token shows.
    pub async fn portal_by_status_token(&self, token: &str) -> Result<Option<PortalEntry>> {
        if token.len() > 128 {
            return Ok(None);
        }
        self.portal_where("status_token_hash", &token_hash(token))
            .await
    }

    /// The entry by id.
    pub async fn portal_by_id(&self, id: &str) -> Result<Option<PortalEntry>> {
        self.portal_where("id", id).await
    }

    /// The portal entries made for one message (one per portal recipient).
    pub async fn portal_by_message(&self, message_id: &str) -> Result<Vec<PortalEntry>> {
        let sql = format!("SELECT {COLUMNS} FROM vault WHERE message_id = $1 ORDER BY recipient");
        Ok(
            crate::db::on!(&self.pool, ex => sqlx::query_as::<_, PortalEntry>(AssertSqlSafe(sql))
            .bind(message_id)
            .fetch_all(ex).await)?,
        )
    }

    /// Store the login state if nobody changed it since `version` was read; false when
    /// someone did (the caller reads again and retries).
    pub async fn save_login(&self, id: &str, login: &str, version: i64) -> Result<bool> {
        self.save_login_in("vault", id, login, version).await
    }

    /// The compare-and-set behind [`Store::save_login`] and
    /// [`Store::save_intake_login`]: `table` is one of ours, never input.
    pub(crate) async fn save_login_in(
        &self,
        table: &'static str,
        id: &str,
        login: &str,
        version: i64,
    ) -> Result<bool> {
        let sql = format!(
            "UPDATE {table} SET login = $1, login_version = login_version + 1
              WHERE id = $2 AND login_version = $3"
        );
        let done = crate::db::on!(&self.pool, ex => sqlx::query(AssertSqlSafe(sql))
            .bind(login)
            .bind(id)
            .bind(version)
            .execute(ex).await.map(|r| r.rows_affected()))?;
        Ok(done == 1)
    }

    /// Note a milestone; true the first time (the read receipt goes out then).
    pub async fn portal_milestone(&self, id: &str, m: Milestone) -> Result<bool> {
        let column = match m {
            Milestone::Opened => "opened_at",
            Milestone::Downloaded => "downloaded_at",
            Milestone::Replied => "replied_at",
        };
        let sql = format!("UPDATE vault SET {column} = $1 WHERE id = $2 AND {column} IS NULL");
        let done = crate::db::on!(&self.pool, ex => sqlx::query(AssertSqlSafe(sql))
            .bind(self.now())
            .bind(id)
            .execute(ex).await.map(|r| r.rows_affected()))?;
        Ok(done == 1)
    }

    /// Destroy an entry's content (`revoked` or `expired`): the wrapped key and the
    /// ciphertext go, sessions end. True if this call did it.
    pub async fn shred(&self, id: &str, state: &str) -> Result<bool> {
        let t = self.now();
        let mut tx = self.pool.write_tx().await?;
        let blob: Option<String> = crate::db::on_tx!(&mut tx, c => sqlx::query_scalar("SELECT blob FROM vault WHERE id = $1 AND shredded_at IS NULL")
                .bind(id)
                .fetch_optional(&mut *c).await)?;
        let Some(blob) = blob else {
            return Ok(false);
        };
        let revoked = if state == "revoked" { Some(t) } else { None };
        crate::db::on_tx!(&mut tx, c => sqlx::query(
            "UPDATE vault SET wrapped_key = $5, state = $1, shredded_at = $2,
                    revoked_at = COALESCE(revoked_at, $3), login = NULL,
                    subject_key = NULL, subject_sealed = NULL
              WHERE id = $4",
        )
        .bind(state)
        .bind(t)
        .bind(revoked)
        .bind(id)
        .bind(&[][..] as &[u8])
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
        crate::db::on_tx!(&mut tx, c => sqlx::query("DELETE FROM sessions WHERE kind = 'portal' AND subject = $1")
            .bind(id)
            .execute(&mut *c).await.map(|r| r.rows_affected()))?;
        // The recipient's replies kept with it go too (their keys with the rows).
        let replies: Vec<String> = crate::db::on_tx!(&mut tx, c => sqlx::query_scalar("DELETE FROM portal_replies WHERE vault_id = $1 RETURNING blob")
                .bind(id)
                .fetch_all(&mut *c).await)?;
        tx.commit().await?;
        // The keys are gone, so the ciphertexts are noise already; remove them too.
        for blob in std::iter::once(&blob).chain(&replies) {
            if let Err(e) = self.blobs.remove(blob).await {
                tracing::warn!("removing shredded blob {blob}: {e}");
            }
        }
        Ok(true)
    }

    /// Keep a reply (already sealed, its ciphertext written as `blob`) with the entry it
    /// answers.
    pub async fn add_portal_reply(
        &self,
        id: &str,
        vault_id: &str,
        blob: &str,
        wrapped_key: &[u8],
    ) -> Result<()> {
        let mut tx = self.pool.write_tx().await?;
        crate::db::on_tx!(&mut tx, c => sqlx::query(
            "INSERT INTO portal_replies (id, vault_id, blob, wrapped_key, created_at)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id)
        .bind(vault_id)
        .bind(blob)
        .bind(wrapped_key)
        .bind(self.now())
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
        tx.commit().await?;
        Ok(())
    }

    /// The replies kept with an entry, oldest first.
    pub async fn portal_replies(&self, vault_id: &str) -> Result<Vec<PortalReply>> {
        Ok(
            crate::db::on!(&self.pool, ex => sqlx::query_as::<_, PortalReply>(
            "SELECT id, vault_id, blob, wrapped_key, created_at FROM portal_replies
              WHERE vault_id = $1 ORDER BY created_at, id",
        )
        .bind(vault_id)
        .fetch_all(ex).await)?,
        )
    }

    /// Entries whose time is up and that still hold content (at most `limit`).
    pub async fn portal_expired(&self, at: i64, limit: i64) -> Result<Vec<PortalEntry>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM vault WHERE shredded_at IS NULL AND expires_at <= $1 LIMIT $2"
        );
        Ok(
            crate::db::on!(&self.pool, ex => sqlx::query_as::<_, PortalEntry>(AssertSqlSafe(sql))
            .bind(at)
            .bind(limit)
            .fetch_all(ex).await)?,
        )
    }

    /// Unlock a locked login (the sender did it from the status page).
    pub async fn reset_login(&self, id: &str) -> Result<()> {
        crate::db::on!(&self.pool, ex => sqlx::query(
            "UPDATE vault SET login = NULL, login_version = login_version + 1 WHERE id = $1",
        )
        .bind(id)
        .execute(ex).await.map(|r| r.rows_affected()))?;
        Ok(())
    }
}
