//! Staff members' passkeys (WebAuthn credentials) and their signature counters.

use crate::{Result, Store};

impl Store {
    /// A staff member's passkeys: (row id, JSON).
    pub async fn passkeys(&self, email: &str) -> Result<Vec<(i64, String)>> {
        Ok(
            sqlx::query_as("SELECT id, passkey FROM staff_passkeys WHERE email = ? ORDER BY id")
                .bind(email.trim())
                .fetch_all(&self.pool)
                .await?,
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
        let done = sqlx::query(
            "INSERT INTO staff_passkeys (email, cred_id, passkey, created_at)
             SELECT ?1, ?2, ?3, ?4 WHERE NOT EXISTS (SELECT 1 FROM staff_passkeys WHERE email = ?1)
                AND NOT EXISTS (SELECT 1 FROM users WHERE email = ?1 AND totp_secret IS NOT NULL)",
        )
        .bind(email.trim())
        .bind(cred_id)
        .bind(passkey)
        .bind(self.now())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Save a passkey after a sign-in (its signature counter moved).
    pub async fn passkey_used(&self, id: i64, passkey: &str) -> Result<()> {
        sqlx::query("UPDATE staff_passkeys SET passkey = ?, last_used = ? WHERE id = ?")
            .bind(passkey)
            .bind(self.now())
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
