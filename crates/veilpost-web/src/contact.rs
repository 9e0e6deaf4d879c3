//! The secure contact form (`/contact`): patients and clients write to the organisation
//! without plain e-mail. They confirm their address with an e-mailed code (the same login
//! machine as the portal: 10 minutes, 5 tries), then write a message with attachments
//! (size limit, file-type allow-list). It is spooled like submitted mail, marked secure
//! and addressed to `intake.mailbox`, so it is scanned and reaches the organisation only
//! over secure transport or as a portal notification.

use askama::Template;
use axum::extract::{Form, Multipart, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use serde::Deserialize;
use veilpost_portal::login::{
    Effect, Event, Factor, Login, Refusal, State as LoginState, make_code,
};
use veilpost_store::{AuditEvent, Envelope, Intake, Origin};

use crate::login_loop::{self, Advanced, LoginSlot};
use crate::pages::Notice;
use crate::uploads::{read_upload_keeping, types_in_words};
use crate::{
    ClientIp, ErrorKind, Lang, PageLang, WebError, WebState, check_form_csrf, cookie, cookie_name,
    form_csrf, mails, render as render_page, same_secret, see_other, set_cookie, with_cookie,
};

const INTAKE_COOKIE: &str = "vp_intake";

fn mailbox(s: &WebState, lang: Lang) -> Result<String, WebError> {
    s.settings
        .intake_mailbox
        .clone()
        .ok_or_else(|| WebError::new(StatusCode::NOT_FOUND, ErrorKind::NotFound, lang))
}

/// An entry in the audit log; one that cannot be written fails the action it records.
async fn audit(
    s: &WebState,
    i: &Intake,
    action: &str,
    ip: &ClientIp,
    outcome: &str,
) -> Result<(), WebError> {
    let event = AuditEvent {
        actor: i.email.clone(),
        action: action.to_string(),
        subject: Some(format!("contact form {}", i.id)),
        detail: None,
        ip: Some(ip.0.clone()),
        outcome: Some(outcome.to_string()),
    };
    s.store.audit_event(event).await.map_err(|e| {
        tracing::error!("audit {action}: {e}");
        WebError::from(e)
    })
}

/// A plausible mailbox address (the code proves it is theirs).
fn plausible_email(e: &str) -> bool {
    let e = e.trim();
    e.len() <= 254
        && !e.contains(char::is_whitespace)
        && e.split_once('@')
            .is_some_and(|(l, d)| !l.is_empty() && d.contains('.') && !d.starts_with('.'))
}

#[derive(Template)]
#[template(path = "contact.html")]
struct ContactPage<'a> {
    lang: Lang,
    organisation: &'a str,
    /// `email`, `code`, `write`, `sent` or `locked`.
    step: &'a str,
    id: &'a str,
    email: String,
    csrf: String,
    notice: String,
    types: String,
    /// `.pdf,.jpg,…` for the file picker (the server checks again).
    accept: String,
    /// The organisation's phone number, for urgent matters, and as a `tel:` target.
    phone: Option<&'a str>,
    tel: String,
    /// Working days within which the organisation usually answers, in words.
    response: String,
    /// What the patient typed, shown again when something was refused.
    kept: Kept,
    /// After sending: the reference to quote.
    reference: String,
    /// Files kept from a try that was sent back (their names).
    kept_files: Vec<String>,
}

/// The write step's fields, kept on a refusal, with the reason beside the field it is
/// about.
#[derive(Debug, Default)]
pub(crate) struct Kept {
    pub name: String,
    pub phone: String,
    pub text: String,
    pub phone_error: String,
    pub files_error: String,
    pub text_error: String,
}

/// The reference a patient quotes and the organisation finds in the message it got:
/// short, from the form's id (never the queue id).
pub(crate) fn reference(id: &str) -> String {
    let h = veilpost_store::vault::token_hash(id).to_ascii_uppercase();
    format!("CF-{}-{}", &h[..4], &h[4..8])
}

/// A phone number someone may give to be called back: digits with the usual signs.
fn plausible_phone(p: &str) -> bool {
    let digits = p.chars().filter(char::is_ascii_digit).count();
    (8..=15).contains(&digits)
        && p.len() <= 30
        && p.chars()
            .all(|c| c.is_ascii_digit() || " +-()./".contains(c))
}

fn page<'a>(
    s: &'a WebState,
    lang: Lang,
    step: &'a str,
    id: &'a str,
    csrf: String,
) -> ContactPage<'a> {
    ContactPage {
        lang,
        organisation: &s.organisation,
        step,
        id,
        email: String::new(),
        csrf,
        notice: String::new(),
        types: types_in_words(&s.settings.intake_types, lang),
        accept: s
            .settings
            .intake_types
            .iter()
            .map(|t| format!(".{t}"))
            .collect::<Vec<_>>()
            .join(","),
        phone: s.settings.brand.phone.as_deref(),
        tel: s
            .settings
            .brand
            .phone
            .as_deref()
            .unwrap_or("")
            .chars()
            .filter(|c| c.is_ascii_digit() || *c == '+')
            .collect(),
        response: lang.count(
            s.settings.intake_response_days.into(),
            ("werkdag", "werkdagen"),
            ("working day", "working days"),
        ),
        kept: Kept::default(),
        reference: reference(id),
        kept_files: Vec::new(),
    }
}

/// `GET /contact`: the e-mail address first.
pub async fn start(
    State(s): State<WebState>,
    PageLang(lang): PageLang,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    mailbox(&s, lang)?;
    let (csrf, set) = form_csrf(&s, &headers);
    Ok(with_cookie(
        render_page(&page(&s, lang, "email", "", csrf), StatusCode::OK),
        set,
    ))
}

#[derive(Debug, Deserialize)]
pub struct EmailForm {
    #[serde(default)]
    csrf: String,
    email: String,
}

/// `POST /contact`: mail a code to the address.
pub async fn begin(
    State(s): State<WebState>,
    PageLang(lang): PageLang,
    ip: ClientIp,
    headers: HeaderMap,
    Form(f): Form<EmailForm>,
) -> Result<Response, WebError> {
    mailbox(&s, lang)?;
    check_form_csrf(&s, &headers, &f.csrf, lang)?;
    let email = f.email.trim().to_string();
    crate::limits::limit_ip(&s, &ip, lang).await?;
    if !plausible_email(&email) {
        let mut p = page(&s, lang, "email", "", f.csrf.clone());
        p.email = email;
        p.notice = lang
            .t("Dat is geen e-mailadres.", "That is not an e-mail address.")
            .into();
        return Ok(render_page(&p, StatusCode::UNPROCESSABLE_ENTITY));
    }
    crate::limits::limit_intake_sends(&s, &email, lang).await?;
    let mut login = Login::new(s.settings.rules.clone(), None, false);
    let t = s.store.now();
    login.step(Event::Open, t);
    let mut salt = [0u8; 16];
    veilpost_store::random(&mut salt);
    let step = login.step(
        Event::Choose {
            factor: Factor::Email,
            code: Some((
                make_code(s.settings.rules.digits, veilpost_store::random_u32),
                salt,
            )),
        },
        t,
    );
    let id = s.store.create_intake(&email, &login.to_json()).await?;
    let intake = s
        .store
        .intake(&id)
        .await?
        .ok_or_else(|| WebError::internal(lang, "intake just made is missing"))?;
    effects(&s, &intake, &step.effects, &ip).await?;
    Ok(see_other(&format!("/contact/{id}")))
}

async fn effects(
    s: &WebState,
    i: &Intake,
    effects: &[Effect],
    ip: &ClientIp,
) -> Result<(), WebError> {
    for effect in effects {
        match effect {
            Effect::MailCode { code } => {
                let from = mails::From {
                    organisation: &s.organisation,
                    address: &s.settings.notify_from,
                };
                let minutes = s.settings.rules.code_ttl / 60;
                let sent = match mails::code_mail(&from, &i.email, code, minutes) {
                    Ok(raw) => s.mailer.send(i.email.clone(), raw).await.is_ok(),
                    Err(_) => false,
                };
                audit(s, i, "intake.code", ip, if sent { "ok" } else { "failed" }).await?;
            }
            Effect::Audit(action) => {
                let outcome = if action.contains("failed") || action.contains("locked") {
                    "refused"
                } else {
                    "ok"
                };
                audit(s, i, &format!("intake.{action}"), ip, outcome).await?;
            }
            Effect::SendSms { .. } | Effect::TellSenderLocked => {}
        }
    }
    Ok(())
}

async fn intake(s: &WebState, id: &str, lang: Lang) -> Result<Intake, WebError> {
    s.store
        .intake(id)
        .await?
        .ok_or_else(|| WebError::new(StatusCode::NOT_FOUND, ErrorKind::NotFound, lang))
}

/// The browser holds this form's session.
fn has_session(s: &WebState, headers: &HeaderMap, i: &Intake) -> bool {
    let token = cookie(headers, &cookie_name(&s.settings, INTAKE_COOKIE)).unwrap_or("");
    let fresh = i
        .verified_at
        .is_some_and(|v| v + s.settings.idle_timeout * 4 > s.store.now());
    fresh
        && i.session_hash
            .as_deref()
            .is_some_and(|h| same_secret(h, &veilpost_store::vault::token_hash(token)))
}

/// Keep a refused try's acceptable files, sealed, for the next try.
async fn keep_files(
    s: &WebState,
    id: &str,
    files: &[mails::ReplyFile],
    lang: Lang,
) -> Result<(), WebError> {
    if files.is_empty() {
        return Ok(());
    }
    let sealed = s
        .master_key
        .seal(&format!("intake-files:{id}"), &crate::uploads::pack(files))
        .map_err(|e| WebError::internal(lang, e))?;
    let blob = s.store.blobs().write(sealed.ciphertext).await?;
    s.store
        .keep_intake_files(id, &blob, &sealed.wrapped_key)
        .await?;
    Ok(())
}

/// The files kept from the try before, taken off the form (none when there are none).
async fn earlier_files(
    s: &WebState,
    id: &str,
    lang: Lang,
) -> Result<Vec<mails::ReplyFile>, WebError> {
    let Some((blob, key)) = s.store.take_intake_files(id).await? else {
        return Ok(Vec::new());
    };
    let ciphertext = s.store.read_blob(&blob).await?;
    let _ = s.store.blobs().remove(&blob).await;
    let plain = s
        .master_key
        .open(&format!("intake-files:{id}"), &key, &ciphertext)
        .map_err(|e| WebError::internal(lang, format!("kept files of {id}: {e}")))?;
    crate::uploads::unpack(&plain)
        .ok_or_else(|| WebError::internal(lang, format!("kept files of {id} do not read")))
}

/// The write step's fields read and checked: what was typed, and why it cannot go yet.
fn checked(s: &WebState, up: &crate::uploads::Upload, lang: Lang) -> Kept {
    let mut kept = Kept {
        name: up.field("name").chars().take(100).collect(),
        phone: up.field("phone").trim().chars().take(30).collect(),
        text: up.field("text").to_string(),
        ..Kept::default()
    };
    if !kept.phone.is_empty() && !plausible_phone(&kept.phone) {
        kept.phone_error = lang
            .t(
                "Dat lijkt geen telefoonnummer. Laat het veld leeg als u niet gebeld wilt worden.",
                "That does not look like a phone number. Leave it empty if you do not want a call.",
            )
            .into();
    }
    if !up.refused.is_empty() {
        kept.files_error = lang.pick(
            format!(
                "Deze bestanden kunnen niet mee: {}. Dat kan wel: {}. Uw tekst en de andere bestanden staan er nog.",
                up.refused.join(", "),
                types_in_words(&s.settings.intake_types, lang)
            ),
            format!(
                "These files cannot be sent: {}. These can: {}. Your text and the other files are still here.",
                up.refused.join(", "),
                types_in_words(&s.settings.intake_types, lang)
            ),
        );
    } else if kept.text.trim().is_empty() && up.files.is_empty() {
        kept.text_error = lang
            .t(
                "Schrijf een bericht of voeg een bestand toe.",
                "Write a message or add a file.",
            )
            .into();
    }
    kept
}

/// `GET /contact/{id}`: type the code, write, or the message was sent.
pub async fn form(
    State(s): State<WebState>,
    Path(id): Path<String>,
    Query(q): Query<Notice>,
    PageLang(lang): PageLang,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    mailbox(&s, lang)?;
    let i = intake(&s, &id, lang).await?;
    let login = Login::from_json(&i.login);
    let (step, csrf) = if i.submitted_at.is_some() {
        ("sent", String::new())
    } else if has_session(&s, &headers, &i) {
        ("write", i.csrf.clone().unwrap_or_default())
    } else if login.is_none_or(|l| matches!(l.state, LoginState::Locked { .. })) {
        ("locked", String::new())
    } else {
        ("code", form_csrf(&s, &headers).0)
    };
    let mut p = page(&s, lang, step, &id, csrf);
    p.email = i.email.clone();
    p.notice = match q.m.as_str() {
        "wrong" => {
            let left = lang.count(q.n, ("poging", "pogingen"), ("try", "tries"));
            lang.pick(
                format!("Die code klopt niet. Nog {left}."),
                format!("That code is not right. {left} left."),
            )
        }
        "expired" => lang
            .t(
                "Die code is verlopen. Begin opnieuw.",
                "That code has expired. Start again.",
            )
            .into(),
        _ => String::new(),
    };
    let status = if step == "locked" {
        StatusCode::FORBIDDEN
    } else {
        StatusCode::OK
    };
    let (_, set) = form_csrf(&s, &headers);
    Ok(with_cookie(render_page(&p, status), set))
}

#[derive(Debug, Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    csrf: String,
    code: String,
}

/// A contact form's login, for the shared load-step-save loop.
struct IntakeLogin<'a> {
    s: &'a WebState,
    id: &'a str,
    lang: Lang,
}

impl LoginSlot for IntakeLogin<'_> {
    type Record = Intake;

    async fn load(&self) -> Result<Option<(Intake, Login)>, WebError> {
        let i = intake(self.s, self.id, self.lang).await?;
        Ok(Login::from_json(&i.login).map(|login| (i, login)))
    }

    async fn save(&self, i: &Intake, login: &Login) -> Result<bool, WebError> {
        Ok(self
            .s
            .store
            .save_intake_login(self.id, &login.to_json(), i.login_version)
            .await?)
    }
}

/// `POST /contact/{id}/code`.
pub async fn code(
    State(s): State<WebState>,
    Path(id): Path<String>,
    PageLang(lang): PageLang,
    ip: ClientIp,
    headers: HeaderMap,
    Form(f): Form<CodeForm>,
) -> Result<Response, WebError> {
    mailbox(&s, lang)?;
    check_form_csrf(&s, &headers, &f.csrf, lang)?;
    crate::limits::limit_ip(&s, &ip, lang).await?;
    let code: String = f.code.chars().take(32).collect();
    let slot = IntakeLogin {
        s: &s,
        id: &id,
        lang,
    };
    let done = login_loop::advance(&slot, lang, s.store.now(), |_| {
        Some(Event::Submit {
            code: code.clone(),
            totp_valid: false,
        })
    })
    .await?;
    let Advanced::Stepped(i, login, step) = done else {
        return Ok(see_other(&format!("/contact/{id}")));
    };
    effects(&s, &i, &step.effects, &ip).await?;
    if matches!(login.state, LoginState::Verified { .. }) {
        let (token, _) = s.store.verify_intake(&id).await?;
        let mut r = see_other(&format!("/contact/{id}"));
        r.headers_mut().append(
            header::SET_COOKIE,
            set_cookie(&s.settings, INTAKE_COOKIE, &token, None),
        );
        return Ok(r);
    }
    Ok(match step.result {
        Err(Refusal::WrongCode { left }) => see_other(&format!("/contact/{id}?m=wrong&n={left}")),
        Err(Refusal::CodeExpired) => see_other(&format!("/contact/{id}?m=expired")),
        _ => see_other(&format!("/contact/{id}")),
    })
}

/// `POST /contact/{id}/send` (multipart: csrf, name, text, files).
pub async fn send(
    State(s): State<WebState>,
    Path(id): Path<String>,
    PageLang(lang): PageLang,
    ip: ClientIp,
    headers: HeaderMap,
    form: Multipart,
) -> Result<Response, WebError> {
    let mailbox = mailbox(&s, lang)?;
    let i = intake(&s, &id, lang).await?;
    if !has_session(&s, &headers, &i) || i.submitted_at.is_some() {
        return Err(WebError::new(
            StatusCode::UNAUTHORIZED,
            ErrorKind::SessionEnded,
            lang,
        ));
    }
    let mut up = read_upload_keeping(
        form,
        s.settings.max_reply_size,
        Some(&s.settings.intake_types),
        s.settings.clamd.as_deref(),
        lang,
    )
    .await?;
    let csrf = i.csrf.clone().unwrap_or_default();
    if !same_secret(&csrf, up.field("csrf")) {
        return Err(WebError::new(StatusCode::FORBIDDEN, ErrorKind::Csrf, lang));
    }
    // Files kept from a try that was sent back, when the patient keeps them.
    let earlier = earlier_files(&s, &id, lang).await?;
    let earlier = if up.field("keep_files") == "1" {
        earlier
    } else {
        Vec::new()
    };
    let size: usize = earlier.iter().chain(&up.files).map(|f| f.bytes.len()).sum();
    if size > s.settings.max_reply_size {
        return Err(WebError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorKind::BadInput,
            lang,
        ));
    }
    let scanned_earlier = earlier.len();
    up.files.splice(0..0, earlier);
    let kept = checked(&s, &up, lang);
    if !(kept.phone_error.is_empty() && kept.files_error.is_empty() && kept.text_error.is_empty()) {
        let status = if up.refused.is_empty() {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::UNSUPPORTED_MEDIA_TYPE
        };
        keep_files(&s, &id, &up.files, lang).await?;
        let mut p = page(&s, lang, "write", &id, csrf);
        p.email = i.email.clone();
        p.kept = kept;
        p.kept_files = up.files.iter().map(|f| f.name.clone()).collect();
        return Ok(render_page(&p, status));
    }
    // Kept files were not checked for viruses when they came (the try was refused).
    crate::uploads::scan(
        &up.files[..scanned_earlier],
        s.settings.clamd.as_deref(),
        lang,
    )
    .await?;
    let from = mails::From {
        organisation: &s.organisation,
        address: &s.settings.notify_from,
    };
    let written = mails::Written {
        name: &kept.name,
        phone: &kept.phone,
        reference: &reference(&id),
        text: &kept.text,
    };
    let raw = mails::intake(&from, &i.email, &mailbox, &written, up.files)
        .map_err(|e| WebError::internal(lang, e))?;
    let envelope = Envelope {
        origin: Origin::Intake,
        mail_from: i.email.clone(),
        rcpt_to: vec![mailbox],
        auth_user: None,
        client_ip: Some(ip.0.clone()),
        intent: None,
    };
    let message_id = s
        .mailer
        .submit(envelope, raw)
        .await
        .map_err(|e| WebError::internal(lang, e))?;
    s.store.intake_submitted(&id, &message_id).await?;
    audit(&s, &i, "intake.sent", &ip, "ok").await?;
    let mut r = see_other(&format!("/contact/{id}"));
    r.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(&s.settings, INTAKE_COOKIE, "", Some(0)),
    );
    Ok(r)
}
