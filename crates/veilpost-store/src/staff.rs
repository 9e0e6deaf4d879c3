//! Staff on the web: account changes, the second factor, browser sessions, end dates that
//! pass while the server runs, leavers' addresses, and what the admin pages read (audit
//! log with filters, the queue, message traces, sent secure messages, partner domains).

use sqlx::{AssertSqlSafe, FromRow, QueryBuilder, Sqlite};
use time::Date;

use crate::portal::PortalEntry;
use crate::users::{ROLES, USER_COLUMNS, User, UserError, hash_password};
use crate::vault::token_hash;
use crate::{Error, Result, Store, TotpRecord, hex, now, random};

/// A change to an account from the admin pages.
#[derive(Debug, Clone, Default)]
pub struct UserUpdate {
    pub name: Option<String>,
    pub role: String,
    pub valid_until: Option<Date>,
    pub scopes: Vec<String>,
}

/// A staff member's browser session.
#[derive(Debug, Clone, FromRow)]
pub struct StaffSession {
    pub email: String,
    /// `password` (second factor still to come) or `full`.
    pub stage: String,
    pub csrf: String,
    pub created_at: i64,
    pub last_seen: i64,
}

/// One audit log entry.
#[derive(Debug, Clone, FromRow, serde::Serialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub subject: Option<String>,
    pub detail: Option<String>,
    pub ip: Option<String>,
    pub outcome: Option<String>,
}

/// What the audit log page filters on (all optional; text matches are substrings).
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub subject: Option<String>,
    /// Unix times, inclusive from, exclusive to.
    pub from: Option<i64>,
    pub to: Option<i64>,
}

/// One recipient in the delivery queue.
#[derive(Debug, Clone, FromRow, serde::Serialize)]
pub struct QueueRow {
    pub id: i64,
    pub message_id: String,
    pub mail_from: String,
    pub address: String,
    pub route: Option<String>,
    pub state: String,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub last_error: Option<String>,
    pub received_at: i64,
}

/// A message as the trace shows it (the envelope and the verdict; never the content).
#[derive(Debug, Clone, FromRow, serde::Serialize)]
pub struct MessageInfo {
    pub id: String,
    pub received_at: i64,
    pub origin: String,
    pub mail_from: String,
    pub auth_user: Option<String>,
    pub client_ip: Option<String>,
    pub size: i64,
    pub state: String,
    pub verdict: Option<String>,
    pub findings: Option<String>,
    pub held_reasons: Option<String>,
    pub processed_at: Option<i64>,
}

/// Why an offboarding could not be done.
#[derive(Debug, thiserror::Error)]
pub enum OffboardError {
    #[error("no account {0}")]
    NoAccount(String),
    #[error("the successor {0} has no active account")]
    BadSuccessor(String),
    #[error(transparent)]
    Store(#[from] Error),
}

fn random_token() -> String {
    let mut raw = [0u8; 32];
    random(&mut raw);
    hex(&raw)
}

/// Like `%text%` for LIKE, with the wildcards in `text` taken literally.
fn like(text: &str) -> String {
    let escaped = text
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

impl Store {
    /// Change an account's name, role, end date and scopes.
    pub async fn update_user(&self, email: &str, u: &UserUpdate) -> Result<bool, UserError> {
        if !ROLES.contains(&u.role.as_str()) {
            return Err(UserError::BadRole(u.role.clone()));
        }
        let scopes: Vec<String> = u
            .scopes
            .iter()
            .map(|s| s.trim().to_ascii_lowercase())
            .filter(|s| !s.is_empty())
            .collect();
        if let Some(bad) = scopes.iter().find(|s| !crate::users::valid_email(s)) {
            return Err(UserError::BadEmail(bad.clone()));
        }
        let done = sqlx::query(
            "UPDATE users SET name = ?, role = ?, valid_until = ?, scopes = ?, expired_at = NULL
              WHERE email = ?",
        )
        .bind(u.name.as_deref().map(str::trim).filter(|n| !n.is_empty()))
        .bind(&u.role)
        .bind(u.valid_until.map(|d| d.to_string()))
        .bind(serde_json::to_string(&scopes).unwrap_or_else(|_| "[]".into()))
        .bind(email.trim())
        .execute(&self.pool)
        .await
        .map_err(Error::from)?;
        Ok(done.rows_affected() == 1)
    }

    /// Set a new password (Argon2id).
    pub async fn set_password(&self, email: &str, password: &str) -> Result<bool, UserError> {
        if password.chars().count() < 12 {
            return Err(UserError::ShortPassword);
        }
        let pw = password.to_string();
        let hash = tokio::task::spawn_blocking(move || hash_password(&pw))
            .await
            .map_err(|e| Error::Crypto(e.to_string()))??;
        let done = sqlx::query("UPDATE users SET password_hash = ? WHERE email = ?")
            .bind(hash)
            .bind(email.trim())
            .execute(&self.pool)
            .await
            .map_err(Error::from)?;
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
        .bind(now())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Save a passkey after a sign-in (its signature counter moved).
    pub async fn passkey_used(&self, id: i64, passkey: &str) -> Result<()> {
        sqlx::query("UPDATE staff_passkeys SET passkey = ?, last_used = ? WHERE id = ?")
            .bind(passkey)
            .bind(now())
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
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
        .bind(now())
        .bind(by)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// An OpenID Connect sign-in begins: its nonce and PKCE verifier are kept under the
    /// `state` value (the provider's answer comes back without our cookies).
    pub async fn start_oidc_flow(&self, state: &str, flow: &str) -> Result<()> {
        let t = now();
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
        .bind(now() - window)
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

    /// Start a session for `email` at `stage`; returns (cookie token, CSRF token).
    pub async fn create_staff_session(&self, email: &str, stage: &str) -> Result<(String, String)> {
        let token = random_token();
        let csrf = random_token();
        let t = now();
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

    /// Note activity (for the idle timeout).
    pub async fn touch_staff_session(&self, token: &str) -> Result<()> {
        // Without fsync, like the portal's: a lost touch only shortens an idle timeout.
        sqlx::query("UPDATE staff_sessions SET last_seen = ? WHERE id_hash = ?")
            .bind(now())
            .bind(token_hash(token))
            .execute(&self.lease_pool)
            .await?;
        Ok(())
    }

    /// End one session (logout, or the step from password to full: a new token then).
    pub async fn end_staff_session(&self, token: &str) -> Result<()> {
        sqlx::query("DELETE FROM staff_sessions WHERE id_hash = ?")
            .bind(token_hash(token))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// End every session of `email`; how many.
    pub async fn end_staff_sessions(&self, email: &str) -> Result<u64> {
        Ok(sqlx::query("DELETE FROM staff_sessions WHERE email = ?")
            .bind(email.trim())
            .execute(&self.pool)
            .await?
            .rows_affected())
    }

    /// End sessions idle since `idle_cutoff` or begun before `absolute_cutoff`.
    pub async fn expire_staff_sessions(
        &self,
        idle_cutoff: i64,
        absolute_cutoff: i64,
    ) -> Result<u64> {
        Ok(
            sqlx::query("DELETE FROM staff_sessions WHERE last_seen < ? OR created_at < ?")
                .bind(idle_cutoff)
                .bind(absolute_cutoff)
                .execute(&self.pool)
                .await?
                .rows_affected(),
        )
    }

    /// Accounts whose end date passed before `today` (sign-in is refused from then on by
    /// [`User::active_on`]): their sessions end, and each is returned once (for the audit
    /// log).
    pub async fn expire_accounts(&self, today: Date) -> Result<Vec<String>> {
        let candidates: Vec<(String, String)> = sqlx::query_as(
            "SELECT email, valid_until FROM users WHERE expired_at IS NULL AND valid_until IS NOT NULL",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::new();
        for (email, until) in candidates {
            if crate::users::parse_date(&until).is_some_and(|d| d < today) {
                sqlx::query(
                    "UPDATE users SET expired_at = ? WHERE email = ? AND expired_at IS NULL",
                )
                .bind(now())
                .bind(&email)
                .execute(&self.pool)
                .await?;
                self.end_staff_sessions(&email).await?;
                out.push(email);
            }
        }
        Ok(out)
    }

    /// Offboard a leaver in one step: the account is disabled (web sign-in and SMTP AUTH
    /// refused from now on), sessions end, held messages are cancelled, portal
    /// conversations go to `successor`, mail to the address is answered per policy; one
    /// audit entry by `actor` says what was done.
    pub async fn offboard_user(
        &self,
        actor: &str,
        email: &str,
        successor: Option<&str>,
    ) -> Result<crate::Offboarded, OffboardError> {
        let email = email.trim();
        let successor = successor.map(str::trim).filter(|s| !s.is_empty());
        if let Some(s) = successor {
            let today = time::OffsetDateTime::now_utc().date();
            if s.eq_ignore_ascii_case(email)
                || self
                    .user(s)
                    .await?
                    .is_none_or(|u| !u.active_on(today) || u.offboarded_at.is_some())
            {
                return Err(OffboardError::BadSuccessor(s.to_string()));
            }
        }
        if self.user(email).await?.is_none() {
            return Err(OffboardError::NoAccount(email.to_string()));
        }
        self.disable_user_as(actor, email).await?;
        let done = self.offboard(email, successor).await?;
        let detail = format!(
            "successor {}; {} held messages cancelled; {} portal conversations handed over",
            successor.unwrap_or("-"),
            done.cancelled,
            done.handed_over
        );
        self.audit(actor, "user.offboard", Some(email), Some(&detail))
            .await?;
        Ok(done)
    }

    /// Record a leaver: from now on mail to `email` is answered per policy, naming the
    /// successor if there is one. Their sessions end.
    pub async fn mark_offboarded(&self, email: &str, successor: Option<&str>) -> Result<()> {
        sqlx::query(
            "UPDATE users SET successor = ?, offboarded_at = COALESCE(offboarded_at, ?) WHERE email = ?",
        )
        .bind(successor.map(str::trim))
        .bind(now())
        .bind(email.trim())
        .execute(&self.pool)
        .await?;
        self.end_staff_sessions(email).await?;
        Ok(())
    }

    /// If `address` belongs to someone who left: Some(their successor, if any).
    pub async fn leaver(&self, address: &str) -> Result<Option<Option<String>>> {
        let row: Option<(Option<String>,)> = sqlx::query_as(
            "SELECT successor FROM users WHERE email = ? AND offboarded_at IS NOT NULL",
        )
        .bind(address.trim())
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|(s,)| s))
    }

    /// Accounts with the given role.
    pub async fn users_with_role(&self, role: &str) -> Result<Vec<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE role = ? ORDER BY email");
        Ok(sqlx::query_as::<_, User>(AssertSqlSafe(sql))
            .bind(role)
            .fetch_all(&self.pool)
            .await?)
    }

    /// Audit entries matching `f`, newest first (`limit` from `offset`).
    pub async fn audit_query(
        &self,
        f: &AuditFilter,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<AuditEntry>> {
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
            "SELECT id, at, actor, action, subject, detail, ip, outcome FROM audit WHERE 1 = 1",
        );
        for (column, value) in [
            ("actor", &f.actor),
            ("action", &f.action),
            ("subject", &f.subject),
        ] {
            if let Some(v) = value.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
                q.push(format_args!(" AND {column} LIKE "));
                q.push_bind(like(v));
                q.push(" ESCAPE '\\'");
            }
        }
        if let Some(from) = f.from {
            q.push(" AND at >= ").push_bind(from);
        }
        if let Some(to) = f.to {
            q.push(" AND at < ").push_bind(to);
        }
        q.push(" ORDER BY id DESC LIMIT ")
            .push_bind(limit)
            .push(" OFFSET ")
            .push_bind(offset);
        Ok(q.build_query_as::<AuditEntry>()
            .fetch_all(&self.pool)
            .await?)
    }

    /// Recipients waiting for delivery or failed, newest first.
    pub async fn queue_list(&self, limit: i64) -> Result<Vec<QueueRow>> {
        Ok(sqlx::query_as::<_, QueueRow>(
            "SELECT r.id, r.message_id, m.mail_from, r.address, r.route, r.state, r.attempts,
                    r.next_attempt_at, r.last_error, m.received_at
               FROM recipients r JOIN messages m ON m.id = r.message_id
              WHERE r.state IN ('queued', 'failed')
              ORDER BY r.id DESC LIMIT ?",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Try a waiting recipient again now. True if it was waiting. (A failed one cannot be
    /// retried: its content is purged once every recipient is done.)
    pub async fn queue_retry(&self, recipient_id: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE recipients SET next_attempt_at = 0 WHERE id = ? AND state = 'queued'",
        )
        .bind(recipient_id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Stop delivering to a queued recipient. True if it was queued.
    pub async fn queue_cancel(&self, recipient_id: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE recipients SET state = 'cancelled', done_at = ? WHERE id = ? AND state = 'queued'",
        )
        .bind(now())
        .bind(recipient_id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// A message's envelope and verdict, for the trace.
    pub async fn message_info(&self, id: &str) -> Result<Option<MessageInfo>> {
        if id.len() > 128 {
            return Ok(None);
        }
        Ok(sqlx::query_as::<_, MessageInfo>(
            "SELECT id, received_at, origin, mail_from, auth_user, client_ip, size, state, verdict,
                    findings, held_reasons, processed_at FROM messages WHERE id = ?",
        )
        .bind(id.trim())
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Messages by a sender address (or account), newest first: for the trace's search.
    pub async fn messages_from(&self, sender: &str, limit: i64) -> Result<Vec<MessageInfo>> {
        Ok(sqlx::query_as::<_, MessageInfo>(
            "SELECT id, received_at, origin, mail_from, auth_user, client_ip, size, state, verdict,
                    findings, held_reasons, processed_at FROM messages
              WHERE mail_from = ?1 COLLATE NOCASE OR auth_user = ?1 COLLATE NOCASE
              ORDER BY received_at DESC LIMIT ?2",
        )
        .bind(sender.trim())
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Secure messages (vault entries) `sender` sent, newest first.
    pub async fn sent_by(&self, sender: &str, limit: i64) -> Result<Vec<PortalEntry>> {
        let sql = format!(
            "SELECT {} FROM vault WHERE sender = ? COLLATE NOCASE ORDER BY created_at DESC LIMIT ?",
            crate::portal::COLUMNS
        );
        Ok(sqlx::query_as::<_, PortalEntry>(AssertSqlSafe(sql))
            .bind(sender.trim())
            .bind(limit)
            .fetch_all(&self.pool)
            .await?)
    }

    /// Remove a contact. True if there was one.
    pub async fn delete_contact(&self, address: &str) -> Result<bool> {
        Ok(sqlx::query("DELETE FROM contacts WHERE address = ?")
            .bind(address.trim())
            .execute(&self.pool)
            .await?
            .rows_affected()
            == 1)
    }

    /// Partner domains from the address book: (domain, tls, note).
    pub async fn partner_domains(&self) -> Result<Vec<(String, String, Option<String>)>> {
        Ok(
            sqlx::query_as("SELECT domain, tls, note FROM partner_domains ORDER BY domain")
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// Is `domain` a partner domain in the address book?
    pub async fn is_partner_domain(&self, domain: &str) -> Result<bool> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM partner_domains WHERE domain = ?")
            .bind(domain.trim().trim_end_matches('.'))
            .fetch_one(&self.pool)
            .await?;
        Ok(n > 0)
    }

    /// Add or change a partner domain.
    pub async fn put_partner_domain(
        &self,
        domain: &str,
        tls: &str,
        note: Option<&str>,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO partner_domains (domain, tls, note, created_at) VALUES (?, ?, ?, ?)
             ON CONFLICT(domain) DO UPDATE SET tls = excluded.tls, note = excluded.note",
        )
        .bind(domain.trim().trim_end_matches('.').to_ascii_lowercase())
        .bind(tls)
        .bind(note)
        .bind(now())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Remove a partner domain. True if there was one.
    pub async fn delete_partner_domain(&self, domain: &str) -> Result<bool> {
        Ok(sqlx::query("DELETE FROM partner_domains WHERE domain = ?")
            .bind(domain.trim())
            .execute(&self.pool)
            .await?
            .rows_affected()
            == 1)
    }
}
