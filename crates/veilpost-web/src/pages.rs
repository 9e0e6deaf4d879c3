//! The recipient's pages. The link (`GET /p/{token}`) only ever shows the landing page and
//! changes nothing, so link scanners can fetch it as often as they like. Everything that
//! moves the login on is a POST with a CSRF token; the login's state lives in the database
//! per message and recipient (so clearing cookies gains no new tries), and a verified
//! recipient gets a browser session (HttpOnly, SameSite=Strict, 15 minutes idle).

use askama::Template;
use axum::body::Body;
use axum::extract::{Form, Multipart, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use totp_rs::{Algorithm, Builder, Secret, Totp};
use veilpost_portal::login::{
    Effect, Event, Factor, Login, Refusal, State as LoginState, StoredCode, make_code,
};
use veilpost_store::{AuditEvent, Envelope, Milestone, Origin, PortalEntry, PortalSession, now};

use crate::mails::{self, ReplyFile};
use crate::render::{self, View};
use crate::sms::mask_phone;
use crate::{
    ClientIp, ErrorKind, Lang, WebError, WebState, check_form_csrf, cookie, cookie_name, form_csrf,
    render as render_page, same_secret, see_other, set_cookie, when, with_cookie,
};

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
) {
    let event = AuditEvent {
        actor: actor.to_string(),
        action: action.to_string(),
        subject: Some(format!("message {} / {}", e.message_id, e.id)),
        detail,
        ip: Some(ip.0.clone()),
        outcome: Some(outcome.to_string()),
    };
    if let Err(err) = s.store.audit_event(event).await {
        tracing::error!("audit {action}: {err}");
    }
}

type Bucket = fn(&mut crate::Limits) -> &mut veilpost_portal::RateLimit;

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
    limited(s, &ip.0, |l| &mut l.per_ip, lang)?;
    let e = entry(s, token, lang).await?;
    if let Some(bucket) = per_recipient {
        limited(s, &e.recipient.to_lowercase(), bucket, lang)?;
    }
    Ok(e)
}

/// The per-address limit on login actions.
pub(crate) fn limit_ip(s: &WebState, ip: &ClientIp, lang: Lang) -> Result<(), WebError> {
    limited(s, &ip.0, |l| &mut l.per_ip, lang)
}

/// The limit on codes sent (by SMS or mail) to one recipient.
pub(crate) fn limit_sends(s: &WebState, to: &str, lang: Lang) -> Result<(), WebError> {
    limited(s, &to.to_lowercase(), |l| &mut l.sends_per_recipient, lang)
}

fn limited(s: &WebState, key: &str, which: Bucket, lang: Lang) -> Result<(), WebError> {
    let mut l = s
        .limits
        .lock()
        .map_err(|_| WebError::internal(lang, "rate limit lock poisoned"))?;
    which(&mut l)
        .hit(key, now())
        .map_err(|_| WebError::new(StatusCode::TOO_MANY_REQUESTS, ErrorKind::TooMany, lang))
}

/// The login as stored, or a fresh one; a stored state that does not parse counts as
/// locked (fail closed).
async fn login_of(s: &WebState, e: &PortalEntry) -> Result<Login, WebError> {
    let has_totp = s.store.totp(&e.recipient).await?.is_some();
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
    let t = now();
    if session.vault_id != e.id {
        return Ok(None);
    }
    if session.last_seen + s.settings.idle_timeout < t
        || session.created_at + s.settings.session_max < t
    {
        s.store.end_session(token).await?;
        return Ok(None);
    }
    if t - session.last_seen >= 30 {
        s.store.touch_session(token).await?;
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
fn gone(e: &PortalEntry, lang: Lang) -> Result<(), WebError> {
    if e.readable(now()) {
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
    lang: Lang,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let found = s.store.portal_by_token(&token).await?;
    let (csrf, set) = form_csrf(&s, &headers);
    let t = now();
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
            .map(|e| when(e.expires_at, false))
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

/// Load, step, save (retrying when another request changed the login meanwhile), then
/// carry out the effects. Returns the step's result and the new state.
async fn advance(
    s: &WebState,
    token: &str,
    lang: Lang,
    ip: &ClientIp,
    make_event: impl Fn(&Login) -> Option<Event>,
) -> Result<(PortalEntry, Result<(), Refusal>, LoginState), WebError> {
    for _ in 0..5 {
        let e = entry(s, token, lang).await?;
        gone(&e, lang)?;
        let mut login = login_of(s, &e).await?;
        let Some(event) = make_event(&login) else {
            let state = login.state.clone();
            return Ok((e, Ok(()), state));
        };
        let step = login.step(event, now());
        let verified = matches!(login.state, LoginState::Verified { .. });
        // A verified login is not kept: the browser session is the proof from here on,
        // and the next visit starts again.
        let stored = if verified {
            Login::new(login.rules.clone(), None, false).to_json()
        } else {
            login.to_json()
        };
        if !s.store.save_login(&e.id, &stored, e.login_version).await? {
            continue;
        }
        effects(s, &e, &step.effects, ip).await;
        return Ok((e, step.result, login.state));
    }
    Err(WebError::new(
        StatusCode::CONFLICT,
        ErrorKind::TooMany,
        lang,
    ))
}

/// Carry out what the login machine asked for.
async fn effects(s: &WebState, e: &PortalEntry, effects: &[Effect], ip: &ClientIp) {
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
                .await;
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
                audit(s, e, &e.recipient, "code.mail", ip, outcome, None).await;
            }
            Effect::TellSenderLocked => {
                if let Ok(raw) = mails::locked_notice(&from, &e.sender, &e.recipient, None)
                    && let Err(err) = s.mailer.send(e.sender.clone(), raw).await
                {
                    tracing::error!("lock notice for {}: {err}", e.id);
                }
            }
            Effect::Audit(action) => {
                let outcome = match *action {
                    "login.failed" | "login.locked" => "refused",
                    _ => "ok",
                };
                audit(s, e, &e.recipient, action, ip, outcome, None).await;
            }
        }
    }
}

/// `POST /p/{token}/open`: the explicit action that starts a login.
pub async fn open(
    State(s): State<WebState>,
    Path(token): Path<String>,
    lang: Lang,
    ip: ClientIp,
    headers: HeaderMap,
    Form(f): Form<CsrfForm>,
) -> Result<Response, WebError> {
    let e = login_form(&s, &token, &headers, &f.csrf, &ip, lang, None).await?;
    gone(&e, lang)?;
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
}

/// `GET /p/{token}/verify`: choose a factor, type a code, or learn that access is locked.
pub async fn verify(
    State(s): State<WebState>,
    Path(token): Path<String>,
    Query(q): Query<Notice>,
    lang: Lang,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let e = entry(&s, &token, lang).await?;
    gone(&e, lang)?;
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
        "wrong" => match lang.0 {
            "en" => format!("That code is not right. {} tries left.", q.n),
            _ => format!("Die code klopt niet. Nog {} pogingen.", q.n),
        },
        "expired" => lang
            .t(
                "Die code is verlopen. Vraag een nieuwe aan.",
                "That code has expired. Ask for a new one.",
            )
            .into(),
        "wait" => match lang.0 {
            "en" => format!("You can ask for a new code in {} seconds.", q.n),
            _ => format!("U kunt over {} seconden een nieuwe code aanvragen.", q.n),
        },
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
        _ => String::new(),
    }
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
    lang: Lang,
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
            |l| &mut l.sends_per_recipient,
            lang,
        )?;
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
        _ => see_other(&format!("/p/{token}/verify")),
    })
}

#[derive(Debug, Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    csrf: String,
    code: String,
}

/// Check a TOTP code against the recipient's registered app (each time step once).
async fn totp_valid(s: &WebState, e: &PortalEntry, code: &str) -> Result<bool, WebError> {
    let Some(rec) = s.store.totp(&e.recipient).await? else {
        return Ok(false);
    };
    let context = format!("totp:{}", e.recipient.to_lowercase());
    let Ok(secret) = s.master_key.open(&context, &rec.wrapped, &rec.secret) else {
        return Ok(false);
    };
    let Some(totp) = make_totp(secret, &e.recipient, "Veilpost") else {
        return Ok(false);
    };
    let code: String = code.chars().filter(|c| c.is_ascii_digit()).collect();
    // The current step and one either side (clock drift); the step used is burnt, so a
    // code seen over someone's shoulder cannot be used again.
    match totp.check(&code, now().max(0) as u64) {
        Some(step) => Ok(s.store.use_totp_step(&e.recipient, step as i64).await?),
        None => Ok(false),
    }
}

/// A TOTP (SHA-1, 6 digits, 30 s, one step of drift) for `account`, shown in the app
/// under `issuer`.
pub(crate) fn make_totp(secret: Vec<u8>, account: &str, issuer: &str) -> Option<Totp> {
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(30)
        .with_secret(secret)
        .with_account_name(account.replace(':', "_"))
        .with_issuer(Some(issuer.replace(':', " ")))
        .build()
        .ok()
}

/// `POST /p/{token}/code`: check a code; on success a session begins.
pub async fn code(
    State(s): State<WebState>,
    Path(token): Path<String>,
    lang: Lang,
    ip: ClientIp,
    headers: HeaderMap,
    Form(f): Form<CodeForm>,
) -> Result<Response, WebError> {
    let tries: Bucket = |l| &mut l.tries_per_recipient;
    let e = login_form(&s, &token, &headers, &f.csrf, &ip, lang, Some(tries)).await?;
    let typed = f.code.chars().take(32).collect::<String>();
    let pending_totp = matches!(
        login_of(&s, &e).await?.state,
        LoginState::AwaitingCode {
            factor: Factor::Totp,
            ..
        }
    );
    let totp_ok = pending_totp && totp_valid(&s, &e, &typed).await?;
    let (e, result, state) = advance(&s, &token, lang, &ip, |_| {
        Some(Event::Submit {
            code: typed.clone(),
            totp_valid: totp_ok,
        })
    })
    .await?;
    if let LoginState::Verified { .. } = state {
        let (cookie_token, _) = s.store.create_session(&e.id).await?;
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
    lang: Lang,
    ip: ClientIp,
    headers: HeaderMap,
    Form(f): Form<CsrfForm>,
) -> Result<Response, WebError> {
    let sends: Bucket = |l| &mut l.sends_per_recipient;
    login_form(&s, &token, &headers, &f.csrf, &ip, lang, Some(sends)).await?;
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
    lang: Lang,
    ip: ClientIp,
    headers: HeaderMap,
    Form(f): Form<CsrfForm>,
) -> Result<Response, WebError> {
    login_form(&s, &token, &headers, &f.csrf, &ip, lang, None).await?;
    // Nothing to go back from (a replayed form) changes nothing.
    let (_, _nothing, _) = advance(&s, &token, lang, &ip, |_| Some(Event::Back)).await?;
    Ok(see_other(&format!("/p/{token}/verify")))
}

/// The decrypted message of a readable entry.
fn decrypt(
    s: &WebState,
    e: &PortalEntry,
    ciphertext: &[u8],
    lang: Lang,
) -> Result<Vec<u8>, WebError> {
    s.master_key
        .open(&e.id, &e.wrapped_key, ciphertext)
        .map_err(|err| WebError::internal(lang, format!("vault entry {}: {err}", e.id)))
}

/// A verified, readable entry and its plaintext.
async fn open_entry(
    s: &WebState,
    token: &str,
    headers: &HeaderMap,
    lang: Lang,
) -> Result<(PortalEntry, PortalSession, Vec<u8>), WebError> {
    let e = entry(s, token, lang).await?;
    gone(&e, lang)?;
    let (_, session) = require_session(s, headers, &e, lang).await?;
    let ciphertext = s.store.blobs().read(&e.blob).await?;
    let plain = decrypt(s, &e, &ciphertext, lang)?;
    Ok((e, session, plain))
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage<'a> {
    lang: Lang,
    organisation: &'a str,
    token: &'a str,
    csrf: &'a str,
    view: View,
    expires: String,
    sent: bool,
    totp_done: bool,
    has_totp: bool,
    /// An upload request: the upload form comes first.
    upload: bool,
    types: String,
}

#[derive(Debug, Deserialize, Default)]
pub struct MessageQuery {
    #[serde(default)]
    sent: Option<String>,
    #[serde(default)]
    totp: Option<String>,
}

/// `GET /p/{token}/message`: the message itself.
pub async fn message(
    State(s): State<WebState>,
    Path(token): Path<String>,
    Query(q): Query<MessageQuery>,
    lang: Lang,
    ip: ClientIp,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let (e, session, plain) = open_entry(&s, &token, &headers, lang).await?;
    let view = render::view(&plain);
    audit(&s, &e, &e.recipient, "message.viewed", &ip, "ok", None).await;
    if e.opened_at.is_none()
        && s.store.portal_milestone(&e.id, Milestone::Opened).await?
        && e.read_receipt
    {
        let from = mails::From {
            organisation: &s.organisation,
            address: &s.settings.notify_from,
        };
        match mails::read_receipt(&from, &e.sender, &e.recipient, &when(now(), true), None) {
            Ok(raw) => {
                if let Err(err) = s.mailer.send(e.sender.clone(), raw).await {
                    tracing::error!("read receipt for {}: {err}", e.id);
                }
            }
            Err(err) => tracing::error!("read receipt for {}: {err}", e.id),
        }
    }
    let has_totp = s.store.totp(&e.recipient).await?.is_some();
    let page = MessagePage {
        lang,
        organisation: &s.organisation,
        token: &token,
        csrf: &session.csrf,
        view,
        expires: when(e.expires_at, false),
        sent: q.sent.is_some(),
        totp_done: q.totp.is_some(),
        has_totp,
        upload: e.upload,
        types: s.settings.intake_types.join(", "),
    };
    Ok(render_page(&page, StatusCode::OK))
}

/// A download: never rendered by the browser, named safely (RFC 6266).
fn download(name: &str, content_type: &'static str, bytes: Vec<u8>) -> Response {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || ".-_ ".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String = name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b".-_".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let disposition = format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}");
    let mut r = Response::new(Body::from(bytes));
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    r
}

/// `GET /p/{token}/attachment/{n}`.
pub async fn attachment(
    State(s): State<WebState>,
    Path((token, n)): Path<(String, usize)>,
    lang: Lang,
    ip: ClientIp,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let (e, _, plain) = open_entry(&s, &token, &headers, lang).await?;
    let Some((name, bytes)) = render::attachment(&plain, n) else {
        return Err(WebError::new(
            StatusCode::NOT_FOUND,
            ErrorKind::NotFound,
            lang,
        ));
    };
    let detail = format!("attachment {} ({} bytes)", n + 1, bytes.len());
    let what = ("attachment.downloaded", detail.as_str());
    hand_over(&s, &e, &ip, what, &name, "application/octet-stream", bytes).await
}

/// A copy leaves the portal: audited, noted as downloaded, sent as a download.
async fn hand_over(
    s: &WebState,
    e: &PortalEntry,
    ip: &ClientIp,
    (action, detail): (&str, &str),
    name: &str,
    content_type: &'static str,
    bytes: Vec<u8>,
) -> Result<Response, WebError> {
    audit(
        s,
        e,
        &e.recipient,
        action,
        ip,
        "ok",
        Some(detail.to_string()),
    )
    .await;
    if e.downloaded_at.is_none() {
        s.store
            .portal_milestone(&e.id, Milestone::Downloaded)
            .await?;
    }
    Ok(download(name, content_type, bytes))
}

/// `GET /p/{token}/save.eml`: the whole message, attachments included.
pub async fn save_eml(
    State(s): State<WebState>,
    Path(token): Path<String>,
    lang: Lang,
    ip: ClientIp,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let (e, _, plain) = open_entry(&s, &token, &headers, lang).await?;
    let what = ("message.saved", "eml");
    hand_over(&s, &e, &ip, what, "bericht.eml", "message/rfc822", plain).await
}

/// `GET /p/{token}/save.html`: a readable copy to keep.
pub async fn save_html(
    State(s): State<WebState>,
    Path(token): Path<String>,
    lang: Lang,
    ip: ClientIp,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let (e, _, plain) = open_entry(&s, &token, &headers, lang).await?;
    let html = render::standalone_html(&render::view(&plain), &s.organisation).into_bytes();
    let what = ("message.saved", "html");
    hand_over(
        &s,
        &e,
        &ip,
        what,
        "bericht.html",
        "text/html; charset=utf-8",
        html,
    )
    .await
}

/// Most files in one upload.
const MAX_FILES: usize = 10;

/// A multipart form with text fields and files, read within limits.
#[derive(Debug, Default)]
pub(crate) struct Upload {
    pub fields: std::collections::HashMap<String, String>,
    pub files: Vec<ReplyFile>,
}

impl Upload {
    pub fn field(&self, name: &str) -> &str {
        self.fields.get(name).map(String::as_str).unwrap_or("")
    }
}

/// Read `form`: at most `max_size` bytes in all, `MAX_FILES` files (field `files`), and
/// when `allowed` is given only files whose extension is in it (415 otherwise).
pub(crate) async fn read_upload(
    mut form: Multipart,
    max_size: usize,
    allowed: Option<&[String]>,
    clamd: Option<&str>,
    lang: Lang,
) -> Result<Upload, WebError> {
    let bad = || WebError::new(StatusCode::BAD_REQUEST, ErrorKind::BadInput, lang);
    let too_large = || WebError::new(StatusCode::PAYLOAD_TOO_LARGE, ErrorKind::BadInput, lang);
    let mut up = Upload::default();
    let mut total = 0usize;
    while let Some(field) = form.next_field().await.map_err(|_| bad())? {
        let name = field.name().unwrap_or("").to_string();
        if name != "files" {
            let value = field.text().await.map_err(|_| bad())?;
            total += value.len();
            if total > max_size || up.fields.len() > 20 {
                return Err(too_large());
            }
            up.fields.insert(name, value);
            continue;
        }
        let file_name = field.file_name().map(str::to_string);
        let content_type = field
            .content_type()
            .unwrap_or("application/octet-stream")
            .to_string();
        let bytes = field.bytes().await.map_err(|_| bad())?;
        if bytes.is_empty() && file_name.as_deref().unwrap_or("").is_empty() {
            continue;
        }
        total += bytes.len();
        if up.files.len() >= MAX_FILES || total > max_size {
            return Err(too_large());
        }
        let safe = render::safe_name(file_name.as_deref(), up.files.len());
        if let Some(allowed) = allowed {
            let ext = safe.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
            if !ext.is_some_and(|e| allowed.iter().any(|a| a.eq_ignore_ascii_case(&e))) {
                return Err(WebError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    ErrorKind::FileType,
                    lang,
                ));
            }
        }
        up.files.push(ReplyFile {
            name: safe,
            content_type: if content_type.contains('/') && content_type.len() < 100 {
                content_type
            } else {
                "application/octet-stream".into()
            },
            bytes: bytes.to_vec(),
        });
    }
    if let Some(addr) = clamd {
        for f in &up.files {
            match crate::clamd::scan(addr, &f.bytes, std::time::Duration::from_secs(30)).await {
                Ok(crate::clamd::Verdict::Clean) => {}
                Ok(crate::clamd::Verdict::Found(name)) => {
                    tracing::warn!("upload refused: {name} in an uploaded file");
                    return Err(WebError::new(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        ErrorKind::Malware,
                        lang,
                    ));
                }
                Err(e) => {
                    let err = WebError::new(
                        StatusCode::SERVICE_UNAVAILABLE,
                        ErrorKind::Unavailable,
                        lang,
                    );
                    tracing::error!("web error {}: virus scan: {e}", err.id);
                    return Err(err);
                }
            }
        }
    }
    Ok(up)
}

/// `POST /p/{token}/reply` (multipart: csrf, text, files): a secure reply to the sender.
pub async fn reply(
    State(s): State<WebState>,
    Path(token): Path<String>,
    lang: Lang,
    ip: ClientIp,
    headers: HeaderMap,
    form: Multipart,
) -> Result<Response, WebError> {
    let e = entry(&s, &token, lang).await?;
    gone(&e, lang)?;
    let (_, session) = require_session(&s, &headers, &e, lang).await?;
    // Replies carry files from outside: the same allow-list as the contact form.
    let allowed = Some(s.settings.intake_types.as_slice());
    let clamd = s.settings.clamd.as_deref();
    let up = read_upload(form, s.settings.max_reply_size, allowed, clamd, lang).await?;
    if !same_secret(&session.csrf, up.field("csrf")) {
        return Err(WebError::new(StatusCode::FORBIDDEN, ErrorKind::Csrf, lang));
    }
    let text = up.field("text").to_string();
    let files = up.files;
    if text.trim().is_empty() && files.is_empty() {
        return Ok(see_other(&format!("/p/{token}/message")));
    }
    let ciphertext = s.store.blobs().read(&e.blob).await?;
    let original = render::view(&decrypt(&s, &e, &ciphertext, lang)?);
    let from = mails::From {
        organisation: &s.organisation,
        address: &s.settings.notify_from,
    };
    let raw = mails::reply(
        &from,
        &e.recipient,
        &e.sender,
        &original.subject,
        original.message_id.as_deref(),
        &text,
        files,
    )
    .map_err(|err| WebError::internal(lang, err))?;
    let envelope = Envelope {
        origin: Origin::Reply,
        mail_from: e.recipient.clone(),
        rcpt_to: vec![e.sender.clone()],
        auth_user: None,
        client_ip: Some(ip.0.clone()),
    };
    let id = s
        .mailer
        .submit(envelope, raw)
        .await
        .map_err(|err| WebError::internal(lang, err))?;
    audit(
        &s,
        &e,
        &e.recipient,
        "reply.sent",
        &ip,
        "ok",
        Some(format!("reply {id}")),
    )
    .await;
    s.store.portal_milestone(&e.id, Milestone::Replied).await?;
    Ok(see_other(&format!("/p/{token}/message?sent=1")))
}

#[derive(Template)]
#[template(path = "totp.html")]
struct TotpPage<'a> {
    lang: Lang,
    organisation: &'a str,
    token: &'a str,
    csrf: &'a str,
    secret: String,
    uri: String,
    wrong: bool,
}

fn totp_page<'a>(
    s: &'a WebState,
    token: &'a str,
    csrf: &'a str,
    e: &PortalEntry,
    secret: Secret,
    wrong: bool,
    lang: Lang,
) -> Result<TotpPage<'a>, WebError> {
    let totp = make_totp(secret.as_ref().to_vec(), &e.recipient, "Veilpost")
        .ok_or_else(|| WebError::internal(lang, "totp"))?;
    Ok(TotpPage {
        lang,
        organisation: &s.organisation,
        token,
        csrf,
        secret: secret.to_base32(),
        uri: totp.to_url().unwrap_or_default(),
        wrong,
    })
}

/// `GET /p/{token}/totp`: register an authenticator app for the next visits.
pub async fn totp_form(
    State(s): State<WebState>,
    Path(token): Path<String>,
    lang: Lang,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let e = entry(&s, &token, lang).await?;
    gone(&e, lang)?;
    let (_, session) = require_session(&s, &headers, &e, lang).await?;
    let page = totp_page(
        &s,
        &token,
        &session.csrf,
        &e,
        Secret::generate(),
        false,
        lang,
    )?;
    Ok(render_page(&page, StatusCode::OK))
}

#[derive(Debug, Deserialize)]
pub struct TotpForm {
    #[serde(default)]
    csrf: String,
    secret: String,
    code: String,
}

/// `POST /p/{token}/totp`: keep the app once it shows a right code.
pub async fn totp_register(
    State(s): State<WebState>,
    Path(token): Path<String>,
    lang: Lang,
    ip: ClientIp,
    headers: HeaderMap,
    Form(f): Form<TotpForm>,
) -> Result<Response, WebError> {
    let e = entry(&s, &token, lang).await?;
    gone(&e, lang)?;
    let (_, session) = require_session(&s, &headers, &e, lang).await?;
    if !same_secret(&session.csrf, &f.csrf) {
        return Err(WebError::new(StatusCode::FORBIDDEN, ErrorKind::Csrf, lang));
    }
    let secret = Secret::try_from_base32(f.secret.chars().take(64).collect::<String>())
        .map_err(|_| WebError::new(StatusCode::BAD_REQUEST, ErrorKind::BadInput, lang))?;
    let bytes = secret.as_ref().to_vec();
    let totp = make_totp(bytes.clone(), &e.recipient, "Veilpost")
        .ok_or_else(|| WebError::new(StatusCode::BAD_REQUEST, ErrorKind::BadInput, lang))?;
    let code: String = f.code.chars().filter(|c| c.is_ascii_digit()).collect();
    if totp.check(&code, now().max(0) as u64).is_none() {
        let page = totp_page(&s, &token, &session.csrf, &e, secret, true, lang)?;
        return Ok(render_page(&page, StatusCode::UNPROCESSABLE_ENTITY));
    }
    let context = format!("totp:{}", e.recipient.to_lowercase());
    let sealed = s
        .master_key
        .seal(&context, &bytes)
        .map_err(|err| WebError::internal(lang, err))?;
    s.store
        .put_totp(
            &e.recipient,
            &sealed.ciphertext,
            &sealed.wrapped_key,
            &sealed.key_id,
        )
        .await?;
    audit(&s, &e, &e.recipient, "totp.registered", &ip, "ok", None).await;
    Ok(see_other(&format!("/p/{token}/message?totp=1")))
}

/// `POST /p/{token}/logout`.
pub async fn logout(
    State(s): State<WebState>,
    Path(token): Path<String>,
    lang: Lang,
    headers: HeaderMap,
    Form(f): Form<CsrfForm>,
) -> Result<Response, WebError> {
    let e = entry(&s, &token, lang).await?;
    if let Some((cookie_token, session)) = session_for(&s, &headers, &e).await? {
        if !same_secret(&session.csrf, &f.csrf) {
            return Err(WebError::new(StatusCode::FORBIDDEN, ErrorKind::Csrf, lang));
        }
        s.store.end_session(&cookie_token).await?;
    }
    let mut r = see_other(&format!("/p/{token}?m=ended"));
    r.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(&s.settings, SESSION_COOKIE, "", Some(0)),
    );
    Ok(r.into_response())
}
