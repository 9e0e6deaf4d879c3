//! What the portal keeps per vault entry (the recipient's login, what happened to the
//! message), recipients' browser sessions, registered TOTP apps and contacts' numbers.
//! Expiry and revocation shred the content: the wrapped data key and the ciphertext go,
//! so nothing can decrypt the message any more (a backup of the database included).

// Dynamic SQL here only joins fixed column lists and names, never input.
use sqlx::{AssertSqlSafe, FromRow};

use crate::vault::token_hash;
use crate::{Result, Store, hex, now, random};

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
    opened_at, downloaded_at, replied_at, revoked_at, shredded_at";

/// A verified recipient's browser session.
#[derive(Debug, Clone, FromRow)]
pub struct PortalSession {
    pub vault_id: String,
    pub csrf: String,
    pub created_at: i64,
    pub last_seen: i64,
}

/// A registered TOTP app: the secret sealed by the master key.
#[derive(Debug, Clone, FromRow)]
pub struct TotpRecord {
    pub secret: Vec<u8>,
    pub wrapped: Vec<u8>,
    pub key_id: String,
    pub last_step: i64,
}

/// What one milestone update changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Milestone {
    Opened,
    Downloaded,
    Replied,
}

fn random_token() -> String {
    let mut raw = [0u8; 32];
    random(&mut raw);
    hex(&raw)
}

impl Store {
    async fn portal_where(&self, clause: &str, value: &str) -> Result<Option<PortalEntry>> {
        if value.len() > 128 {
            return Ok(None);
        }
        let sql = format!("SELECT {COLUMNS} FROM vault WHERE {clause} = ?");
        Ok(sqlx::query_as::<_, PortalEntry>(AssertSqlSafe(sql))
            .bind(value)
            .fetch_optional(&self.pool)
            .await?)
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
        let sql = format!("SELECT {COLUMNS} FROM vault WHERE message_id = ? ORDER BY recipient");
        Ok(sqlx::query_as::<_, PortalEntry>(AssertSqlSafe(sql))
            .bind(message_id)
            .fetch_all(&self.pool)
            .await?)
    }

    /// Store the login state if nobody changed it since `version` was read; false when
    /// someone did (the caller reads again and retries).
    pub async fn save_login(&self, id: &str, login: &str, version: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE vault SET login = ?, login_version = login_version + 1
              WHERE id = ? AND login_version = ?",
        )
        .bind(login)
        .bind(id)
        .bind(version)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Note a milestone; true the first time (the read receipt goes out then).
    pub async fn portal_milestone(&self, id: &str, m: Milestone) -> Result<bool> {
        let column = match m {
            Milestone::Opened => "opened_at",
            Milestone::Downloaded => "downloaded_at",
            Milestone::Replied => "replied_at",
        };
        let sql = format!("UPDATE vault SET {column} = ? WHERE id = ? AND {column} IS NULL");
        let done = sqlx::query(AssertSqlSafe(sql))
            .bind(now())
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Destroy an entry's content (`revoked` or `expired`): the wrapped key and the
    /// ciphertext go, sessions end. True if this call did it.
    pub async fn shred(&self, id: &str, state: &str) -> Result<bool> {
        let t = now();
        let mut tx = crate::write_tx(&self.pool).await?;
        let blob: Option<String> =
            sqlx::query_scalar("SELECT blob FROM vault WHERE id = ? AND shredded_at IS NULL")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(blob) = blob else {
            return Ok(false);
        };
        let revoked = if state == "revoked" { Some(t) } else { None };
        sqlx::query(
            "UPDATE vault SET wrapped_key = X'', state = ?, shredded_at = ?,
                    revoked_at = COALESCE(revoked_at, ?), login = NULL
              WHERE id = ?",
        )
        .bind(state)
        .bind(t)
        .bind(revoked)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM portal_sessions WHERE vault_id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        // The key is gone, so the ciphertext is noise already; remove it too.
        if let Err(e) = self.blobs.remove(&blob).await {
            tracing::warn!("removing shredded blob {blob}: {e}");
        }
        Ok(true)
    }

    /// Entries whose time is up and that still hold content (at most `limit`).
    pub async fn portal_expired(&self, at: i64, limit: i64) -> Result<Vec<PortalEntry>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM vault WHERE shredded_at IS NULL AND expires_at <= ? LIMIT ?"
        );
        Ok(sqlx::query_as::<_, PortalEntry>(AssertSqlSafe(sql))
            .bind(at)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?)
    }

    /// Unlock a locked login (the sender did it from the status page).
    pub async fn reset_login(&self, id: &str) -> Result<()> {
        sqlx::query(
            "UPDATE vault SET login = NULL, login_version = login_version + 1 WHERE id = ?",
        )
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A new browser session for a verified recipient: (cookie token, CSRF token).
    pub async fn create_session(&self, vault_id: &str) -> Result<(String, String)> {
        let token = random_token();
        let csrf = random_token();
        let t = now();
        sqlx::query(
            "INSERT INTO portal_sessions (id_hash, vault_id, csrf, created_at, last_seen)
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(token_hash(&token))
        .bind(vault_id)
        .bind(&csrf)
        .bind(t)
        .bind(t)
        .execute(&self.pool)
        .await?;
        Ok((token, csrf))
    }

    /// The session a cookie token names.
    pub async fn session(&self, token: &str) -> Result<Option<PortalSession>> {
        if token.len() > 128 {
            return Ok(None);
        }
        Ok(sqlx::query_as::<_, PortalSession>(
            "SELECT vault_id, csrf, created_at, last_seen FROM portal_sessions WHERE id_hash = ?",
        )
        .bind(token_hash(token))
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Note activity (for the idle timeout).
    pub async fn touch_session(&self, token: &str) -> Result<()> {
        sqlx::query("UPDATE portal_sessions SET last_seen = ? WHERE id_hash = ?")
            .bind(now())
            .bind(token_hash(token))
            .execute(&self.lease_pool)
            .await?;
        Ok(())
    }

    /// End a session (log-out or timeout).
    pub async fn end_session(&self, token: &str) -> Result<()> {
        sqlx::query("DELETE FROM portal_sessions WHERE id_hash = ?")
            .bind(token_hash(token))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Remove sessions idle since before `idle_cutoff` or begun before `absolute_cutoff`.
    pub async fn expire_sessions(&self, idle_cutoff: i64, absolute_cutoff: i64) -> Result<u64> {
        Ok(
            sqlx::query("DELETE FROM portal_sessions WHERE last_seen < ? OR created_at < ?")
                .bind(idle_cutoff)
                .bind(absolute_cutoff)
                .execute(&self.pool)
                .await?
                .rows_affected(),
        )
    }

    /// The TOTP app a recipient registered.
    pub async fn totp(&self, address: &str) -> Result<Option<TotpRecord>> {
        Ok(sqlx::query_as::<_, TotpRecord>(
            "SELECT secret, wrapped, key_id, last_step FROM recipient_totp WHERE address = ?",
        )
        .bind(address)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Register (or replace) a recipient's TOTP app.
    pub async fn put_totp(
        &self,
        address: &str,
        sealed_secret: &[u8],
        wrapped_key: &[u8],
        key_id: &str,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO recipient_totp (address, secret, wrapped, key_id, last_step, created_at)
             VALUES (?, ?, ?, ?, 0, ?)
             ON CONFLICT(address) DO UPDATE SET secret = excluded.secret, wrapped = excluded.wrapped,
                 key_id = excluded.key_id, last_step = 0, created_at = excluded.created_at",
        )
        .bind(address)
        .bind(sealed_secret)
        .bind(wrapped_key)
        .bind(key_id)
        .bind(now())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Use up a TOTP time step: false when it (or a later one) was used already, so one
    /// code cannot be replayed.
    pub async fn use_totp_step(&self, address: &str, step: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE recipient_totp SET last_step = ? WHERE address = ? AND last_step < ?",
        )
        .bind(step)
        .bind(address)
        .bind(step)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// A contact's mobile number.
    pub async fn contact_phone(&self, address: &str) -> Result<Option<String>> {
        Ok(
            sqlx::query_scalar(
                "SELECT phone FROM contacts WHERE address = ? AND phone IS NOT NULL",
            )
            .bind(address)
            .fetch_optional(&self.pool)
            .await?,
        )
    }

    /// The number a sender last gave for this recipient (an SMS tag on an earlier
    /// message), so a conversation keeps its second factor.
    pub async fn known_phone(&self, address: &str) -> Result<Option<String>> {
        Ok(sqlx::query_scalar(
            "SELECT phone FROM vault WHERE recipient = ? COLLATE NOCASE AND phone IS NOT NULL
              ORDER BY created_at DESC LIMIT 1",
        )
        .bind(address)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Every contact: (address, name, phone), by address.
    pub async fn list_contacts(&self) -> Result<Vec<(String, Option<String>, Option<String>)>> {
        Ok(
            sqlx::query_as("SELECT address, name, phone FROM contacts ORDER BY address")
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// Add or update a contact.
    pub async fn put_contact(
        &self,
        address: &str,
        name: Option<&str>,
        phone: Option<&str>,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO contacts (address, name, phone, created_at) VALUES (?, ?, ?, ?)
             ON CONFLICT(address) DO UPDATE SET name = excluded.name, phone = excluded.phone",
        )
        .bind(address)
        .bind(name)
        .bind(phone)
        .bind(now())
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

/// One use of the secure contact form.
#[derive(Debug, Clone, FromRow)]
pub struct Intake {
    pub id: String,
    pub email: String,
    pub login: String,
    pub login_version: i64,
    pub session_hash: Option<String>,
    pub csrf: Option<String>,
    pub created_at: i64,
    pub verified_at: Option<i64>,
    pub submitted_at: Option<i64>,
}

impl Store {
    /// Begin a contact-form use for `email` with this login state; its id.
    pub async fn create_intake(&self, email: &str, login: &str) -> Result<String> {
        let mut raw = [0u8; 16];
        random(&mut raw);
        let id = hex(&raw);
        sqlx::query("INSERT INTO intake (id, email, login, created_at) VALUES (?, ?, ?, ?)")
            .bind(&id)
            .bind(email)
            .bind(login)
            .bind(now())
            .execute(&self.pool)
            .await?;
        Ok(id)
    }

    /// A contact-form use by id.
    pub async fn intake(&self, id: &str) -> Result<Option<Intake>> {
        if id.len() != 32 {
            return Ok(None);
        }
        Ok(sqlx::query_as::<_, Intake>(
            "SELECT id, email, login, login_version, session_hash, csrf, created_at, verified_at,
                    submitted_at FROM intake WHERE id = ?",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Store the login state if unchanged since `version` (see [`Store::save_login`]).
    pub async fn save_intake_login(&self, id: &str, login: &str, version: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE intake SET login = ?, login_version = login_version + 1
              WHERE id = ? AND login_version = ?",
        )
        .bind(login)
        .bind(id)
        .bind(version)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The address is verified: a browser session begins; (cookie token, CSRF token).
    pub async fn verify_intake(&self, id: &str) -> Result<(String, String)> {
        let token = random_token();
        let csrf = random_token();
        sqlx::query("UPDATE intake SET session_hash = ?, csrf = ?, verified_at = ? WHERE id = ?")
            .bind(token_hash(&token))
            .bind(&csrf)
            .bind(now())
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok((token, csrf))
    }

    /// Forget contact-form uses begun before `cutoff` (the patient's address and login
    /// state; what was sent lives on as a message). Returns how many went.
    pub async fn forget_intakes(&self, cutoff: i64) -> Result<u64> {
        Ok(sqlx::query("DELETE FROM intake WHERE created_at < ?")
            .bind(cutoff)
            .execute(&self.pool)
            .await?
            .rows_affected())
    }

    /// The message was sent: the form is used up.
    pub async fn intake_submitted(&self, id: &str, message_id: &str) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE intake SET submitted_at = ?, message_id = ?, session_hash = NULL
              WHERE id = ? AND submitted_at IS NULL",
        )
        .bind(now())
        .bind(message_id)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}

/// What offboarding did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Offboarded {
    /// Held messages of the leaver that were cancelled.
    pub cancelled: u64,
    /// Portal conversations (vault entries) now with the successor.
    pub handed_over: u64,
}

/// A message held by the double-check.
#[derive(Debug, Clone, FromRow)]
pub struct Held {
    pub id: String,
    pub mail_from: String,
    pub state: String,
    pub held_reasons: Option<String>,
    pub received_at: i64,
}

impl Store {
    /// Hold a message in processing until its sender decides; `token_hash` is the hash of
    /// the confirm link's token, `reasons` JSON.
    pub async fn hold_message(&self, id: &str, token_hash: &str, reasons: &str) -> Result<()> {
        sqlx::query(
            "UPDATE messages SET state = 'held', hold_token_hash = ?, held_reasons = ?,
                    lease_until = 0 WHERE id = ?",
        )
        .bind(token_hash)
        .bind(reasons)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The held message a confirm link names.
    pub async fn held_by_token(&self, token: &str) -> Result<Option<Held>> {
        if token.len() > 128 {
            return Ok(None);
        }
        Ok(sqlx::query_as::<_, Held>(
            "SELECT id, mail_from, state, held_reasons, received_at FROM messages
              WHERE hold_token_hash = ?",
        )
        .bind(token_hash(token))
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Messages held for `sender` (by account or sender address), oldest first.
    pub async fn held_by_sender(&self, sender: &str) -> Result<Vec<Held>> {
        Ok(sqlx::query_as::<_, Held>(
            "SELECT id, mail_from, state, held_reasons, received_at FROM messages
              WHERE state = 'held' AND (auth_user = ?1 COLLATE NOCASE OR mail_from = ?1 COLLATE NOCASE)
              ORDER BY received_at",
        )
        .bind(sender.trim())
        .fetch_all(&self.pool)
        .await?)
    }

    /// Undo a hold whose notice could not be sent: the message is processed again.
    pub async fn unhold(&self, id: &str) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE messages SET state = 'received', hold_token_hash = NULL, held_reasons = NULL
              WHERE id = ? AND state = 'held'",
        )
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The sender confirmed: process again, without a second hold. True if it was held.
    pub async fn release_held(&self, id: &str) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE messages SET state = 'received', confirmed = 1 WHERE id = ? AND state = 'held'",
        )
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The sender cancelled: nothing goes; the purge removes the content. True if it was
    /// held.
    pub async fn cancel_held(&self, id: &str) -> Result<bool> {
        let t = now();
        let mut tx = crate::write_tx(&self.pool).await?;
        let done = sqlx::query(
            "UPDATE messages SET state = 'processed', processed_at = ? WHERE id = ? AND state = 'held'",
        )
        .bind(t)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 1 {
            sqlx::query(
                "UPDATE recipients SET state = 'cancelled', done_at = ? WHERE message_id = ?",
            )
            .bind(t)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    /// Has the organisation written to `address` before (a contact, or a delivered or
    /// portal recipient)?
    pub async fn known_recipient(&self, address: &str) -> Result<bool> {
        let n: i64 = sqlx::query_scalar(
            "SELECT (SELECT COUNT(*) FROM contacts WHERE address = ?1)
                  + (SELECT COUNT(*) FROM recipients WHERE address = ?1 COLLATE NOCASE
                       AND state IN ('delivered', 'portal'))",
        )
        .bind(address)
        .fetch_one(&self.pool)
        .await?;
        Ok(n > 0)
    }

    /// The domains of the organisation's contacts.
    pub async fn contact_domains(&self) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT DISTINCT lower(substr(address, instr(address, '@') + 1)) FROM contacts
              WHERE instr(address, '@') > 0",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// Offboard `email`: its web sessions end, its held messages are cancelled, its portal
    /// conversations go to `successor` (replies, read receipts and lock notices reach them
    /// from now on), and mail to the address is answered per policy from now on. The
    /// account itself is disabled by [`Store::disable_user`].
    pub async fn offboard(&self, email: &str, successor: Option<&str>) -> Result<Offboarded> {
        let held: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM messages WHERE state = 'held' AND (mail_from = ?1 COLLATE NOCASE
                 OR auth_user = ?1 COLLATE NOCASE)",
        )
        .bind(email)
        .fetch_all(&self.pool)
        .await?;
        let mut out = Offboarded::default();
        self.mark_offboarded(email, successor).await?;
        for id in held {
            if self.cancel_held(&id).await? {
                out.cancelled += 1;
            }
        }
        if let Some(successor) = successor {
            out.handed_over = sqlx::query(
                "UPDATE vault SET sender = ? WHERE sender = ? COLLATE NOCASE AND shredded_at IS NULL",
            )
            .bind(successor)
            .bind(email)
            .execute(&self.pool)
            .await?
            .rows_affected();
        }
        Ok(out)
    }

    /// Remember a confirmed recipient (a phone already stored stays).
    pub async fn remember_contact(&self, address: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO contacts (address, created_at) VALUES (?, ?) ON CONFLICT(address) DO NOTHING",
        )
        .bind(address)
        .bind(now())
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
