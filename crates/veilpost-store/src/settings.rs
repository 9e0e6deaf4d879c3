//! Settings an admin changes on the web, one-time setup tokens (the first admin), and the
//! MTA-STS policy cache.

use crate::users::{UserError, check_new_account, hash_off_thread};
use crate::{Error, Result, Role, Store, random, sha256_hex};

/// How long (seconds) the policy settings are used before they are read again for the
/// hot path ([`Store::policy_setting`]; a change made through this store shows at once,
/// one made elsewhere within this).
pub const SETTINGS_READ_EVERY: i64 = 5;

/// How long a first-admin link works: one hour.
pub const FIRST_ADMIN_LINK_SECONDS: i64 = 3600;

/// The condition that makes a first-admin link usable: unused, less than an hour old
/// (`$2` is now), and no admin exists yet (`$1` is the link's hash).
const FIRST_ADMIN_LINK_OPEN: &str = "SELECT 1 FROM setup_tokens
     WHERE token_hash = $1 AND purpose = 'first-admin' AND used_at IS NULL
       AND created_at > $2 - 3600
       AND NOT EXISTS (SELECT 1 FROM users WHERE role = 'admin')";

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
    /// A new first-admin link (printed at start while no admin exists). The newest one
    /// replaces older ones; it works for [`FIRST_ADMIN_LINK_SECONDS`], once, and only
    /// while no admin exists.
    pub async fn first_admin_link(&self) -> Result<String> {
        let mut raw = [0u8; 32];
        random(&mut raw);
        let token = base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, raw);
        let t = self.now();
        let mut tx = self.pool.write_tx().await?;
        tx.serial(crate::db::Serial::Accounts).await?;
        crate::db::on_tx!(&mut tx, c => sqlx::query(
            "UPDATE setup_tokens SET used_at = $1 WHERE purpose = 'first-admin' AND used_at IS NULL",
        )
        .bind(t)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
        crate::db::on_tx!(&mut tx, c => sqlx::query(
            "INSERT INTO setup_tokens (token_hash, purpose, created_at) VALUES ($1, 'first-admin', $2)",
        )
        .bind(sha256_hex(token.as_bytes()))
        .bind(t)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
        tx.commit().await?;
        Ok(token)
    }

    /// Does this first-admin link still work?
    pub async fn first_admin_link_open(&self, token: &str) -> Result<bool> {
        Ok(
            crate::db::on!(&self.pool, ex => sqlx::query_scalar::<_, i32>(FIRST_ADMIN_LINK_OPEN)
            .bind(sha256_hex(token.as_bytes()))
            .bind(self.now())
            .fetch_optional(ex).await)?
            .is_some(),
        )
    }

    /// Create the first admin with this link: the link is checked and used and the
    /// account made in one transaction, so one link makes one admin however many submit
    /// it at once. [`UserError::LinkClosed`] when the link no longer works.
    pub async fn add_first_admin(
        &self,
        token: &str,
        email: &str,
        password: &str,
    ) -> Result<(), UserError> {
        let email = email.trim();
        check_new_account(email, password)?;
        let hash = hash_off_thread(password).await?;
        let t = self.now();
        let token_hash = sha256_hex(token.as_bytes());
        let mut tx = self.pool.write_tx().await.map_err(Error::from)?;
        // On PostgreSQL two nodes could both find no admin yet: one at a time.
        tx.serial(crate::db::Serial::Accounts)
            .await
            .map_err(Error::from)?;
        let open =
            crate::db::on_tx!(&mut tx, c => sqlx::query_scalar::<_, i32>(FIRST_ADMIN_LINK_OPEN)
            .bind(&token_hash)
            .bind(t)
            .fetch_optional(&mut *c).await)
            .map_err(Error::from)?
            .is_some();
        if !open {
            return Err(UserError::LinkClosed);
        }
        let added = crate::db::on_tx!(&mut tx, c => sqlx::query(
            "INSERT INTO users (email, password_hash, role, valid_until, created_at)
             VALUES ($1, $2, $3, NULL, $4) ON CONFLICT DO NOTHING",
        )
        .bind(email)
        .bind(hash)
        .bind(Role::Admin)
        .bind(t)
        .execute(&mut *c).await.map(|r| r.rows_affected()))
        .map_err(Error::from)?;
        if added != 1 {
            return Err(UserError::Exists(email.into()));
        }
        crate::db::on_tx!(&mut tx, c => sqlx::query("UPDATE setup_tokens SET used_at = $1 WHERE token_hash = $2")
            .bind(t)
            .bind(&token_hash)
            .execute(&mut *c).await.map(|r| r.rows_affected()))
            .map_err(Error::from)?;
        tx.commit().await.map_err(Error::from)?;
        self.audit("web", "admin.created", Some(email), None)
            .await?;
        Ok(())
    }

    /// A policy setting changed on the web (JSON), if any.
    pub async fn setting(&self, key: &str) -> Result<Option<String>> {
        Ok(
            crate::db::on!(&self.pool, ex => sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
                .bind(key)
                .fetch_optional(ex).await)?,
        )
    }

    /// A policy setting as the mail path reads it with every message (the double-check's
    /// rules): all settings read at most every
    /// [`SETTINGS_READ_EVERY`] seconds, and at once after a change made through this
    /// store. [`Store::setting`] always reads the database.
    pub async fn policy_setting(&self, key: &str) -> Result<Option<String>> {
        let now = self.now();
        let all = match self.settings.fresh(now) {
            Some(all) => all,
            None => {
                let rows: Vec<(String, String)> = crate::db::on!(&self.pool, ex => sqlx::query_as("SELECT key, value FROM settings")
                    .fetch_all(ex).await)?;
                let all = std::sync::Arc::new(rows.into_iter().collect());
                self.settings.keep(now, std::sync::Arc::clone(&all));
                all
            }
        };
        Ok(all.get(key).cloned())
    }

    /// Change a policy setting (JSON); `by` is the admin, for the record.
    pub async fn put_setting(&self, key: &str, value: &str, by: &str) -> Result<()> {
        crate::db::on!(&self.pool, ex => sqlx::query(
            "INSERT INTO settings (key, value, updated_at, updated_by) VALUES ($1, $2, $3, $4)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at,
                 updated_by = excluded.updated_by",
        )
        .bind(key)
        .bind(value)
        .bind(self.now())
        .bind(by)
        .execute(ex).await.map(|r| r.rows_affected()))?;
        self.settings.forget();
        Ok(())
    }

    /// The cached MTA-STS policy of `domain`.
    pub async fn mta_sts_get(&self, domain: &str) -> Result<Option<CachedStsPolicy>> {
        let row: Option<(String, String, String, i64, i64)> = crate::db::on!(&self.pool, ex => sqlx::query_as(
            "SELECT id, mode, mx, max_age, fetched_at FROM mta_sts WHERE domain = $1",
        )
        .bind(domain)
        .fetch_optional(ex).await)?;
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
        crate::db::on!(&self.pool, ex => sqlx::query(
            "INSERT INTO mta_sts (domain, id, mode, mx, max_age, fetched_at) VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT(domain) DO UPDATE SET id = excluded.id, mode = excluded.mode, mx = excluded.mx,
                 max_age = excluded.max_age, fetched_at = excluded.fetched_at",
        )
        .bind(domain)
        .bind(&p.id)
        .bind(&p.mode)
        .bind(serde_json::to_string(&p.mx).unwrap_or_default())
        .bind(p.max_age)
        .bind(p.fetched_at)
        .execute(ex).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Forget `domain`'s MTA-STS policy.
    pub async fn mta_sts_delete(&self, domain: &str) -> Result<()> {
        crate::db::on!(&self.pool, ex => sqlx::query("DELETE FROM mta_sts WHERE domain = $1")
            .bind(domain)
            .execute(ex).await.map(|r| r.rows_affected()))?;
        Ok(())
    }
}
