//! Staff members' passkeys (WebAuthn credentials) and their signature counters.

use crate::{Result, Store};

impl Store {
    /// A staff member's passkeys: (row id, JSON).
    pub async fn passkeys(&self, email: &str) -> Result<Vec<(i64, String)>> {
        Ok(
            crate::db::on!(&self.pool, ex => sqlx::query_as("SELECT id, passkey FROM staff_passkeys WHERE lower(email) = lower($1) ORDER BY id")
                .bind(email.trim())
                .fetch_all(ex).await)?,
        )
    }

    /// Register a passkey; only while the account has no second factor yet (the first
    /// sign-in), so a stolen password cannot add one. True if stored.
    pub async fn add_first_passkey(
        &self,
        email: &str,
        cred_id: &str,
        passkey: &str,
    ) -> Result<bool> {
        let done = crate::db::on!(&self.pool, ex => sqlx::query(
            "INSERT INTO staff_passkeys (email, cred_id, passkey, created_at)
             SELECT $1, $2, $3, $4 WHERE NOT EXISTS (SELECT 1 FROM staff_passkeys WHERE lower(email) = lower($1))
                AND NOT EXISTS (SELECT 1 FROM users WHERE lower(email) = lower($1) AND totp_secret IS NOT NULL)",
        )
        .bind(email.trim())
        .bind(cred_id)
        .bind(passkey)
        .bind(self.now())
        .execute(ex).await.map(|r| r.rows_affected()))?;
        Ok(done == 1)
    }

    /// Save a passkey after a sign-in (its signature counter moved).
    pub async fn passkey_used(&self, id: i64, passkey: &str) -> Result<()> {
        crate::db::on!(&self.pool, ex => sqlx::query("UPDATE staff_passkeys SET passkey = $1, last_used = $2 WHERE id = $3")
            .bind(passkey)
            .bind(self.now())
            .bind(id)
            .execute(ex).await.map(|r| r.rows_affected()))?;
        Ok(())
    }
}
