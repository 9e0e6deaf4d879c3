//! Registered TOTP apps of portal recipients and staff, sealed by the master key, and the
//! last time step used (a code works once).

use sqlx::FromRow;

use crate::{Result, Store};

/// A registered TOTP app: the secret sealed by the master key.
#[derive(Debug, Clone, FromRow)]
pub struct TotpRecord {
    pub secret: Vec<u8>,
    pub wrapped: Vec<u8>,
    pub key_id: String,
    pub last_step: i64,
}

/// Whose TOTP app: a portal recipient's (by address) or a staff member's (by login).
/// One API for both; they are kept in two tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TotpHolder<'a> {
    Recipient(&'a str),
    Staff(&'a str),
}

impl TotpHolder<'_> {
    /// The address the app is registered for.
    pub fn address(&self) -> &str {
        match self {
            TotpHolder::Recipient(a) | TotpHolder::Staff(a) => a.trim(),
        }
    }

    /// The context the secret is sealed under (the master key binds it to the holder).
    pub fn seal_context(&self) -> String {
        match self {
            TotpHolder::Recipient(a) => format!("totp:{}", a.trim().to_lowercase()),
            TotpHolder::Staff(a) => format!("staff-totp:{}", a.trim().to_lowercase()),
        }
    }
}

impl Store {
    /// The registered app of `who`.
    pub async fn totp(&self, who: TotpHolder<'_>) -> Result<Option<TotpRecord>> {
        let sql = match who {
            TotpHolder::Recipient(_) => {
                "SELECT secret, wrapped, key_id, last_step FROM recipient_totp WHERE lower(address) = lower($1)"
            }
            TotpHolder::Staff(_) => {
                "SELECT totp_secret AS secret, totp_wrapped AS wrapped, totp_key_id AS key_id,
                        totp_last_step AS last_step
                   FROM users WHERE lower(email) = lower($1) AND totp_secret IS NOT NULL"
            }
        };
        Ok(
            crate::db::on!(&self.pool, ex => sqlx::query_as::<_, TotpRecord>(sql)
            .bind(who.address())
            .fetch_optional(ex).await)?,
        )
    }

    /// Use up a TOTP time step of `who`'s app: false when it (or a later one) was used
    /// already, so one code cannot be replayed.
    pub async fn use_totp_step(&self, who: TotpHolder<'_>, step: i64) -> Result<bool> {
        let sql = match who {
            TotpHolder::Recipient(_) => {
                "UPDATE recipient_totp SET last_step = $1 WHERE lower(address) = lower($2) AND last_step < $1"
            }
            TotpHolder::Staff(_) => {
                "UPDATE users SET totp_last_step = $1 WHERE lower(email) = lower($2) AND totp_last_step < $1"
            }
        };
        let done = crate::db::on!(&self.pool, ex => sqlx::query(sql)
            .bind(step)
            .bind(who.address())
            .execute(ex).await.map(|r| r.rows_affected()))?;
        Ok(done == 1)
    }

    /// Register an app for `who` (the secret sealed by the master key), its first code's
    /// step already used. A recipient's replaces an earlier one (the portal page asks for
    /// a session first); a staff member's is stored only when none is registered, so a
    /// stolen password cannot replace it. True if stored.
    pub async fn register_totp(
        &self,
        who: TotpHolder<'_>,
        sealed_secret: &[u8],
        wrapped_key: &[u8],
        key_id: &str,
        step: i64,
    ) -> Result<bool> {
        let sql = match who {
            TotpHolder::Recipient(_) => {
                "INSERT INTO recipient_totp (secret, wrapped, key_id, last_step, created_at, address)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT(address) DO UPDATE SET secret = excluded.secret,
                     wrapped = excluded.wrapped, key_id = excluded.key_id,
                     last_step = excluded.last_step, created_at = excluded.created_at"
            }
            TotpHolder::Staff(_) => {
                "UPDATE users SET totp_secret = $1, totp_wrapped = $2, totp_key_id = $3,
                        totp_last_step = $4
                  WHERE $5 IS NOT NULL AND lower(email) = lower($6) AND totp_secret IS NULL"
            }
        };
        let done = crate::db::on!(&self.pool, ex => sqlx::query(sql)
            .bind(sealed_secret)
            .bind(wrapped_key)
            .bind(key_id)
            .bind(step)
            .bind(self.now())
            // A recipient's row is keyed in lower case (see `contact_key`).
            .bind(who.address().to_ascii_lowercase())
            .execute(ex).await.map(|r| r.rows_affected()))?;
        Ok(done == 1)
    }

    /// Forget a staff member's TOTP app and passkeys (an admin does this for a lost
    /// phone); the next sign-in registers a new one. Sessions end.
    pub async fn reset_staff_totp(&self, email: &str) -> Result<bool> {
        let done = crate::db::on!(&self.pool, ex => sqlx::query(
            "UPDATE users SET totp_secret = NULL, totp_wrapped = NULL, totp_key_id = NULL,
                    totp_last_step = 0 WHERE lower(email) = lower($1)",
        )
        .bind(email.trim())
        .execute(ex).await.map(|r| r.rows_affected()))?;
        crate::db::on!(&self.pool, ex => sqlx::query("DELETE FROM staff_passkeys WHERE lower(email) = lower($1)")
            .bind(email.trim())
            .execute(ex).await.map(|r| r.rows_affected()))?;
        self.end_staff_sessions(email).await?;
        Ok(done == 1)
    }
}
