//! Browser sessions: portal recipients' and staff members', in one table told apart by
//! their kind (idle and absolute limits, ended at logout and when an account ends), and
//! the state of a sign-in half-way (an OpenID Connect flow, a passkey ceremony). Tokens
//! are stored hashed; a token of one kind is never a session of the other.

use sqlx::FromRow;

use crate::vault::token_hash;
use crate::{Result, Store, random_token};

/// How far a staff sign-in got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "lowercase")]
pub enum Stage {
    /// The password is right; the second factor is next.
    Password,
    /// An OpenID Connect sign-in is under way (the provider has not answered yet).
    Oidc,
    /// Both factors done: signed in.
    Full,
}

/// A verified recipient's browser session.
#[derive(Debug, Clone, FromRow)]
pub struct PortalSession {
    pub vault_id: String,
    pub csrf: String,
    pub created_at: i64,
    pub last_seen: i64,
    /// How it was proven: `sms`, `email`, `access_code` or `totp` (`None`: unknown).
    pub factor: Option<String>,
}

/// A staff member's browser session.
#[derive(Debug, Clone, FromRow)]
pub struct StaffSession {
    pub email: String,
    /// `password` (second factor still to come) or `full`.
    pub stage: Stage,
    pub csrf: String,
    pub created_at: i64,
    pub last_seen: i64,
}

/// A session's cookie token and CSRF token (only the cookie token's hash is stored).
fn new_session_tokens() -> (String, String) {
    (random_token(), random_token())
}

/// Which browser sessions: portal recipients' or staff members' (one table, one way of
/// touching, ending and expiring them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "lowercase")]
pub enum SessionKind {
    Portal,
    Staff,
}

impl Store {
    /// Note activity (for the idle timeout). Without fsync: a lost touch only shortens
    /// an idle timeout.
    pub async fn touch_session(&self, kind: SessionKind, token: &str) -> Result<()> {
        crate::db::on!(&self.lease_pool, ex => sqlx::query(
            "UPDATE sessions SET last_seen = $1 WHERE id_hash = $2 AND kind = $3",
        )
            .bind(self.now())
            .bind(token_hash(token))
            .bind(kind)
            .execute(ex).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// End one session (logout, a timeout, or a staff sign-in's step from password to
    /// full: a new token then).
    pub async fn end_session(&self, kind: SessionKind, token: &str) -> Result<()> {
        crate::db::on!(&self.pool, ex => sqlx::query(
            "DELETE FROM sessions WHERE id_hash = $1 AND kind = $2",
        )
            .bind(token_hash(token))
            .bind(kind)
            .execute(ex).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Remove sessions idle since before `idle_cutoff` or begun before `absolute_cutoff`;
    /// how many.
    pub async fn expire_sessions(
        &self,
        kind: SessionKind,
        idle_cutoff: i64,
        absolute_cutoff: i64,
    ) -> Result<u64> {
        Ok(crate::db::on!(&self.pool, ex => sqlx::query(
            "DELETE FROM sessions WHERE kind = $3 AND (last_seen < $1 OR created_at < $2)",
        )
            .bind(idle_cutoff)
            .bind(absolute_cutoff)
            .bind(kind)
            .execute(ex).await.map(|r| r.rows_affected()))?)
    }

    /// A new browser session for a verified recipient: (cookie token, CSRF token).
    pub async fn create_session(&self, vault_id: &str, factor: &str) -> Result<(String, String)> {
        let (token, csrf) = new_session_tokens();
        let t = self.now();
        crate::db::on!(&self.pool, ex => sqlx::query(
            "INSERT INTO sessions (id_hash, kind, subject, stage, csrf, created_at, last_seen, factor)
             VALUES ($1, 'portal', $2, 'full', $3, $4, $5, $6)",
        )
        .bind(token_hash(&token))
        .bind(vault_id)
        .bind(&csrf)
        .bind(t)
        .bind(t)
        .bind(factor)
        .execute(ex).await.map(|r| r.rows_affected()))?;
        Ok((token, csrf))
    }

    /// The session a cookie token names.
    pub async fn session(&self, token: &str) -> Result<Option<PortalSession>> {
        if token.len() > 128 {
            return Ok(None);
        }
        Ok(
            crate::db::on!(&self.pool, ex => sqlx::query_as::<_, PortalSession>(
            "SELECT subject AS vault_id, csrf, created_at, last_seen, factor FROM sessions
              WHERE id_hash = $1 AND kind = 'portal'",
        )
        .bind(token_hash(token))
        .fetch_optional(ex).await)?,
        )
    }

    /// Start a session for `email` at `stage`; returns (cookie token, CSRF token).
    pub async fn create_staff_session(
        &self,
        email: &str,
        stage: Stage,
    ) -> Result<(String, String)> {
        let (token, csrf) = new_session_tokens();
        let t = self.now();
        crate::db::on!(&self.pool, ex => sqlx::query(
            "INSERT INTO sessions (id_hash, kind, subject, stage, csrf, created_at, last_seen)
             VALUES ($1, 'staff', $2, $3, $4, $5, $6)",
        )
        .bind(token_hash(&token))
        .bind(email.trim())
        .bind(stage)
        .bind(&csrf)
        .bind(t)
        .bind(t)
        .execute(ex).await.map(|r| r.rows_affected()))?;
        Ok((token, csrf))
    }

    /// The session a cookie names.
    pub async fn staff_session(&self, token: &str) -> Result<Option<StaffSession>> {
        if token.len() != 64 {
            return Ok(None);
        }
        Ok(
            crate::db::on!(&self.pool, ex => sqlx::query_as::<_, StaffSession>(
            "SELECT subject AS email, stage, csrf, created_at, last_seen FROM sessions
              WHERE id_hash = $1 AND kind = 'staff'",
        )
        .bind(token_hash(token))
        .fetch_optional(ex).await)?,
        )
    }

    /// End every session of `email`; how many.
    pub async fn end_staff_sessions(&self, email: &str) -> Result<u64> {
        Ok(crate::db::on!(&self.pool, ex => sqlx::query(
                "DELETE FROM sessions WHERE kind = 'staff' AND lower(subject) = lower($1)",
            )
            .bind(email.trim())
            .execute(ex).await.map(|r| r.rows_affected()))?)
    }

    /// An OpenID Connect sign-in begins: its nonce and PKCE verifier are kept under the
    /// `state` value (the provider's answer comes back without our cookies).
    pub async fn start_oidc_flow(&self, state: &str, flow: &str) -> Result<()> {
        let t = self.now();
        crate::db::on!(&self.pool, ex => sqlx::query(
            "INSERT INTO sessions (id_hash, kind, subject, stage, csrf, created_at, last_seen, ceremony)
             VALUES ($1, 'staff', '', 'oidc', $2, $3, $4, $5)",
        )
        .bind(token_hash(state))
        .bind(random_token())
        .bind(t)
        .bind(t)
        .bind(flow)
        .execute(ex).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Take an OpenID Connect sign-in begun less than `window` seconds ago (once).
    pub async fn take_oidc_flow(&self, state: &str, window: i64) -> Result<Option<String>> {
        if state.is_empty() || state.len() > 200 {
            return Ok(None);
        }
        let hash = token_hash(state);
        let mut tx = self.pool.write_tx().await?;
        let flow: Option<Option<String>> = crate::db::on_tx!(&mut tx, c => sqlx::query_scalar(
            "SELECT ceremony FROM sessions
              WHERE id_hash = $1 AND kind = 'staff' AND stage = 'oidc' AND created_at >= $2",
        )
        .bind(&hash)
        .bind(self.now() - window)
        .fetch_optional(&mut *c).await)?;
        let flow = flow.flatten();
        let taken = self.clear_ceremony(&mut tx, &hash, flow.as_deref()).await?;
        tx.commit().await?;
        Ok(flow.filter(|_| taken))
    }

    /// Keep the state of a passkey ceremony with a session.
    pub async fn set_ceremony(&self, token: &str, state: &str) -> Result<()> {
        crate::db::on!(&self.pool, ex => sqlx::query(
            "UPDATE sessions SET ceremony = $1 WHERE id_hash = $2 AND kind = 'staff'",
        )
            .bind(state)
            .bind(token_hash(token))
            .execute(ex).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Take (and clear) a session's ceremony state: each challenge is answered once.
    pub async fn take_ceremony(&self, token: &str) -> Result<Option<String>> {
        let hash = token_hash(token);
        let mut tx = self.pool.write_tx().await?;
        let state: Option<Option<String>> = crate::db::on_tx!(&mut tx, c => sqlx::query_scalar(
                "SELECT ceremony FROM sessions WHERE id_hash = $1 AND kind = 'staff'",
            )
                .bind(&hash)
                .fetch_optional(&mut *c).await)?;
        let state = state.flatten();
        let taken = self
            .clear_ceremony(&mut tx, &hash, state.as_deref())
            .await?;
        tx.commit().await?;
        Ok(state.filter(|_| taken))
    }

    /// Clear the ceremony `read` of session `hash`, if it is still the one there: false
    /// when another node took it first (PostgreSQL runs such transactions side by side).
    async fn clear_ceremony(
        &self,
        tx: &mut crate::db::Tx,
        hash: &str,
        read: Option<&str>,
    ) -> Result<bool> {
        let Some(read) = read else {
            return Ok(false);
        };
        let cleared = crate::db::on_tx!(tx, c => sqlx::query(
            "UPDATE sessions SET ceremony = NULL
              WHERE id_hash = $1 AND kind = 'staff' AND ceremony = $2",
        )
        .bind(hash)
        .bind(read)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
        Ok(cleared == 1)
    }
}
