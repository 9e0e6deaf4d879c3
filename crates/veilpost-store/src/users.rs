//! Staff accounts: Argon2id password hashes, end dates, disabling. A running server reads
//! the row at every login, so disabling or an end date takes effect at once.

use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use time::Date;

use crate::{Error, Result, Store, now};

/// A staff account.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct User {
    pub email: String,
    pub name: Option<String>,
    /// `admin`, `staff` or `auditor`.
    pub role: String,
    pub disabled: bool,
    /// The last day the account works.
    pub valid_until: Option<String>,
    pub created_at: i64,
    /// Addresses (shared mailboxes) the account may send as, besides its own.
    #[sqlx(json)]
    pub scopes: Vec<String>,
    /// A TOTP app is registered.
    pub has_totp: bool,
    /// A passkey is registered.
    pub has_passkey: bool,
    /// Who took over mail to this address at offboarding.
    pub successor: Option<String>,
    pub offboarded_at: Option<i64>,
}

/// The roles an account can have.
pub const ROLES: [&str; 3] = ["admin", "staff", "auditor"];

/// The columns of [`User`].
pub(crate) const USER_COLUMNS: &str =
    "email, name, role, disabled, valid_until, created_at, scopes,
    totp_secret IS NOT NULL AS has_totp,
    EXISTS (SELECT 1 FROM staff_passkeys p WHERE p.email = users.email) AS has_passkey,
    successor, offboarded_at";

impl User {
    /// May this account send with `address` as its sender? Its own address and its
    /// scopes; an auditor sends nothing.
    pub fn may_send_as(&self, address: &str) -> bool {
        self.role != "auditor"
            && (address.eq_ignore_ascii_case(&self.email)
                || self.scopes.iter().any(|s| s.eq_ignore_ascii_case(address)))
    }

    /// Can the account log in on `today`?
    pub fn active_on(&self, today: Date) -> bool {
        !self.disabled
            && self
                .valid_until
                .as_deref()
                .and_then(parse_date)
                .is_none_or(|until| today <= until)
    }
}

/// Why an account could not be added.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("{0} is not an e-mail address")]
    BadEmail(String),
    #[error("the password is too short (at least 12 characters)")]
    ShortPassword,
    #[error("an account for {0} exists")]
    Exists(String),
    #[error("{0} is not a role (admin, staff or auditor)")]
    BadRole(String),
    #[error(transparent)]
    Store(#[from] Error),
}

/// `YYYY-MM-DD`.
pub fn parse_date(s: &str) -> Option<Date> {
    Date::parse(s, time::macros::format_description!("[year]-[month]-[day]")).ok()
}

/// Argon2id (the crate's defaults: m=19 MiB, t=2, p=1) as a PHC string. Slow on purpose:
/// call from a blocking thread.
pub fn hash_password(password: &str) -> Result<String> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| Error::Crypto(e.to_string()))
}

/// Check `password` against a PHC string; false for any mismatch or malformed hash.
pub fn verify_password(password: &str, hash: &str) -> bool {
    Argon2::default()
        .verify_password(password.as_bytes(), hash)
        .is_ok()
}

/// Is `email` a plausible address: a local part, a dotted domain, and none of the
/// characters that separate or quote addresses in a header (spaces, `<>,;"()[]\`)?
pub fn valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && local.len() <= 64
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && domain.len() <= 253
        && !email
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "<>,;\"()[]\\".contains(c))
}

impl Store {
    /// Add a staff account (from the command line).
    pub async fn add_user(
        &self,
        email: &str,
        password: &str,
        role: &str,
        valid_until: Option<Date>,
    ) -> Result<(), UserError> {
        self.add_user_as("cli", email, password, role, valid_until)
            .await
    }

    /// Add a staff account; `actor` is who did it, for the audit log.
    pub async fn add_user_as(
        &self,
        actor: &str,
        email: &str,
        password: &str,
        role: &str,
        valid_until: Option<Date>,
    ) -> Result<(), UserError> {
        let email = email.trim();
        if !valid_email(email) {
            return Err(UserError::BadEmail(email.into()));
        }
        if password.chars().count() < 12 {
            return Err(UserError::ShortPassword);
        }
        if !ROLES.contains(&role) {
            return Err(UserError::BadRole(role.into()));
        }
        if self.user(email).await?.is_some() {
            return Err(UserError::Exists(email.into()));
        }
        let pw = password.to_string();
        let hash = tokio::task::spawn_blocking(move || hash_password(&pw))
            .await
            .map_err(|e| Error::Crypto(e.to_string()))??;
        let until = valid_until.map(|d| d.to_string());
        sqlx::query(
            "INSERT INTO users (email, password_hash, role, valid_until, created_at) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(email)
        .bind(hash)
        .bind(role)
        .bind(until)
        .bind(now())
        .execute(&self.pool)
        .await
        .map_err(Error::from)?;
        self.audit(actor, "user.add", Some(email), Some(role))
            .await?;
        Ok(())
    }

    /// One account (read at every login, staff page and SMTP MAIL: one query).
    pub async fn user(&self, email: &str) -> Result<Option<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE email = ?");
        Ok(sqlx::query_as::<_, User>(sqlx::AssertSqlSafe(sql))
            .bind(email.trim())
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn user_with_hash(&self, email: &str) -> Result<Option<(User, String)>> {
        #[derive(sqlx::FromRow)]
        struct WithHash {
            #[sqlx(flatten)]
            user: User,
            password_hash: String,
        }
        let sql = format!("SELECT {USER_COLUMNS}, password_hash FROM users WHERE email = ?");
        Ok(sqlx::query_as::<_, WithHash>(sqlx::AssertSqlSafe(sql))
            .bind(email.trim())
            .fetch_optional(&self.pool)
            .await?
            .map(|r| (r.user, r.password_hash)))
    }

    /// All accounts, by address.
    pub async fn list_users(&self) -> Result<Vec<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users ORDER BY email");
        Ok(sqlx::query_as::<_, User>(sqlx::AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await?)
    }

    /// Disable an account (from the command line); false when there is none.
    pub async fn disable_user(&self, email: &str) -> Result<bool> {
        self.disable_user_as("cli", email).await
    }

    /// Disable an account; false when there is none. Its web sessions end.
    pub async fn disable_user_as(&self, actor: &str, email: &str) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE users SET disabled = 1, disabled_at = ? WHERE email = ? AND disabled = 0",
        )
        .bind(now())
        .bind(email.trim())
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 1 {
            self.audit(actor, "user.disable", Some(email.trim()), None)
                .await?;
            self.end_staff_sessions(email).await?;
            return Ok(true);
        }
        Ok(self.user(email).await?.is_some())
    }

    /// Check a login: the account if the password is right and the account is active today.
    pub async fn authenticate(
        &self,
        email: &str,
        password: &str,
        today: Date,
    ) -> Result<Option<User>> {
        let Some((user, hash)) = self.user_with_hash(email).await? else {
            // Spend the same time as a real check, so timing does not reveal accounts.
            let pw = password.to_string();
            let _ = tokio::task::spawn_blocking(move || verify_password(&pw, dummy_hash())).await;
            return Ok(None);
        };
        let pw = password.to_string();
        let ok = tokio::task::spawn_blocking(move || verify_password(&pw, &hash))
            .await
            .unwrap_or(false);
        Ok((ok && user.active_on(today)).then_some(user))
    }
}

/// A hash of a random password, for failures that take as long as a real check.
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| {
        let mut pw = [0u8; 16];
        crate::random(&mut pw);
        hash_password(&crate::hex(&pw)).unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert!(valid_email("a.jansen@praktijk.nl"));
        assert!(!valid_email("a.jansen"));
        assert!(!valid_email("@praktijk.nl"));
        assert!(!valid_email("a b@praktijk.nl"));
        assert!(!valid_email("a@localhost"));
        assert!(!valid_email("a,b@praktijk.nl") && !valid_email("a@praktijk.nl."));
    }

    #[test]
    fn passwords_round_trip() {
        let h = hash_password("correct horse battery").expect("hash");
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("wrong horse battery", &h));
        assert!(!verify_password("x", "not a hash"));
    }

    #[test]
    fn end_dates() {
        let u = User {
            email: "a@b.nl".into(),
            name: None,
            role: "staff".into(),
            disabled: false,
            valid_until: Some("2026-11-30".into()),
            created_at: 0,
            scopes: vec!["info@b.nl".into()],
            has_totp: false,
            has_passkey: false,
            successor: None,
            offboarded_at: None,
        };
        assert!(u.may_send_as("A@b.nl") && u.may_send_as("info@b.nl"));
        assert!(!u.may_send_as("other@b.nl"));
        assert!(
            !User {
                role: "auditor".into(),
                ..u.clone()
            }
            .may_send_as("a@b.nl")
        );
        let d = |s| parse_date(s).expect("date");
        assert!(u.active_on(d("2026-11-30")));
        assert!(!u.active_on(d("2026-12-01")));
        assert!(
            !User {
                disabled: true,
                ..u.clone()
            }
            .active_on(d("2026-01-01"))
        );
    }
}
