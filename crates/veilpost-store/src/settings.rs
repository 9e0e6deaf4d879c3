//! Settings an admin changes on the web, one-time setup tokens (the first admin), and the
//! MTA-STS policy cache.

use crate::{Result, Store, random, sha256_hex};

/// A cached MTA-STS policy (RFC 8461 §5: kept across restarts, used until `max_age`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedStsPolicy {
    pub id: String,
    pub mode: String,
    pub mx: Vec<String>,
    pub max_age: i64,
    pub fetched_at: i64,
}

impl Store {
    /// Make a one-time token for `purpose` (the first admin login); returns the token.
    pub async fn setup_token(&self, purpose: &str) -> Result<String> {
        let mut raw = [0u8; 32];
        random(&mut raw);
        let token = base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, raw);
        sqlx::query("INSERT INTO setup_tokens (token_hash, purpose, created_at) VALUES (?, ?, ?)")
            .bind(sha256_hex(token.as_bytes()))
            .bind(purpose)
            .bind(self.now())
            .execute(&self.pool)
            .await?;
        Ok(token)
    }

    /// Is `token` an unused setup token for `purpose`?
    pub async fn setup_token_valid(&self, purpose: &str, token: &str) -> Result<bool> {
        let row: Option<(i64,)> = sqlx::query_as(
            "SELECT 1 FROM setup_tokens WHERE token_hash = ? AND purpose = ? AND used_at IS NULL",
        )
        .bind(sha256_hex(token.as_bytes()))
        .bind(purpose)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.is_some())
    }

    /// Use up a setup token; false when it was not valid.
    pub async fn use_setup_token(&self, purpose: &str, token: &str) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE setup_tokens SET used_at = ? WHERE token_hash = ? AND purpose = ? AND used_at IS NULL",
        )
        .bind(self.now())
        .bind(sha256_hex(token.as_bytes()))
        .bind(purpose)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// A policy setting changed on the web (JSON), if any.
    pub async fn setting(&self, key: &str) -> Result<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT value FROM settings WHERE key = ?")
                .bind(key)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// Change a policy setting (JSON); `by` is the admin, for the record.
    pub async fn put_setting(&self, key: &str, value: &str, by: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO settings (key, value, updated_at, updated_by) VALUES (?, ?, ?, ?)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at,
                 updated_by = excluded.updated_by",
        )
        .bind(key)
        .bind(value)
        .bind(self.now())
        .bind(by)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The cached MTA-STS policy of `domain`.
    pub async fn mta_sts_get(&self, domain: &str) -> Result<Option<CachedStsPolicy>> {
        let row: Option<(String, String, String, i64, i64)> = sqlx::query_as(
            "SELECT id, mode, mx, max_age, fetched_at FROM mta_sts WHERE domain = ?",
        )
        .bind(domain)
        .fetch_optional(&self.pool)
        .await?;
        Ok(
            row.map(|(id, mode, mx, max_age, fetched_at)| CachedStsPolicy {
                id,
                mode,
                mx: serde_json::from_str(&mx).unwrap_or_default(),
                max_age,
                fetched_at,
            }),
        )
    }

    /// Remember `domain`'s MTA-STS policy.
    pub async fn mta_sts_put(&self, domain: &str, p: &CachedStsPolicy) -> Result<()> {
        sqlx::query(
            "INSERT INTO mta_sts (domain, id, mode, mx, max_age, fetched_at) VALUES (?, ?, ?, ?, ?, ?)
             ON CONFLICT(domain) DO UPDATE SET id = excluded.id, mode = excluded.mode, mx = excluded.mx,
                 max_age = excluded.max_age, fetched_at = excluded.fetched_at",
        )
        .bind(domain)
        .bind(&p.id)
        .bind(&p.mode)
        .bind(serde_json::to_string(&p.mx).unwrap_or_default())
        .bind(p.max_age)
        .bind(p.fetched_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Forget `domain`'s MTA-STS policy.
    pub async fn mta_sts_delete(&self, domain: &str) -> Result<()> {
        sqlx::query("DELETE FROM mta_sts WHERE domain = ?")
            .bind(domain)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
