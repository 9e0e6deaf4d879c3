//! The recipient's pages. The link (`GET /p/{token}`) only ever shows the landing page and
//! changes nothing, so link scanners can fetch it as often as they like. Everything that
//! moves the login on is a POST with a CSRF token; the login's state lives in the database
//! per message and recipient (so clearing cookies gains no new tries), and a verified
//! recipient gets a browser session (HttpOnly, SameSite=Strict, 15 minutes idle).

mod read;
mod totp;

pub use read::*;
pub use totp::*;

use askama::Template;
use axum::body::Body;
use axum::extract::{Form, Multipart, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use totp_rs::Secret;
use veilpost_portal::login::{
    Effect, Event, Factor, Login, Refusal, State as LoginState, StoredCode, make_code,
};
use veilpost_store::{
    AuditEvent, Envelope, Milestone, Origin, PortalEntry, PortalSession, SessionKind, TotpHolder,
};

use crate::limits::{Bucket, limited};
use crate::login_loop::{self, Advanced, LoginSlot};
use crate::mails;
use crate::render::{self, View};
use crate::totp::make_totp;
use crate::uploads::read_upload;
use crate::{
    ClientIp, ErrorKind, Lang, PageLang, WebError, WebState, check_form_csrf, cookie, cookie_name,
    form_csrf, render as render_page, same_secret, see_other, set_cookie, when, with_cookie,
};
use veilpost_text::phone::mask as mask_phone;

const SESSION_COOKIE: &str = "vp_session";

fn salt() -> [u8; 16] {
    let mut b = [0u8; 16];
    veilpost_store::random(&mut b);
    b
}

/// The entry a link names, or "not found".
async fn entry(s: &WebState, token: &str, lang: Lang) -> Result<PortalEntry, WebError> {
    s.store
        .portal_by_token(token)
        .await?
        .ok_or_else(|| WebError::new(StatusCode::NOT_FOUND, ErrorKind::NotFound, lang))
}

/// Audit something a recipient did.
pub(crate) async fn audit(
    s: &WebState,
    e: &PortalEntry,
    actor: &str,
    action: &str,
    ip: &ClientIp,
    outcome: &str,
    detail: Option<String>,
) -> Result<(), WebError> {
    let event = AuditEvent {
        actor: actor.to_string(),
        action: action.to_string(),
        subject: Some(format!("message {} / {}", e.message_id, e.id)),
        detail,
        ip: Some(ip.0.clone()),
        outcome: Some(outcome.to_string()),
    };
    // No entry, no action: a view, download or login whose audit entry cannot be
    // written fails (the caller answers with an error, not the content).
    s.store.audit_event(event).await.map_err(|err| {
        tracing::error!("audit {action}: {err}");
        WebError::from(err)
    })
}

/// What every login form does first: the CSRF token, the per-address limit, the entry,
/// and (for sends and tries) the per-recipient limit.
async fn login_form(
    s: &WebState,
    token: &str,
    headers: &HeaderMap,
    csrf: &str,
    ip: &ClientIp,
    lang: Lang,
    per_recipient: Option<Bucket>,
) -> Result<PortalEntry, WebError> {
    check_form_csrf(s, headers, csrf, lang)?;
    limited(s, &ip.key(), Bucket::PerIp, lang).await?;
    let e = entry(s, token, lang).await?;
    if let Some(bucket) = per_recipient {
        limited(s, &e.recipient.to_lowercase(), bucket, lang).await?;
    }
    Ok(e)
}

/// The login as stored, or a fresh one; a stored state that does not parse counts as
/// locked (fail closed).
async fn login_of(s: &WebState, e: &PortalEntry) -> Result<Login, WebError> {
    let has_totp = s
        .store
        .totp(TotpHolder::Recipient(&e.recipient))
        .await?
        .is_some();
    let access = e.access_code.as_deref().and_then(StoredCode::from_json);
    let fresh = Login::new(s.settings.rules.clone(), access.clone(), has_totp);
    Ok(match &e.login {
        None => fresh,
        Some(text) => match Login::from_json(text) {
            Some(mut l) => {
                // What is available may have changed since (a TOTP app registered).
                l.has_totp = has_totp;
                l.access_code = access;
                l
            }
            None => Login {
                state: LoginState::Locked { at: 0 },
                ..fresh
            },
        },
    })
}

/// The factors this recipient may use.
fn factors(e: &PortalEntry, login: &Login) -> Vec<(String, String)> {
    let mut f = Vec::new();
    if let Some(p) = &e.phone {
        f.push(("sms".into(), mask_phone(p)));
    }
    if login.access_code.is_some() {
        f.push(("access_code".into(), String::new()));
    }
    if login.has_totp {
        f.push(("totp".into(), String::new()));
    }
    if e.email_code {
        f.push(("email".into(), e.recipient.clone()));
    }
    f
}

/// A valid session for this entry, from the cookie.
async fn session_for(
    s: &WebState,
    headers: &HeaderMap,
    e: &PortalEntry,
) -> Result<Option<(String, PortalSession)>, WebError> {
    let Some(token) = cookie(headers, &cookie_name(&s.settings, SESSION_COOKIE)) else {
        return Ok(None);
    };
    let Some(session) = s.store.session(token).await? else {
        return Ok(None);
    };
    let t = s.store.now();
    if session.vault_id != e.id {
        return Ok(None);
    }
    if session.last_seen + s.settings.idle_timeout < t
        || session.created_at + s.settings.session_max < t
    {
        s.store.end_session(SessionKind::Portal, token).await?;
        return Ok(None);
    }
    if t - session.last_seen >= 30 {
        s.store.touch_session(SessionKind::Portal, token).await?;
    }
    Ok(Some((token.to_string(), session)))
}

/// The session or "your session ended".
async fn require_session(
    s: &WebState,
    headers: &HeaderMap,
    e: &PortalEntry,
    lang: Lang,
) -> Result<(String, PortalSession), WebError> {
    session_for(s, headers, e)
        .await?
        .ok_or_else(|| WebError::new(StatusCode::UNAUTHORIZED, ErrorKind::SessionEnded, lang))
}

/// Refuse content that is gone.
fn gone(e: &PortalEntry, now: i64, lang: Lang) -> Result<(), WebError> {
    if e.readable(now) {
        Ok(())
    } else {
        Err(WebError::new(StatusCode::GONE, ErrorKind::NotFound, lang))
    }
}

#[derive(Template)]
#[template(path = "landing.html")]
struct Landing<'a> {
    lang: Lang,
    organisation: &'a str,
    token: &'a str,
    found: bool,
    /// "", "expired" or "revoked".
    ended: &'a str,
    sender: String,
    expires: String,
    csrf: String,
    notice: &'a str,
}

#[derive(Debug, Deserialize, Default)]
pub struct Notice {
    #[serde(default)]
    pub(crate) m: String,
    #[serde(default)]
    pub(crate) n: i64,
}

/// `GET /p/{token}`: who sent something and until when. Never the content, never a change.
pub async fn landing(
    State(s): State<WebState>,
    Path(token): Path<String>,
    Query(q): Query<Notice>,
    PageLang(lang): PageLang,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let found = s.store.portal_by_token(&token).await?;
    let (csrf, set) = form_csrf(&s, &headers);
    let t = s.store.now();
    let ended = match &found {
        Some(e) if e.revoked_at.is_some() => "revoked",
        Some(e) if !e.readable(t) => "expired",
        _ => "",
    };
    let notice = if q.m == "ended" { "ended" } else { "" };
    let page = Landing {
        lang,
        organisation: &s.organisation,
        token: &token,
        found: found.is_some(),
        ended,
        sender: found.as_ref().map(|e| e.sender.clone()).unwrap_or_default(),
        expires: found
            .as_ref()
            .map(|e| veilpost_text::dates::long_date(e.expires_at, lang))
            .unwrap_or_default(),
        csrf,
        notice,
    };
    let status = match (&found, ended) {
        (None, _) => StatusCode::NOT_FOUND,
        (Some(_), "") => StatusCode::OK,
        _ => StatusCode::GONE,
    };
    Ok(with_cookie(render_page(&page, status), set))
}

#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

impl CsrfForm {
    pub fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// A portal message's login, for the shared load-step-save loop.
struct EntryLogin<'a> {
    s: &'a WebState,
    token: &'a str,
    lang: Lang,
}

impl LoginSlot for EntryLogin<'_> {
    type Record = PortalEntry;

    async fn load(&self) -> Result<Option<(PortalEntry, Login)>, WebError> {
        let e = entry(self.s, self.token, self.lang).await?;
        gone(&e, self.s.store.now(), self.lang)?;
        let login = login_of(self.s, &e).await?;
        Ok(Some((e, login)))
    }

    async fn save(&self, e: &PortalEntry, login: &Login) -> Result<bool, WebError> {
        // A verified login is not kept: the browser session is the proof from here on,
        // and the next visit starts again.
        let stored = if matches!(login.state, LoginState::Verified { .. }) {
            Login::new(login.rules.clone(), None, false).to_json()
        } else {
            login.to_json()
        };
        Ok(self
            .s
            .store
            .save_login(&e.id, &stored, e.login_version)
            .await?)
    }
}

/// Load, step, save (the shared loop in `login_loop.rs`), then carry out the effects.
/// Returns the step's result and the new state.
async fn advance(
    s: &WebState,
    token: &str,
    lang: Lang,
    ip: &ClientIp,
    make_event: impl Fn(&Login) -> Option<Event>,
) -> Result<(PortalEntry, Result<(), Refusal>, LoginState), WebError> {
    let slot = EntryLogin { s, token, lang };
    match login_loop::advance(&slot, lang, s.store.now(), make_event).await? {
        Advanced::Missing => Err(WebError::new(
            StatusCode::NOT_FOUND,
            ErrorKind::NotFound,
            lang,
        )),
        Advanced::Unchanged(e, login) => Ok((e, Ok(()), login.state)),
        Advanced::Stepped(e, login, step) => {
            effects(s, &e, &step.effects, ip).await?;
            Ok((e, step.result, login.state))
        }
    }
}

/// Carry out what the login machine asked for; an audit entry that cannot be written is
/// an error (a login is not accepted without its entry).
async fn effects(
    s: &WebState,
    e: &PortalEntry,
    effects: &[Effect],
    ip: &ClientIp,
) -> Result<(), WebError> {
    let from = mails::From {
        organisation: &s.organisation,
        address: &s.settings.notify_from,
    };
    for effect in effects {
        match effect {
            Effect::SendSms { phone, code } => {
                let text = format!(
                    "{code} is uw code voor het beveiligde bericht van {}. / Your code for the secure message.",
                    s.organisation
                );
                let outcome = match s.sms.send(phone, &text, &e.id).await {
                    Ok(()) => "ok",
                    Err(err) => {
                        tracing::warn!("SMS for {}: {err}", e.id);
                        "failed"
                    }
                };
                audit(
                    s,
                    e,
                    &e.recipient,
                    "code.sms",
                    ip,
                    outcome,
                    Some(mask_phone(phone)),
                )
                .await?;
            }
            Effect::MailCode { code } => {
                let minutes = s.settings.rules.code_ttl / 60;
                let outcome = match mails::code_mail(&from, &e.recipient, code, minutes) {
                    Ok(raw) => match s.mailer.send(e.recipient.clone(), raw).await {
                        Ok(()) => "ok",
                        Err(err) => {
                            tracing::error!("code mail for {}: {err}", e.id);
                            "failed"
                        }
                    },
                    Err(err) => {
                        tracing::error!("code mail for {}: {err}", e.id);
                        "failed"
                    }
                };
                audit(s, e, &e.recipient, "code.mail", ip, outcome, None).await?;
            }
            Effect::TellSenderLocked => {
                // A sender with an account unlocks or revokes on their staff page.
                let staff_page = match s.store.user(&e.sender).await {
                    Ok(Some(_)) => Some(format!("{}/staff", s.settings.public_url)),
                    _ => None,
                };
                if let Ok(raw) =
                    mails::locked_notice(&from, &e.sender, &e.recipient, staff_page.as_deref())
                    && let Err(err) = s.mailer.send(e.sender.clone(), raw).await
                {
                    tracing::error!("lock notice for {}: {err}", e.id);
                }
            }
            Effect::Audit(action) => {
                crate::metrics::portal_login(action);
                let outcome = match *action {
                    "login.failed" | "login.locked" => "refused",
                    _ => "ok",
                };
                audit(s, e, &e.recipient, action, ip, outcome, None).await?;
            }
        }
    }
    Ok(())
}

/// `POST /p/{token}/open`: the explicit action that starts a login.
pub async fn open(
    State(s): State<WebState>,
    Path(token): Path<String>,
    PageLang(lang): PageLang,
    ip: ClientIp,
    headers: HeaderMap,
    Form(f): Form<CsrfForm>,
) -> Result<Response, WebError> {
    let e = login_form(&s, &token, &headers, &f.csrf, &ip, lang, None).await?;
    gone(&e, s.store.now(), lang)?;
    if session_for(&s, &headers, &e).await?.is_some() {
        return Ok(see_other(&format!("/p/{token}/message")));
    }
    // Already past the landing (a second tab, a reload): nothing to do.
    let (_, _already, _) = advance(&s, &token, lang, &ip, |l| {
        matches!(l.state, LoginState::Landing | LoginState::Verified { .. }).then_some(Event::Open)
    })
    .await?;
    Ok(see_other(&format!("/p/{token}/verify")))
}

#[derive(Template)]
#[template(path = "verify.html")]
struct Verify<'a> {
    lang: Lang,
    organisation: &'a str,
    token: &'a str,
    csrf: String,
    /// "choose", "code" or "locked".
    step: &'a str,
    /// For "choose": (factor, detail).
    factors: Vec<(String, String)>,
    /// For "code": which factor, and where the code went.
    factor: &'a str,
    sent_to: String,
    can_resend: bool,
    notice: String,
    notice_is_error: bool,
    /// Who can unlock a locked login, and how to reach the organisation.
    sender: &'a str,
    /// The organisation's number as shown, and as a `tel:` target.
    phone: Option<(&'a str, String)>,
}

/// `GET /p/{token}/verify`: choose a factor, type a code, or learn that access is locked.
pub async fn verify(
    State(s): State<WebState>,
    Path(token): Path<String>,
    Query(q): Query<Notice>,
    PageLang(lang): PageLang,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let e = entry(&s, &token, lang).await?;
    gone(&e, s.store.now(), lang)?;
    let login = login_of(&s, &e).await?;
    let (csrf, set) = form_csrf(&s, &headers);
    let mut page = Verify {
        lang,
        organisation: &s.organisation,
        token: &token,
        csrf,
        step: "choose",
        factors: Vec::new(),
        factor: "",
        sent_to: String::new(),
        can_resend: false,
        notice: notice_text(&q, lang),
        notice_is_error: notice_is_error(&q),
        sender: &e.sender,
        phone: s
            .settings
            .brand
            .phone
            .as_deref()
            .map(|p| (p, p.replace([' ', '-'], ""))),
    };
    match &login.state {
        LoginState::Landing | LoginState::Verified { .. } => {
            return Ok(see_other(&format!("/p/{token}")));
        }
        LoginState::Choosing { .. } => page.factors = factors(&e, &login),
        LoginState::CodeSent { factor, .. } => {
            page.step = "code";
            page.can_resend = true;
            match factor {
                Factor::Sms { phone } => {
                    page.factor = "sms";
                    page.sent_to = mask_phone(phone);
                }
                _ => {
                    page.factor = "email";
                    page.sent_to = e.recipient.clone();
                }
            }
        }
        LoginState::AwaitingCode { factor, .. } => {
            page.step = "code";
            page.factor = if *factor == Factor::Totp {
                "totp"
            } else {
                "access_code"
            };
        }
        LoginState::Locked { .. } => page.step = "locked",
    }
    let status = if page.step == "locked" {
        StatusCode::FORBIDDEN
    } else {
        StatusCode::OK
    };
    Ok(with_cookie(render_page(&page, status), set))
}

fn notice_text(q: &Notice, lang: Lang) -> String {
    match q.m.as_str() {
        "wrong" => {
            let left = lang.count(q.n, ("poging", "pogingen"), ("try", "tries"));
            lang.pick(
                format!("Die code klopt niet. Nog {left}."),
                format!("That code is not right. {left} left."),
            )
        }
        "expired" => lang
            .t(
                "Die code is verlopen. Vraag een nieuwe aan.",
                "That code has expired. Ask for a new one.",
            )
            .into(),
        "wait" => {
            let wait = lang.duration(q.n);
            lang.pick(
                format!("U kunt over {wait} een nieuwe code aanvragen."),
                format!("You can ask for a new code in {wait}."),
            )
        }
        "unavailable" => lang
            .t(
                "Die manier is voor dit bericht niet beschikbaar.",
                "That way is not available for this message.",
            )
            .into(),
        "sent" => lang
            .t(
                "Er is een nieuwe code verstuurd.",
                "A new code has been sent.",
            )
            .into(),
        "empty" => lang
            .t(
                "Vul de code in die u hebt ontvangen.",
                "Enter the code you received.",
            )
            .into(),
        _ => String::new(),
    }
}

/// Whether a notice tells of something to put right (shown as an error).
fn notice_is_error(q: &Notice) -> bool {
    matches!(q.m.as_str(), "wrong" | "expired" | "unavailable" | "empty")
}

#[derive(Debug, Deserialize)]
pub struct FactorForm {
    #[serde(default)]
    csrf: String,
    factor: String,
}

/// `POST /p/{token}/factor`: send a code, or ask for the access code or a TOTP code.
pub async fn factor(
    State(s): State<WebState>,
    Path(token): Path<String>,
    PageLang(lang): PageLang,
    ip: ClientIp,
    headers: HeaderMap,
    Form(f): Form<FactorForm>,
) -> Result<Response, WebError> {
    let e = login_form(&s, &token, &headers, &f.csrf, &ip, lang, None).await?;
    let factor = match (f.factor.as_str(), &e.phone) {
        ("sms", Some(phone)) => Factor::Sms {
            phone: phone.clone(),
        },
        ("email", _) if e.email_code => Factor::Email,
        ("access_code", _) => Factor::AccessCode,
        ("totp", _) => Factor::Totp,
        _ => return Ok(see_other(&format!("/p/{token}/verify?m=unavailable"))),
    };
    if matches!(factor, Factor::Sms { .. } | Factor::Email) {
        limited(
            &s,
            &e.recipient.to_lowercase(),
            Bucket::SendsPerRecipient,
            lang,
        )
        .await?;
    }
    let digits = s.settings.rules.digits;
    let (_, result, _) = advance(&s, &token, lang, &ip, |l| {
        matches!(l.state, LoginState::Choosing { .. }).then(|| Event::Choose {
            factor: factor.clone(),
            code: matches!(factor, Factor::Sms { .. } | Factor::Email)
                .then(|| (make_code(digits, veilpost_store::random_u32), salt())),
        })
    })
    .await?;
    Ok(match result {
        Err(Refusal::FactorUnavailable) => see_other(&format!("/p/{token}/verify?m=unavailable")),
        Err(Refusal::TooManySends { retry_after }) => {
            see_other(&format!("/p/{token}/verify?m=wait&n={retry_after}"))
        }
        _ => see_other(&format!("/p/{token}/verify")),
    })
}

#[derive(Debug, Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    code: String,
}

/// Check a TOTP code against the recipient's registered app (each time step once).
async fn totp_valid(
    s: &WebState,
    e: &PortalEntry,
    code: &str,
    lang: Lang,
) -> Result<bool, WebError> {
    crate::totp::verify(
        s,
        TotpHolder::Recipient(&e.recipient),
        "Veilpost",
        code,
        lang,
    )
    .await
}

/// `POST /p/{token}/code`: check a code; on success a session begins.
pub async fn code(
    State(s): State<WebState>,
    Path(token): Path<String>,
    PageLang(lang): PageLang,
    ip: ClientIp,
    headers: HeaderMap,
    Form(f): Form<CodeForm>,
) -> Result<Response, WebError> {
    // Nothing typed: asked again, no try used up.
    if f.code.trim().is_empty() {
        return Ok(see_other(&format!("/p/{token}/verify?m=empty")));
    }
    let e = login_form(
        &s,
        &token,
        &headers,
        &f.csrf,
        &ip,
        lang,
        Some(Bucket::TriesPerRecipient),
    )
    .await?;
    let typed = f.code.chars().take(32).collect::<String>();
    let pending_totp = matches!(
        login_of(&s, &e).await?.state,
        LoginState::AwaitingCode {
            factor: Factor::Totp,
            ..
        }
    );
    let totp_ok = pending_totp && totp_valid(&s, &e, &typed, lang).await?;
    let (e, result, state) = advance(&s, &token, lang, &ip, |_| {
        Some(Event::Submit {
            code: typed.clone(),
            totp_valid: totp_ok,
        })
    })
    .await?;
    if let LoginState::Verified { factor, .. } = state {
        let proof = factor.as_ref().map(Factor::name).unwrap_or("unknown");
        let (cookie_token, _) = s.store.create_session(&e.id, proof).await?;
        let mut r = see_other(&format!("/p/{token}/message"));
        r.headers_mut().append(
            header::SET_COOKIE,
            set_cookie(&s.settings, SESSION_COOKIE, &cookie_token, None),
        );
        return Ok(r);
    }
    Ok(match result {
        Err(Refusal::WrongCode { left }) => {
            see_other(&format!("/p/{token}/verify?m=wrong&n={left}"))
        }
        Err(Refusal::CodeExpired) => see_other(&format!("/p/{token}/verify?m=expired")),
        _ => see_other(&format!("/p/{token}/verify")),
    })
}

/// `POST /p/{token}/resend`: a new SMS or e-mail code (limited).
pub async fn resend(
    State(s): State<WebState>,
    Path(token): Path<String>,
    PageLang(lang): PageLang,
    ip: ClientIp,
    headers: HeaderMap,
    Form(f): Form<CsrfForm>,
) -> Result<Response, WebError> {
    login_form(
        &s,
        &token,
        &headers,
        &f.csrf,
        &ip,
        lang,
        Some(Bucket::SendsPerRecipient),
    )
    .await?;
    let digits = s.settings.rules.digits;
    let (_, result, _) = advance(&s, &token, lang, &ip, |_| {
        Some(Event::Resend {
            code: make_code(digits, veilpost_store::random_u32),
            salt: salt(),
        })
    })
    .await?;
    Ok(match result {
        Ok(()) => see_other(&format!("/p/{token}/verify?m=sent")),
        Err(Refusal::TooManySends { retry_after }) => {
            see_other(&format!("/p/{token}/verify?m=wait&n={retry_after}"))
        }
        Err(_) => see_other(&format!("/p/{token}/verify")),
    })
}

/// `POST /p/{token}/back`: choose another way (the wrong tries so far stay counted).
pub async fn back(
    State(s): State<WebState>,
    Path(token): Path<String>,
    PageLang(lang): PageLang,
    ip: ClientIp,
    headers: HeaderMap,
    Form(f): Form<CsrfForm>,
) -> Result<Response, WebError> {
    login_form(&s, &token, &headers, &f.csrf, &ip, lang, None).await?;
    // Nothing to go back from (a replayed form) changes nothing.
    let (_, _nothing, _) = advance(&s, &token, lang, &ip, |_| Some(Event::Back)).await?;
    Ok(see_other(&format!("/p/{token}/verify")))
}

/// `POST /p/{token}/logout`.
pub async fn logout(
    State(s): State<WebState>,
    Path(token): Path<String>,
    PageLang(lang): PageLang,
    headers: HeaderMap,
    Form(f): Form<CsrfForm>,
) -> Result<Response, WebError> {
    let e = entry(&s, &token, lang).await?;
    if let Some((cookie_token, session)) = session_for(&s, &headers, &e).await? {
        if !same_secret(&session.csrf, &f.csrf) {
            return Err(WebError::new(StatusCode::FORBIDDEN, ErrorKind::Csrf, lang));
        }
        s.store
            .end_session(SessionKind::Portal, &cookie_token)
            .await?;
    }
    let mut r = see_other(&format!("/p/{token}?m=ended"));
    r.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(&s.settings, SESSION_COOKIE, "", Some(0)),
    );
    Ok(r.into_response())
}
