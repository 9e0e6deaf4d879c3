//! Staff sign-in: a password, then a second factor (a TOTP app registered at the first
//! sign-in, a passkey, or the organisation's identity provider through OpenID Connect);
//! sessions that end after 15 idle minutes, at 8 hours, at logout, and at once when the
//! account is offboarded, disabled or past its end date (checked at every request).
//!
//! Roles: `admin` (everything), `staff` (send, own messages), `auditor` (the audit log,
//! nothing else). Every handler states what it needs through [`Staff`].
//!
//! - this module: the signed-in [`Staff`] extractor and what every way in shares
//!   (the half-way session, completing a sign-in, rate limits, audit entries);
//! - `password.rs`: the sign-in page, the password step, logout;
//! - `second_factor.rs`: the TOTP step and its first-time registration;
//! - `passkey.rs`: WebAuthn ceremonies; `oidc.rs`: OpenID Connect.

pub mod oidc;
pub mod passkey;
mod password;
mod second_factor;

pub(crate) use password::login_error;
pub use password::{login, login_form, logout};
pub use second_factor::{second_factor, second_factor_form};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use veilpost_store::{AuditEvent, Role, SessionKind, Stage, User};

use crate::{
    ClientIp, ErrorKind, Lang, PageLang, WebError, WebState, cookie, cookie_name, same_secret,
    see_other, set_cookie,
};

pub(crate) const STAFF_COOKIE: &str = "vp_staff";

/// Seconds between the password and the second factor.
pub(crate) const SECOND_FACTOR_WINDOW: i64 = 600;

/// A signed-in staff member (both factors done, account active). Pages needing a role
/// check it with [`Staff::require`].
#[derive(Debug, Clone)]
pub struct Staff {
    pub user: User,
    pub csrf: String,
    pub token: String,
    pub lang: Lang,
}

impl Staff {
    /// May send secure messages (admin, staff).
    pub fn can_send(&self) -> bool {
        self.user.role.sends()
    }

    pub fn is_admin(&self) -> bool {
        self.user.role == Role::Admin
    }

    /// May read the audit log (admin, auditor).
    pub fn can_audit(&self) -> bool {
        self.user.role.audits()
    }

    /// 403 unless `allowed`.
    pub fn require(&self, allowed: bool) -> Result<(), WebError> {
        if allowed {
            Ok(())
        } else {
            Err(WebError::new(
                StatusCode::FORBIDDEN,
                ErrorKind::Forbidden,
                self.lang,
            ))
        }
    }

    /// The form's CSRF token must be this session's.
    pub fn check_csrf(&self, submitted: &str) -> Result<(), WebError> {
        if same_secret(&self.csrf, submitted) {
            Ok(())
        } else {
            Err(WebError::new(
                StatusCode::FORBIDDEN,
                ErrorKind::Csrf,
                self.lang,
            ))
        }
    }

    /// Append to the audit log as this user; an entry that cannot be written stops the
    /// action (fail closed).
    pub async fn audit(
        &self,
        s: &WebState,
        action: &str,
        subject: Option<&str>,
        detail: Option<String>,
        ip: &ClientIp,
    ) -> Result<(), WebError> {
        s.store
            .audit_event(AuditEvent {
                actor: self.user.email.clone(),
                action: action.to_string(),
                subject: subject.map(str::to_string),
                detail,
                ip: Some(ip.0.clone()),
                outcome: Some("ok".into()),
            })
            .await
            .map_err(|e| WebError::internal(self.lang, e))
    }

    /// Where this role starts.
    pub fn home(&self) -> &'static str {
        home_for(self.user.role)
    }
}

impl FromRequestParts<WebState> for Staff {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, s: &WebState) -> Result<Self, Response> {
        let PageLang(lang) = PageLang::from_request_parts(parts, s)
            .await
            .unwrap_or(PageLang(Lang::Nl));
        let Some(token) =
            cookie(&parts.headers, &cookie_name(&s.settings, STAFF_COOKIE)).map(str::to_string)
        else {
            return Err(see_other("/login"));
        };
        let fail = |e: veilpost_store::Error| WebError::internal(lang, e).into_response();
        let Some(session) = s.store.staff_session(&token).await.map_err(fail)? else {
            return Err(see_other("/login?m=ended"));
        };
        let t = s.store.now();
        let today = time::OffsetDateTime::now_utc().date();
        let user = s.store.user(&session.email).await.map_err(fail)?;
        let live = session.stage == Stage::Full
            && t - session.last_seen <= s.settings.idle_timeout
            && t - session.created_at <= s.settings.session_max;
        match user {
            Some(user) if live && user.active_on(today) && user.offboarded_at.is_none() => {
                s.store
                    .touch_session(SessionKind::Staff, &token)
                    .await
                    .map_err(fail)?;
                Ok(Staff {
                    user,
                    csrf: session.csrf,
                    token,
                    lang,
                })
            }
            _ => {
                // A half-way session (second factor still to come) stays for /login/2fa.
                if session.stage == Stage::Full {
                    s.store
                        .end_session(SessionKind::Staff, &token)
                        .await
                        .map_err(fail)?;
                }
                Err(see_other("/login?m=ended"))
            }
        }
    }
}

/// Where a role starts: the auditor at the audit log, everyone else at their messages.
pub(crate) fn home_for(role: Role) -> &'static str {
    if role == Role::Auditor {
        "/admin/audit"
    } else {
        "/staff"
    }
}

pub(crate) fn staff_audit(email: &str, action: &str, ip: &ClientIp, outcome: &str) -> AuditEvent {
    AuditEvent {
        actor: "web".into(),
        action: action.to_string(),
        subject: Some(email.to_string()),
        detail: None,
        ip: Some(ip.0.clone()),
        outcome: Some(outcome.to_string()),
    }
}

/// May this client try to sign in as `account` now? Counts the request against the
/// per-address flood limit; refuses while the sign-in guard holds this account and
/// address ([`veilpost_portal::LoginGuard`], shared with SMTP AUTH). Successes are not
/// counted; failures are, by [`sign_in_failed`].
pub(crate) async fn limited(
    s: &WebState,
    ip: &ClientIp,
    account: &str,
    lang: Lang,
) -> Result<(), WebError> {
    crate::limits::limited(s, &ip.key(), crate::limits::Bucket::PerIp, lang).await?;
    crate::limits::staff_check(&s.store, &s.limits, account, ip.addr())
        .await
        .map_err(|_| WebError::new(StatusCode::TOO_MANY_REQUESTS, ErrorKind::TooMany, lang))
}

/// A wrong password or second factor: counted for the account and address, and audited
/// (`staff.login.failed` with the step). The audit entry must be written, or the
/// failure is an error.
pub(crate) async fn sign_in_failed(
    s: &WebState,
    ip: &ClientIp,
    account: &str,
    step: &str,
    detail: Option<&str>,
) -> Result<(), WebError> {
    crate::limits::staff_failed(&s.store, &s.limits, account, ip.addr()).await?;
    let mut event = staff_audit(
        &veilpost_store::typed_login_for_log(account),
        "staff.login.failed",
        ip,
        step,
    );
    event.detail = detail.map(str::to_string);
    s.store.audit_event(event).await?;
    Ok(())
}

/// The half-signed-in session (password done, second factor not yet).
pub(crate) async fn pending(
    s: &WebState,
    headers: &HeaderMap,
) -> Result<Option<(String, veilpost_store::StaffSession, User)>, WebError> {
    let Some(token) = cookie(headers, &cookie_name(&s.settings, STAFF_COOKIE)) else {
        return Ok(None);
    };
    let Some(session) = s.store.staff_session(token).await? else {
        return Ok(None);
    };
    if session.stage != Stage::Password || s.store.now() - session.created_at > SECOND_FACTOR_WINDOW
    {
        return Ok(None);
    }
    let today = time::OffsetDateTime::now_utc().date();
    let user = s
        .store
        .user(&session.email)
        .await?
        .filter(|u| u.active_on(today) && u.offboarded_at.is_none());
    Ok(user.map(|u| (token.to_string(), session, u)))
}

/// Both factors done: a new token for the signed-in session (the half-way one cannot be
/// reused), audited. The cookie to set and where the role starts.
pub(crate) async fn complete_sign_in(
    s: &WebState,
    token: &str,
    user: &User,
    ip: &ClientIp,
    how: &str,
) -> Result<(axum::http::HeaderValue, &'static str), WebError> {
    s.store.end_session(SessionKind::Staff, token).await?;
    // Both factors passed: this account's failures are forgotten (a colleague's wrong
    // guesses do not keep its owner out).
    crate::limits::staff_passed(&s.store, &s.limits, &user.email).await?;
    let (full, _) = s
        .store
        .create_staff_session(&user.email, Stage::Full)
        .await?;
    let mut event = staff_audit(&user.email, "staff.login", ip, "ok");
    event.detail = Some(how.to_string());
    s.store.audit_event(event).await?;
    Ok((
        set_cookie(&s.settings, STAFF_COOKIE, &full, None),
        home_for(user.role),
    ))
}

#[derive(Debug, Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    pub csrf: String,
}
