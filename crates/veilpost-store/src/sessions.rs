//! Browser sessions: portal recipients' and staff members' (idle and absolute limits,
//! ended at logout and when an account ends), and the state of a sign-in half-way (an
//! OpenID Connect flow, a passkey ceremony). Tokens are stored hashed.

use sqlx::FromRow;

use crate::vault::token_hash;
use crate::{Result, Store, random_token};

/// How far a staff sign-in got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(rename_all = "lowercase")]
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

/// Which browser sessions: portal recipients' or staff members' (two tables, one way of
/// touching, ending and expiring them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionKind {
    Portal,
    Staff,
}

impl Store {
    /// Note activity (for the idle timeout). Without fsync: a lost touch only shortens
    /// an idle timeout.
    pub async fn touch_session(&self, kind: SessionKind, token: &str) -> Result<()> {
        let sql = match kind {
            SessionKind::Portal => "UPDATE portal_sessions SET last_seen = ? WHERE id_hash = ?",
            SessionKind::Staff => "UPDATE staff_sessions SET last_seen = ? WHERE id_hash = ?",
        };
        sqlx::query(sql)
            .bind(self.now())
            .bind(token_hash(token))
            .execute(&self.lease_pool)
            .await?;
        Ok(())
    }

    /// End one session (logout, a timeout, or a staff sign-in's step from password to
    /// full: a new token then).
    pub async fn end_session(&self, kind: SessionKind, token: &str) -> Result<()> {
        let sql = match kind {
            SessionKind::Portal => "DELETE FROM portal_sessions WHERE id_hash = ?",
            SessionKind::Staff => "DELETE FROM staff_sessions WHERE id_hash = ?",
        };
        sqlx::query(sql)
            .bind(token_hash(token))
            .execute(&self.pool)
            .await?;
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
        let sql = match kind {
            SessionKind::Portal => {
                "DELETE FROM portal_sessions WHERE last_seen < ? OR created_at < ?"
            }
            SessionKind::Staff => {
                "DELETE FROM staff_sessions WHERE last_seen < ? OR created_at < ?"
            }
        };
        Ok(sqlx::query(sql)
            .bind(idle_cutoff)
            .bind(absolute_cutoff)
            .execute(&self.pool)
            .await?
            .rows_affected())
    }

    /// A new browser session for a verified recipient: (cookie token, CSRF token).
    pub async fn create_session(&self, vault_id: &str, factor: &str) -> Result<(String, String)> {
        let (token, csrf) = new_session_tokens();
        let t = self.now();
        sqlx::query(
            "INSERT INTO portal_sessions (id_hash, vault_id, csrf, created_at, last_seen, factor)
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(token_hash(&token))
        .bind(vault_id)
        .bind(&csrf)
        .bind(t)
        .bind(t)
        .bind(factor)
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
            "SELECT vault_id, csrf, created_at, last_seen, factor FROM portal_sessions
              WHERE id_hash = ?",
        )
        .bind(token_hash(token))
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Start a session for `email` at `stage`; returns (cookie token, CSRF token).
    pub async fn create_staff_session(
        &self,
        email: &str,
        stage: Stage,
    ) -> Result<(String, String)> {
        let (token, csrf) = new_session_tokens();
        let t = self.now();
        sqlx::query(
            "INSERT INTO staff_sessions (id_hash, email, stage, csrf, created_at, last_seen)
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(token_hash(&token))
        .bind(email.trim())
        .bind(stage)
        .bind(&csrf)
        .bind(t)
        .bind(t)
        .execute(&self.pool)
        .await?;
        Ok((token, csrf))
    }

    /// The session a cookie names.
    pub async fn staff_session(&self, token: &str) -> Result<Option<StaffSession>> {
        if token.len() != 64 {
            return Ok(None);
        }
        Ok(sqlx::query_as::<_, StaffSession>(
            "SELECT email, stage, csrf, created_at, last_seen FROM staff_sessions WHERE id_hash = ?",
        )
        .bind(token_hash(token))
        .fetch_optional(&self.pool)
        .await?)
    }

    /// End every session of `email`; how many.
    pub async fn end_staff_sessions(&self, email: &str) -> Result<u64> {
        Ok(sqlx::query("DELETE FROM staff_sessions WHERE email = ?")
            .bind(email.trim())
            .execute(&self.pool)
            .await?
            .rows_affected())
    }

    /// An OpenID Connect sign-in begins: its nonce and PKCE verifier are kept under the
    /// `state` value (the provider's answer comes back without our cookies).
    pub async fn start_oidc_flow(&self, state: &str, flow: &str) -> Result<()> {
        let t = self.now();
        sqlx::query(
            "INSERT INTO staff_sessions (id_hash, email, stage, csrf, created_at, last_seen, ceremony)
             VALUES (?, '', 'oidc', ?, ?, ?, ?)",
        )
        .bind(token_hash(state))
        .bind(random_token())
        .bind(t)
        .bind(t)
        .bind(flow)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Take an OpenID Connect sign-in begun less than `window` seconds ago (once).
    pub async fn take_oidc_flow(&self, state: &str, window: i64) -> Result<Option<String>> {
        if state.is_empty() || state.len() > 200 {
            return Ok(None);
        }
        let hash = token_hash(state);
        let mut tx = crate::write_tx(&self.pool).await?;
        let flow: Option<Option<String>> = sqlx::query_scalar(
            "SELECT ceremony FROM staff_sessions WHERE id_hash = ? AND stage = 'oidc' AND created_at >= ?",
        )
        .bind(&hash)
        .bind(self.now() - window)
        .fetch_optional(&mut *tx)
        .await?;
        sqlx::query("UPDATE staff_sessions SET ceremony = NULL WHERE id_hash = ?")
            .bind(&hash)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(flow.flatten())
    }

    /// Keep the state of a passkey ceremony with a session.
    pub async fn set_ceremony(&self, token: &str, state: &str) -> Result<()> {
        sqlx::query("UPDATE staff_sessions SET ceremony = ? WHERE id_hash = ?")
            .bind(state)
            .bind(token_hash(token))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Take (and clear) a session's ceremony state: each challenge is answered once.
    pub async fn take_ceremony(&self, token: &str) -> Result<Option<String>> {
        let hash = token_hash(token);
        let mut tx = crate::write_tx(&self.pool).await?;
        let state: Option<Option<String>> =
            sqlx::query_scalar("SELECT ceremony FROM staff_sessions WHERE id_hash = ?")
                .bind(&hash)
                .fetch_optional(&mut *tx)
                .await?;
        sqlx::query("UPDATE staff_sessions SET ceremony = NULL WHERE id_hash = ?")
            .bind(&hash)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(state.flatten())
    }
}
