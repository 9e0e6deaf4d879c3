//! The sender's side, reached from the signed link in the confirmation mail (staff login
//! comes later): what happened to the message per recipient, revoke, unlock a locked
//! login. And the development outbox: captured mail and texts on one page.

use askama::Template;
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use veilpost_portal::login::{Login, State as LoginState};
use veilpost_store::PortalEntry;

use crate::pages::CsrfForm;
use crate::{
    ClientIp, ErrorKind, Lang, OnThisMachine, PageLang, WebError, WebState, check_form_csrf,
    form_csrf, render as render_page, see_other, when, with_cookie,
};

async fn by_status(s: &WebState, token: &str, lang: Lang) -> Result<PortalEntry, WebError> {
    s.store
        .portal_by_status_token(token)
        .await?
        .ok_or_else(|| WebError::new(StatusCode::NOT_FOUND, ErrorKind::NotFound, lang))
}

/// Audit what the holder of the status link (the sender) did.
async fn audit_sender(
    s: &WebState,
    e: &PortalEntry,
    action: &str,
    ip: &ClientIp,
    outcome: &str,
) -> Result<(), WebError> {
    let detail = Some(format!("recipient {}", e.recipient));
    crate::pages::audit(s, e, &e.sender, action, ip, outcome, detail).await
}

/// One line of the status timeline.
#[derive(Debug, Clone)]
pub struct Milestone {
    pub what: &'static str,
    pub at: String,
}

impl Milestone {
    /// The step in words.
    pub fn label(&self, lang: Lang) -> &'static str {
        crate::labels::portal_step(lang, self.what)
    }
}

/// What happened to a portal message, in order.
pub fn timeline(e: &PortalEntry, t: i64) -> Vec<Milestone> {
    let mut steps = vec![Milestone {
        what: "notified",
        at: when(e.created_at, true),
    }];
    for (what, at) in [
        ("opened", e.opened_at),
        ("downloaded", e.downloaded_at),
        ("replied", e.replied_at),
        ("revoked", e.revoked_at),
    ] {
        if let Some(at) = at {
            steps.push(Milestone {
                what,
                at: when(at, true),
            });
        }
    }
    if e.revoked_at.is_none() && e.expires_at <= t {
        steps.push(Milestone {
            what: "expired",
            at: when(e.expires_at, true),
        });
    }
    steps
}

#[derive(Template)]
#[template(path = "status.html")]
struct StatusPage<'a> {
    lang: Lang,
    organisation: &'a str,
    token: &'a str,
    csrf: String,
    recipient: String,
    /// `notified`, `opened`, `downloaded`, `replied`, `expired`, `revoked`.
    state: &'static str,
    steps: Vec<Milestone>,
    expires: String,
    locked: bool,
    can_revoke: bool,
}

/// The status word, the furthest the message got.
pub fn status_word(e: &PortalEntry, t: i64) -> &'static str {
    if e.revoked_at.is_some() {
        "revoked"
    } else if e.shredded_at.is_some() || e.expires_at <= t {
        "expired"
    } else if e.replied_at.is_some() {
        "replied"
    } else if e.downloaded_at.is_some() {
        "downloaded"
    } else if e.opened_at.is_some() {
        "opened"
    } else {
        "notified"
    }
}

/// `GET /s/{token}`.
pub async fn page(
    State(s): State<WebState>,
    Path(token): Path<String>,
    PageLang(lang): PageLang,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let e = by_status(&s, &token, lang).await?;
    let t = s.store.now();
    let steps = timeline(&e, t);
    let locked = is_locked(&e);
    let (csrf, set) = form_csrf(&s, &headers);
    let page = StatusPage {
        lang,
        organisation: &s.organisation,
        token: &token,
        csrf,
        recipient: e.recipient.clone(),
        state: status_word(&e, t),
        steps,
        expires: veilpost_text::dates::long_date(e.expires_at, lang),
        locked: locked && e.readable(t),
        can_revoke: e.readable(t),
    };
    Ok(with_cookie(render_page(&page, StatusCode::OK), set))
}

/// `POST /s/{token}/revoke`: the content is destroyed at once.
pub async fn revoke(
    State(s): State<WebState>,
    Path(token): Path<String>,
    PageLang(lang): PageLang,
    ip: ClientIp,
    headers: HeaderMap,
    Form(f): Form<crate::confirm::ConfirmForm>,
) -> Result<Response, WebError> {
    check_form_csrf(&s, &headers, &f.csrf, lang)?;
    let e = by_status(&s, &token, lang).await?;
    if !f.confirmed() {
        return Ok(crate::confirm::ask_before_revoking(
            lang,
            &s.organisation,
            &e.recipient,
            (&format!("/s/{token}/revoke"), &format!("/s/{token}")),
            &f.csrf,
        ));
    }
    let done = s.store.shred(&e.id, "revoked").await?;
    audit_sender(
        &s,
        &e,
        "message.revoked",
        &ip,
        if done { "ok" } else { "already" },
    )
    .await?;
    Ok(see_other(&format!("/s/{token}")))
}

/// The recipient's login is locked after too many wrong codes (a stored login that does
/// not parse counts as locked).
pub(crate) fn is_locked(e: &PortalEntry) -> bool {
    e.login
        .as_deref()
        .map(|l| Login::from_json(l).is_none_or(|l| matches!(l.state, LoginState::Locked { .. })))
        .unwrap_or(false)
}

/// `POST /s/{token}/unlock`: after checking with the recipient by phone.
pub async fn unlock(
    State(s): State<WebState>,
    Path(token): Path<String>,
    PageLang(lang): PageLang,
    ip: ClientIp,
    headers: HeaderMap,
    Form(f): Form<CsrfForm>,
) -> Result<Response, WebError> {
    check_form_csrf(&s, &headers, f.csrf(), lang)?;
    let e = by_status(&s, &token, lang).await?;
    s.store.reset_login(&e.id).await?;
    audit_sender(&s, &e, "login.unlocked", &ip, "ok").await?;
    Ok(see_other(&format!("/s/{token}")))
}

/// One captured mail on the outbox page.
#[derive(Debug, Clone)]
pub struct OutboxMail {
    pub name: String,
    pub to: String,
    pub subject: String,
    pub at: String,
}

#[derive(Template)]
#[template(path = "outbox.html")]
struct OutboxPage<'a> {
    lang: Lang,
    organisation: &'a str,
    mails: Vec<OutboxMail>,
    texts: Vec<crate::sms::OutboxSms>,
}

/// The outbox directory, for a client on this machine only: the page shows codes and
/// links, so it never answers over the network, even when `web.listen` is public.
fn outbox_dir(
    s: &WebState,
    here: OnThisMachine,
    lang: Lang,
) -> Result<std::path::PathBuf, WebError> {
    s.settings
        .outbox
        .clone()
        .filter(|_| here.0)
        .ok_or_else(|| WebError::new(StatusCode::NOT_FOUND, ErrorKind::NotFound, lang))
}

/// `GET /outbox` (delivery.mode = "outbox" only): what would have left this machine.
pub async fn outbox(
    State(s): State<WebState>,
    PageLang(lang): PageLang,
    here: OnThisMachine,
) -> Result<Response, WebError> {
    let dir = outbox_dir(&s, here, lang)?;
    let sms = s.settings.sms_outbox.clone();
    let (mails, texts) = tokio::task::spawn_blocking(move || {
        let mut found: Vec<(std::time::SystemTime, std::path::PathBuf)> = std::fs::read_dir(&dir)
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "eml"))
                    .filter(|p| {
                        !p.file_name()
                            .is_some_and(|n| n.to_string_lossy().starts_with('.'))
                    })
                    .filter_map(|p| Some((p.metadata().ok()?.modified().ok()?, p)))
                    .collect()
            })
            .unwrap_or_default();
        found.sort_by_key(|f| std::cmp::Reverse(f.0));
        found.truncate(200);
        let mails = found
            .into_iter()
            .map(|(modified, p)| {
                let head = read_head(&p);
                let parsed = mail_parser::MessageParser::default().parse_headers(&head);
                OutboxMail {
                    name: p
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                    to: parsed
                        .as_ref()
                        .and_then(|m| m.to())
                        .and_then(|a| a.first())
                        .and_then(|a| a.address())
                        .unwrap_or("")
                        .to_string(),
                    subject: parsed
                        .as_ref()
                        .and_then(|m| m.subject())
                        .unwrap_or("")
                        .to_string(),
                    at: modified
                        .duration_since(std::time::UNIX_EPOCH)
                        .map(|d| when(d.as_secs() as i64, true))
                        .unwrap_or_default(),
                }
            })
            .collect::<Vec<_>>();
        let texts = sms
            .map(|p| crate::sms::read_outbox(&p, 200))
            .unwrap_or_default();
        (mails, texts)
    })
    .await
    .map_err(|err| WebError::internal(lang, err))?;
    Ok(render_page(
        &OutboxPage {
            lang,
            organisation: &s.organisation,
            mails,
            texts,
        },
        StatusCode::OK,
    ))
}

/// The first 64 KiB of a file (enough for the headers).
fn read_head(p: &std::path::Path) -> Vec<u8> {
    use std::io::Read;
    let mut buf = Vec::new();
    if let Ok(f) = std::fs::File::open(p) {
        let _ = f.take(64 * 1024).read_to_end(&mut buf);
    }
    buf
}

#[derive(Template)]
#[template(path = "outbox_mail.html")]
struct OutboxMailPage<'a> {
    lang: Lang,
    organisation: &'a str,
    name: String,
    view: crate::render::View,
    /// The text body with its links made clickable (escaped first).
    text_html: String,
}

/// `GET /outbox/mail/{name}`: one captured mail, its links clickable.
pub async fn outbox_mail(
    State(s): State<WebState>,
    Path(name): Path<String>,
    PageLang(lang): PageLang,
    here: OnThisMachine,
) -> Result<Response, WebError> {
    let dir = outbox_dir(&s, here, lang)?;
    let ok_name = name.ends_with(".eml")
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    if !ok_name {
        return Err(WebError::new(
            StatusCode::NOT_FOUND,
            ErrorKind::NotFound,
            lang,
        ));
    }
    let raw = tokio::fs::read(dir.join(&name))
        .await
        .map_err(|_| WebError::new(StatusCode::NOT_FOUND, ErrorKind::NotFound, lang))?;
    let view = crate::render::view(&raw);
    let text_html = linkify(&view.text);
    Ok(render_page(
        &OutboxMailPage {
            lang,
            organisation: &s.organisation,
            name,
            view,
            text_html,
        },
        StatusCode::OK,
    ))
}

/// Escape text and turn http(s) URLs into links.
pub fn linkify(text: &str) -> String {
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let mut out = String::new();
    for (i, line) in text.lines().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let words: Vec<String> = line
            .split(' ')
            .map(|w| {
                if (w.starts_with("https://") || w.starts_with("http://"))
                    && w.bytes().all(|b| b.is_ascii_graphic())
                {
                    let e = esc(w);
                    format!("<a href=\"{e}\">{e}</a>")
                } else {
                    esc(w)
                }
            })
            .collect();
        out.push_str(&words.join(" "));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_become_clickable_and_nothing_else() {
        let html = linkify("Open: https://x.test/p/abc\n<script>x</script> \"q\"");
        assert!(html.contains("<a href=\"https://x.test/p/abc\">"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
        assert!(!linkify("https://x.test/\"onmouseover=").contains("\"onmouseover"));
    }
}

#[derive(Template)]
#[template(path = "hold.html")]
struct HoldPage<'a> {
    lang: Lang,
    organisation: &'a str,
    token: &'a str,
    csrf: String,
    reasons: Vec<String>,
    /// `held`, `sent` or `cancelled`.
    state: &'a str,
}

async fn held(s: &WebState, token: &str, lang: Lang) -> Result<veilpost_store::Held, WebError> {
    s.store
        .held_by_token(token)
        .await?
        .ok_or_else(|| WebError::new(StatusCode::NOT_FOUND, ErrorKind::NotFound, lang))
}

/// `GET /h/{token}`: why the message waits, and send or cancel.
pub async fn hold_page(
    State(s): State<WebState>,
    Path(token): Path<String>,
    PageLang(lang): PageLang,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let h = held(&s, &token, lang).await?;
    let holds: Vec<veilpost_policy::doublecheck::Hold> = h
        .held_reasons
        .as_deref()
        .and_then(|r| serde_json::from_str(r).ok())
        .unwrap_or_default();
    // The stored state (the `?done=` of the redirect is only for the browser's history):
    // a cancelled message says so when the link is opened again later.
    let state = match (h.state, h.cancelled) {
        (veilpost_store::MessageState::Held, _) => "held",
        (_, true) => "cancelled",
        _ => "sent",
    };
    let (csrf, set) = form_csrf(&s, &headers);
    let page = HoldPage {
        lang,
        organisation: &s.organisation,
        token: &token,
        csrf,
        reasons: holds.iter().map(|x| x.describe(lang)).collect(),
        state,
    };
    Ok(with_cookie(render_page(&page, StatusCode::OK), set))
}

async fn hold_decision(
    s: &WebState,
    token: &str,
    lang: Lang,
    ip: &ClientIp,
    headers: &HeaderMap,
    csrf: &str,
    send: bool,
) -> Result<Response, WebError> {
    check_form_csrf(s, headers, csrf, lang)?;
    let h = held(s, token, lang).await?;
    let done = if send {
        s.store.release_held(&h.id).await?
    } else {
        s.store.cancel_held(&h.id).await?
    };
    let event = veilpost_store::AuditEvent {
        actor: h.mail_from.clone(),
        action: if send {
            "doublecheck.confirmed"
        } else {
            "doublecheck.cancelled"
        }
        .into(),
        subject: Some(format!("message {}", h.id)),
        detail: h.held_reasons.clone(),
        ip: Some(ip.0.clone()),
        outcome: Some(if done { "ok" } else { "already decided" }.into()),
    };
    if let Err(e) = s.store.audit_event(event).await {
        tracing::error!("audit of a hold decision: {e}");
    }
    Ok(see_other(&format!(
        "/h/{token}?done={}",
        if send { "sent" } else { "cancelled" }
    )))
}

/// `POST /h/{token}/send`.
pub async fn hold_send(
    State(s): State<WebState>,
    Path(token): Path<String>,
    PageLang(lang): PageLang,
    ip: ClientIp,
    headers: HeaderMap,
    Form(f): Form<CsrfForm>,
) -> Result<Response, WebError> {
    hold_decision(&s, &token, lang, &ip, &headers, f.csrf(), true).await
}

/// `POST /h/{token}/cancel`.
pub async fn hold_cancel(
    State(s): State<WebState>,
    Path(token): Path<String>,
    PageLang(lang): PageLang,
    ip: ClientIp,
    headers: HeaderMap,
    Form(f): Form<CsrfForm>,
) -> Result<Response, WebError> {
    hold_decision(&s, &token, lang, &ip, &headers, f.csrf(), false).await
}
