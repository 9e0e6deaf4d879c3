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

impl Store {
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
        .bind(self.now())
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

    /// A staff member's TOTP app.
    pub async fn staff_totp(&self, email: &str) -> Result<Option<TotpRecord>> {
        Ok(sqlx::query_as::<_, TotpRecord>(
            "SELECT totp_secret AS secret, totp_wrapped AS wrapped, totp_key_id AS key_id,
                    totp_last_step AS last_step
               FROM users WHERE email = ? AND totp_secret IS NOT NULL",
        )
        .bind(email.trim())
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Register a staff member's TOTP app (sealed by the master key); only when none is
    /// registered, so a stolen password cannot replace it. True if stored.
    pub async fn put_staff_totp(
        &self,
        email: &str,
        sealed_secret: &[u8],
        wrapped_key: &[u8],
        key_id: &str,
        step: i64,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE users SET totp_secret = ?, totp_wrapped = ?, totp_key_id = ?, totp_last_step = ?
              WHERE email = ? AND totp_secret IS NULL",
        )
        .bind(sealed_secret)
        .bind(wrapped_key)
        .bind(key_id)
        .bind(step)
        .bind(email.trim())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Forget a staff member's TOTP app and passkeys (an admin does this for a lost
    /// phone); the next sign-in registers a new one. Sessions end.
    pub async fn reset_staff_totp(&self, email: &str) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE users SET totp_secret = NULL, totp_wrapped = NULL, totp_key_id = NULL,
                    totp_last_step = 0 WHERE email = ?",
        )
        .bind(email.trim())
        .execute(&self.pool)
        .await?;
        sqlx::query("DELETE FROM staff_passkeys WHERE email = ?")
            .bind(email.trim())
            .execute(&self.pool)
            .await?;
        self.end_staff_sessions(email).await?;
        Ok(done.rows_affected() == 1)
    }

    /// Use up a TOTP time step of a staff member's app (no replay).
    pub async fn use_staff_totp_step(&self, email: &str, step: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE users SET totp_last_step = ? WHERE email = ? AND totp_last_step < ?",
        )
        .bind(step)
        .bind(email.trim())
        .bind(step)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}
