//! Staff on the web: sign-in with a password and a TOTP app (registered at the first
//! sign-in), sessions that end after 15 idle minutes, at 8 hours, at logout, and at once
//! when the account is offboarded, disabled or past its end date (checked at every
//! request); the home page with held and sent secure messages; the compose page.
//!
//! Roles: `admin` (everything), `staff` (send, own messages), `auditor` (the audit log,
//! nothing else). Every handler states what it needs through [`Staff`].

use askama::Template;
use axum::Form;
use axum::extract::{FromRequestParts, Multipart, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use totp_rs::Secret;
use veilpost_store::{AuditEvent, Envelope, Origin, User, now};

use crate::{
    ClientIp, ErrorKind, Lang, WebError, WebState, check_form_csrf, cookie, cookie_name, form_csrf,
    render, same_secret, see_other, set_cookie, when, with_cookie,
};

const STAFF_COOKIE: &str = "vp_staff";
/// Seconds between the password and the second factor.
const SECOND_FACTOR_WINDOW: i64 = 600;

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
        matches!(self.user.role.as_str(), "admin" | "staff")
    }

    pub fn is_admin(&self) -> bool {
        self.user.role == "admin"
    }

    /// May read the audit log (admin, auditor).
    pub fn can_audit(&self) -> bool {
        matches!(self.user.role.as_str(), "admin" | "auditor")
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
        home_for(&self.user.role)
    }
}

impl FromRequestParts<WebState> for Staff {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, s: &WebState) -> Result<Self, Response> {
        let lang = Lang::from_request_parts(parts, s)
            .await
            .unwrap_or(Lang("nl"));
        let Some(token) =
            cookie(&parts.headers, &cookie_name(&s.settings, STAFF_COOKIE)).map(str::to_string)
        else {
            return Err(see_other("/login"));
        };
        let fail = |e: veilpost_store::Error| WebError::internal(lang, e).into_response();
        let Some(session) = s.store.staff_session(&token).await.map_err(fail)? else {
            return Err(see_other("/login?m=ended"));
        };
        let t = now();
        let today = time::OffsetDateTime::now_utc().date();
        let user = s.store.user(&session.email).await.map_err(fail)?;
        let live = session.stage == "full"
            && t - session.last_seen <= s.settings.idle_timeout
            && t - session.created_at <= s.settings.session_max;
        match user {
            Some(user) if live && user.active_on(today) && user.offboarded_at.is_none() => {
                s.store.touch_staff_session(&token).await.map_err(fail)?;
                Ok(Staff {
                    user,
                    csrf: session.csrf,
                    token,
                    lang,
                })
            }
            _ => {
                // A half-way session (second factor still to come) stays for /login/2fa.
                if session.stage == "full" {
                    s.store.end_staff_session(&token).await.map_err(fail)?;
                }
                Err(see_other("/login?m=ended"))
            }
        }
    }
}

/// Where a role starts: the auditor at the audit log, everyone else at their messages.
fn home_for(role: &str) -> &'static str {
    if role == "auditor" {
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

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    lang: Lang,
    organisation: &'a str,
    csrf: String,
    email: String,
    error: &'a str,
    notice: &'a str,
    /// The identity provider's name, when staff may sign in there.
    oidc: &'a str,
}

#[derive(Debug, Deserialize)]
pub struct Notice {
    #[serde(default)]
    m: String,
}

fn notice_text(lang: Lang, m: &str) -> &'static str {
    match m {
        "ended" => {
            if lang.is_nl() {
                "Uw sessie is beëindigd. Meld u opnieuw aan."
            } else {
                "Your session has ended. Please sign in again."
            }
        }
        "out" => {
            if lang.is_nl() {
                "U bent afgemeld."
            } else {
                "You have signed out."
            }
        }
        _ => "",
    }
}

/// `GET /login`.
pub async fn login_form(
    State(s): State<WebState>,
    lang: Lang,
    headers: HeaderMap,
    Query(q): Query<Notice>,
) -> Response {
    let (csrf, set) = form_csrf(&s, &headers);
    with_cookie(
        render(
            &LoginPage {
                lang,
                organisation: &s.organisation,
                csrf,
                email: String::new(),
                error: "",
                notice: notice_text(lang, &q.m),
                oidc: oidc_name(&s),
            },
            StatusCode::OK,
        ),
        set,
    )
}

fn oidc_name(s: &WebState) -> &str {
    s.settings
        .oidc
        .as_ref()
        .map(|o| o.name.as_str())
        .unwrap_or("")
}

/// The sign-in page with an error (401).
pub(crate) fn login_error(s: &WebState, lang: Lang, error: &str) -> Response {
    let (csrf, _) = form_csrf(s, &HeaderMap::new());
    render(
        &LoginPage {
            lang,
            organisation: &s.organisation,
            csrf,
            email: String::new(),
            error,
            notice: "",
            oidc: oidc_name(s),
        },
        StatusCode::UNAUTHORIZED,
    )
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    csrf: String,
    email: String,
    password: String,
}

/// Count one login action for the client address and the account.
pub(crate) fn limited(
    s: &WebState,
    ip: &ClientIp,
    account: &str,
    lang: Lang,
) -> Result<(), WebError> {
    let mut limits = s
        .limits
        .lock()
        .map_err(|_| WebError::internal(lang, "limits lock"))?;
    let t = now();
    if limits.per_ip.hit(&ip.0, t).is_err()
        || limits
            .staff_logins
            .hit(&account.trim().to_ascii_lowercase(), t)
            .is_err()
    {
        return Err(WebError::new(
            StatusCode::TOO_MANY_REQUESTS,
            ErrorKind::TooMany,
            lang,
        ));
    }
    Ok(())
}

/// `POST /login`: the password; then the second factor.
pub async fn login(
    State(s): State<WebState>,
    lang: Lang,
    ip: ClientIp,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Result<Response, WebError> {
    check_form_csrf(&s, &headers, &f.csrf, lang)?;
    let email: String = f.email.trim().chars().take(254).collect();
    limited(&s, &ip, &email, lang)?;
    let today = time::OffsetDateTime::now_utc().date();
    let user = s
        .store
        .authenticate(&email, &f.password, today)
        .await?
        .filter(|u| u.offboarded_at.is_none());
    let Some(user) = user else {
        s.store
            .audit_event(staff_audit(&email, "staff.login.failed", &ip, "password"))
            .await?;
        let page = LoginPage {
            lang,
            organisation: &s.organisation,
            csrf: f.csrf.clone(),
            email,
            error: lang.t(
                "Dat e-mailadres en wachtwoord horen niet bij een actief account.",
                "That e-mail address and password do not belong to an active account.",
            ),
            notice: "",
            oidc: oidc_name(&s),
        };
        return Ok(render(&page, StatusCode::UNAUTHORIZED));
    };
    let (token, _) = s
        .store
        .create_staff_session(&user.email, "password")
        .await?;
    let mut r = see_other("/login/2fa");
    r.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(&s.settings, STAFF_COOKIE, &token, None),
    );
    Ok(r)
}

#[derive(Template)]
#[template(path = "login_2fa.html")]
struct SecondFactorPage<'a> {
    lang: Lang,
    organisation: &'a str,
    csrf: &'a str,
    /// Registering: the new secret and its otpauth URI.
    secret: String,
    uri: String,
    wrong: bool,
    has_totp: bool,
    has_passkey: bool,
    /// Passkeys work here (the public URL has a domain name, not an IP address).
    passkeys: bool,
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
    if session.stage != "password" || now() - session.created_at > SECOND_FACTOR_WINDOW {
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

fn issuer(s: &WebState) -> String {
    if s.organisation.is_empty() {
        "Veilpost".into()
    } else {
        format!("Veilpost {}", s.organisation)
    }
}

fn second_factor_page<'a>(
    s: &'a WebState,
    csrf: &'a str,
    user: &User,
    secret: Option<Secret>,
    wrong: bool,
    lang: Lang,
) -> SecondFactorPage<'a> {
    let (secret, uri) = match secret {
        Some(secret) => {
            let uri = crate::totp::make_totp(secret.as_ref().to_vec(), &user.email, &issuer(s))
                .and_then(|t| t.to_url().ok())
                .unwrap_or_default();
            (secret.to_base32(), uri)
        }
        None => (String::new(), String::new()),
    };
    SecondFactorPage {
        lang,
        organisation: &s.organisation,
        csrf,
        secret,
        uri,
        wrong,
        has_totp: user.has_totp,
        has_passkey: user.has_passkey,
        passkeys: crate::passkey::webauthn(s).is_some(),
    }
}

/// The second-factor page, allowed its one script (passkeys).
fn second_factor_response(page: &SecondFactorPage<'_>, status: StatusCode) -> Response {
    let mut r = render(page, status);
    crate::passkey::allow_script(&mut r);
    r
}

/// `GET /login/2fa`: the code from the app, or (first sign-in) registering the app.
pub async fn second_factor_form(
    State(s): State<WebState>,
    lang: Lang,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let Some((_, session, user)) = pending(&s, &headers).await? else {
        return Ok(see_other("/login?m=ended"));
    };
    let secret = (!user.has_totp && !user.has_passkey).then(Secret::generate);
    let page = second_factor_page(&s, &session.csrf, &user, secret, false, lang);
    Ok(second_factor_response(&page, StatusCode::OK))
}

#[derive(Debug, Deserialize)]
pub struct SecondFactorForm {
    #[serde(default)]
    csrf: String,
    code: String,
    #[serde(default)]
    secret: String,
}

/// `POST /login/2fa`.
pub async fn second_factor(
    State(s): State<WebState>,
    lang: Lang,
    ip: ClientIp,
    headers: HeaderMap,
    Form(f): Form<SecondFactorForm>,
) -> Result<Response, WebError> {
    let Some((token, session, user)) = pending(&s, &headers).await? else {
        return Ok(see_other("/login?m=ended"));
    };
    if !same_secret(&session.csrf, &f.csrf) {
        return Err(WebError::new(StatusCode::FORBIDDEN, ErrorKind::Csrf, lang));
    }
    limited(&s, &ip, &user.email, lang)?;
    let code: String = f.code.chars().filter(|c| c.is_ascii_digit()).collect();
    let at = now().max(0) as u64;
    let ok = if user.has_totp {
        match s.store.staff_totp(&user.email).await? {
            Some(rec) => {
                let context = format!("staff-totp:{}", user.email.to_lowercase());
                match s.master_key.open(&context, &rec.wrapped, &rec.secret) {
                    Ok(secret) => match crate::totp::make_totp(secret, &user.email, &issuer(&s))
                        .and_then(|t| t.check(&code, at))
                    {
                        Some(step) => {
                            s.store
                                .use_staff_totp_step(&user.email, step as i64)
                                .await?
                        }
                        None => false,
                    },
                    Err(e) => return Err(WebError::internal(lang, e)),
                }
            }
            None => false,
        }
    } else if user.has_passkey {
        false
    } else {
        // Registering: the secret shown on the page comes back with a code it made.
        let secret = Secret::try_from_base32(f.secret.chars().take(64).collect::<String>())
            .map_err(|_| WebError::new(StatusCode::BAD_REQUEST, ErrorKind::BadInput, lang))?;
        let bytes = secret.as_ref().to_vec();
        match crate::totp::make_totp(bytes.clone(), &user.email, &issuer(&s))
            .and_then(|t| t.check(&code, at))
        {
            Some(step) => {
                let context = format!("staff-totp:{}", user.email.to_lowercase());
                let sealed = s
                    .master_key
                    .seal(&context, &bytes)
                    .map_err(|e| WebError::internal(lang, e))?;
                let stored = s
                    .store
                    .put_staff_totp(
                        &user.email,
                        &sealed.ciphertext,
                        &sealed.wrapped_key,
                        &sealed.key_id,
                        step as i64,
                    )
                    .await?;
                if stored {
                    s.store
                        .audit_event(staff_audit(&user.email, "staff.totp.registered", &ip, "ok"))
                        .await?;
                }
                stored
            }
            None => {
                let page = second_factor_page(&s, &session.csrf, &user, Some(secret), true, lang);
                return Ok(second_factor_response(
                    &page,
                    StatusCode::UNPROCESSABLE_ENTITY,
                ));
            }
        }
    };
    if !ok {
        s.store
            .audit_event(staff_audit(
                &user.email,
                "staff.login.failed",
                &ip,
                "second factor",
            ))
            .await?;
        let page = second_factor_page(&s, &session.csrf, &user, None, true, lang);
        return Ok(second_factor_response(&page, StatusCode::UNAUTHORIZED));
    }
    let (cookie, home) = complete_sign_in(&s, &token, &user, &ip, "totp").await?;
    let mut r = see_other(home);
    r.headers_mut().append(header::SET_COOKIE, cookie);
    Ok(r)
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
    s.store.end_staff_session(token).await?;
    let (full, _) = s.store.create_staff_session(&user.email, "full").await?;
    let mut event = staff_audit(&user.email, "staff.login", ip, "ok");
    event.detail = Some(how.to_string());
    s.store.audit_event(event).await?;
    Ok((
        set_cookie(&s.settings, STAFF_COOKIE, &full, None),
        home_for(&user.role),
    ))
}

#[derive(Debug, Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    pub csrf: String,
}

/// `POST /logout`.
pub async fn logout(
    State(s): State<WebState>,
    staff: Staff,
    ip: ClientIp,
    Form(f): Form<CsrfOnly>,
) -> Result<Response, WebError> {
    staff.check_csrf(&f.csrf)?;
    s.store.end_staff_session(&staff.token).await?;
    staff.audit(&s, "staff.logout", None, None, &ip).await?;
    let mut r = see_other("/login?m=out");
    r.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(&s.settings, STAFF_COOKIE, "", Some(0)),
    );
    Ok(r)
}

/// One sent secure message as the home page lists it.
pub struct SentRow {
    pub id: String,
    pub recipient: String,
    pub sent: String,
    pub status: &'static str,
    pub revocable: bool,
}

/// One held message.
pub struct HeldRow {
    pub id: String,
    pub received: String,
    pub reasons: Vec<String>,
}

#[derive(Template)]
#[template(path = "staff_home.html")]
struct HomePage<'a> {
    lang: Lang,
    organisation: &'a str,
    staff: &'a Staff,
    sent: Vec<SentRow>,
    held: Vec<HeldRow>,
    notice: String,
}

#[derive(Debug, Deserialize)]
pub struct HomeQuery {
    #[serde(default)]
    sent: String,
    #[serde(default)]
    done: String,
}

/// The furthest a sent message got (the status page's word), for people.
pub(crate) fn status_word(e: &veilpost_store::PortalEntry, lang: Lang) -> &'static str {
    let t = |nl, en| lang.t(nl, en);
    match crate::status::status_word(e, now()) {
        "revoked" => t("ingetrokken", "revoked"),
        "expired" => t("verlopen", "expired"),
        "replied" => t("beantwoord", "replied"),
        "downloaded" => t("bijlage gedownload", "attachment downloaded"),
        "opened" => t("geopend", "opened"),
        _ => t("verstuurd, nog niet geopend", "sent, not opened yet"),
    }
}

/// `GET /staff`: held messages to confirm, sent secure messages with status.
pub async fn home(
    State(s): State<WebState>,
    staff: Staff,
    Query(q): Query<HomeQuery>,
) -> Result<Response, WebError> {
    if !staff.can_send() {
        return Ok(see_other(staff.home()));
    }
    let lang = staff.lang;
    let sent = s
        .store
        .sent_by(&staff.user.email, 200)
        .await?
        .into_iter()
        .map(|e| SentRow {
            status: status_word(&e, lang),
            revocable: e.readable(now()),
            sent: when(e.created_at, true),
            recipient: e.recipient,
            id: e.id,
        })
        .collect();
    let held = s
        .store
        .held_by_sender(&staff.user.email)
        .await?
        .into_iter()
        .map(|h| HeldRow {
            reasons: h
                .held_reasons
                .as_deref()
                .and_then(|r| {
                    serde_json::from_str::<Vec<veilpost_policy::doublecheck::Hold>>(r).ok()
                })
                .unwrap_or_default()
                .iter()
                .map(|r| {
                    if lang.is_nl() {
                        r.describe(true)
                    } else {
                        r.describe(false)
                    }
                })
                .collect(),
            received: when(h.received_at, true),
            id: h.id,
        })
        .collect();
    let notice = match (q.sent.is_empty(), q.done.as_str()) {
        (false, _) => lang
            .t(
                "Uw bericht is aangenomen en gaat beveiligd naar de ontvanger (kenmerk {id}).",
                "Your message was accepted and goes securely to the recipient (reference {id}).",
            )
            .replace("{id}", &q.sent.chars().take(40).collect::<String>()),
        (true, "revoked") => lang
            .t("Het bericht is ingetrokken.", "The message was revoked.")
            .into(),
        (true, "confirmed") => lang
            .t(
                "Het bericht wordt nu verstuurd.",
                "The message is being sent now.",
            )
            .into(),
        (true, "cancelled") => lang
            .t(
                "Het bericht is niet verstuurd.",
                "The message was not sent.",
            )
            .into(),
        _ => String::new(),
    };
    let page = HomePage {
        lang,
        organisation: &s.organisation,
        staff: &staff,
        sent,
        held,
        notice,
    };
    Ok(render(&page, StatusCode::OK))
}

/// `POST /staff/sent/{id}/revoke`: only the sender's own messages.
pub async fn revoke(
    State(s): State<WebState>,
    staff: Staff,
    ip: ClientIp,
    Path(id): Path<String>,
    Form(f): Form<CsrfOnly>,
) -> Result<Response, WebError> {
    staff.check_csrf(&f.csrf)?;
    staff.require(staff.can_send())?;
    let entry = s
        .store
        .portal_by_id(&id)
        .await?
        .filter(|e| e.sender.eq_ignore_ascii_case(&staff.user.email))
        .ok_or_else(|| WebError::new(StatusCode::NOT_FOUND, ErrorKind::NotFound, staff.lang))?;
    if s.store.shred(&entry.id, "revoked").await? {
        staff
            .audit(
                &s,
                "message.revoked",
                Some(&format!("message {} / {}", entry.message_id, entry.id)),
                Some(format!("recipient {}", entry.recipient)),
                &ip,
            )
            .await?;
    }
    Ok(see_other("/staff?done=revoked"))
}

/// `POST /staff/held/{id}/{send|cancel}`: the double-check from the web.
pub async fn held_decide(
    State(s): State<WebState>,
    staff: Staff,
    ip: ClientIp,
    Path((id, decision)): Path<(String, String)>,
    Form(f): Form<CsrfOnly>,
) -> Result<Response, WebError> {
    staff.check_csrf(&f.csrf)?;
    staff.require(staff.can_send())?;
    let mine = s
        .store
        .held_by_sender(&staff.user.email)
        .await?
        .into_iter()
        .any(|h| h.id == id);
    if !mine {
        return Err(WebError::new(
            StatusCode::NOT_FOUND,
            ErrorKind::NotFound,
            staff.lang,
        ));
    }
    let (done, action, word) = match decision.as_str() {
        "send" => (
            s.store.release_held(&id).await?,
            "doublecheck.confirmed",
            "confirmed",
        ),
        "cancel" => (
            s.store.cancel_held(&id).await?,
            "doublecheck.cancelled",
            "cancelled",
        ),
        _ => {
            return Err(WebError::new(
                StatusCode::NOT_FOUND,
                ErrorKind::NotFound,
                staff.lang,
            ));
        }
    };
    if done {
        staff
            .audit(
                &s,
                action,
                Some(&format!("message {id}")),
                Some("web".into()),
                &ip,
            )
            .await?;
    }
    Ok(see_other(&format!("/staff?done={word}")))
}

#[derive(Template)]
#[template(path = "compose.html")]
struct ComposePage<'a> {
    lang: Lang,
    organisation: &'a str,
    staff: &'a Staff,
    senders: Vec<String>,
    from: String,
    to: String,
    subject: String,
    body: String,
    verify: String,
    phone: String,
    error: String,
    max_mb: usize,
}

fn compose_page<'a>(s: &'a WebState, staff: &'a Staff) -> ComposePage<'a> {
    let mut senders = vec![staff.user.email.clone()];
    senders.extend(staff.user.scopes.iter().cloned());
    ComposePage {
        lang: staff.lang,
        organisation: &s.organisation,
        staff,
        from: staff.user.email.clone(),
        senders,
        to: String::new(),
        subject: String::new(),
        body: String::new(),
        verify: "sms".into(),
        phone: String::new(),
        error: String::new(),
        max_mb: s.settings.max_reply_size / (1024 * 1024),
    }
}

/// `GET /staff/compose`.
pub async fn compose_form(State(s): State<WebState>, staff: Staff) -> Result<Response, WebError> {
    staff.require(staff.can_send())?;
    Ok(render(&compose_page(&s, &staff), StatusCode::OK))
}

/// `POST /staff/compose`: the message goes into the spool like a submitted one, tagged
/// so it takes the portal route, and is scanned, double-checked and audited like any.
pub async fn compose(
    State(s): State<WebState>,
    staff: Staff,
    ip: ClientIp,
    form: Multipart,
) -> Result<Response, WebError> {
    staff.require(staff.can_send())?;
    let lang = staff.lang;
    let mut up = crate::uploads::read_upload(
        form,
        s.settings.max_reply_size,
        None,
        s.settings.clamd.as_deref(),
        lang,
    )
    .await?;
    staff.check_csrf(up.field("csrf"))?;
    let mut page = compose_page(&s, &staff);
    page.from = up.field("from").trim().to_string();
    page.to = up.field("to").trim().to_string();
    page.subject = up.field("subject").trim().to_string();
    page.body = up.field("body").to_string();
    page.verify = up.field("verify").to_string();
    page.phone = up.field("phone").trim().to_string();
    let to: Vec<String> = page
        .to
        .split([',', ';', ' ', '\n', '\r', '\t'])
        .map(|a| {
            a.trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_string()
        })
        .filter(|a| !a.is_empty())
        .collect();
    let had_files = !up.files.is_empty();
    let refuse = |mut page: ComposePage<'_>, nl: &str, en: &str| {
        page.error = lang.t(nl, en).to_string();
        if had_files {
            page.error.push(' ');
            page.error.push_str(lang.t(
                "Voeg de bijlagen opnieuw toe.",
                "Add the attachments again.",
            ));
        }
        Ok(render(&page, StatusCode::UNPROCESSABLE_ENTITY))
    };
    if !staff.user.may_send_as(&page.from) {
        return refuse(
            page,
            "U mag niet namens dat adres versturen.",
            "You may not send as that address.",
        );
    }
    if to.is_empty() || to.len() > 20 || !to.iter().all(|a| veilpost_store::valid_email(a)) {
        return refuse(
            page,
            "Vul één tot twintig geldige e-mailadressen in bij Aan.",
            "Enter one to twenty valid e-mail addresses in To.",
        );
    }
    if page.subject.is_empty() || page.subject.chars().count() > 200 {
        return refuse(
            page,
            "Vul een onderwerp in (hoogstens 200 tekens).",
            "Enter a subject (at most 200 characters).",
        );
    }
    let tag = match page.verify.as_str() {
        "sms" if !page.phone.is_empty() => {
            let Some(number) = crate::sms::normalize_phone(&page.phone) else {
                return refuse(
                    page,
                    "Dat is geen mobiel nummer. Gebruik bijvoorbeeld 06 12345678 of +31612345678.",
                    "That is not a mobile number. Use 06 12345678 or +31612345678, for example.",
                );
            };
            if to.len() > 1 {
                return refuse(
                    page,
                    "Eén mobiel nummer past bij één ontvanger. Verstuur per ontvanger, of laat het nummer leeg als de nummers in het adresboek staan.",
                    "One mobile number fits one recipient. Send per recipient, or leave the number empty when the numbers are in the address book.",
                );
            }
            format!("[sms {number}]")
        }
        "sms" => {
            for a in &to {
                if s.store.contact_phone(a).await?.is_none() {
                    return refuse(
                        page,
                        "Van niet alle ontvangers staat een mobiel nummer in het adresboek. Vul het nummer in, of kies de toegangscode.",
                        "Not every recipient has a mobile number in the address book. Enter the number, or choose the access code.",
                    );
                }
            }
            "[veilig]".into()
        }
        "access_code" => "[veilig]".into(),
        _ => {
            return refuse(
                page,
                "Kies hoe de ontvanger zich bevestigt.",
                "Choose how the recipient verifies.",
            );
        }
    };
    let files = std::mem::take(&mut up.files);
    let attached = files.len();
    let name = staff.user.name.clone().unwrap_or_default();
    let raw = crate::mails::composed(
        (&name, &page.from),
        &to,
        &page.subject,
        &tag,
        &page.body,
        files,
    )
    .map_err(|e| WebError::internal(lang, e))?;
    let envelope = Envelope {
        origin: Origin::Submission,
        mail_from: page.from.clone(),
        rcpt_to: to.clone(),
        auth_user: Some(staff.user.email.clone()),
        client_ip: Some(ip.0.clone()),
    };
    let id = s
        .mailer
        .submit(envelope, raw)
        .await
        .map_err(|e| WebError::internal(lang, e))?;
    staff
        .audit(
            &s,
            "compose.submitted",
            Some(&format!("message {id}")),
            Some(format!(
                "to {}; {} attachments; verify {}",
                to.join(", "),
                attached,
                page.verify
            )),
            &ip,
        )
        .await?;
    Ok(see_other(&format!("/staff?sent={id}")))
}
