//! Staff pages once signed in: the home page with held and sent secure messages (revoke,
//! send or cancel a held one) and the compose page. Signing in is in `signin/`.

use askama::Template;
use axum::Form;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use veilpost_store::{Envelope, Origin};

use crate::{ClientIp, ErrorKind, Lang, WebError, WebState, render, see_other, when};

use veilpost_policy::Intent;

use crate::signin::{CsrfOnly, Staff};

/// One sent secure message as the home page lists it.
pub struct SentRow {
    pub id: String,
    pub recipient: String,
    /// The subject (sealed apart from the content; empty once shredded).
    pub subject: String,
    pub steps: Vec<crate::status::Milestone>,
    pub sent: String,
    pub status: &'static str,
    pub revocable: bool,
    /// The recipient typed too many wrong codes: the sender may unlock after checking
    /// with them.
    pub locked: bool,
    /// The recipient answered (the answer is among the messages to me).
    pub replied: bool,
}

/// A secure message to the signed-in staff member (a reply from outside, a contact-form
/// message), readable here without a second portal login.
pub struct ReceivedRow {
    pub id: String,
    pub sender: String,
    pub subject: String,
    pub received: String,
    pub unread: bool,
    pub readable: bool,
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
    received: Vec<ReceivedRow>,
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
pub(crate) fn status_word(e: &veilpost_store::PortalEntry, now: i64, lang: Lang) -> &'static str {
    crate::labels::portal_state(lang, crate::status::status_word(e, now))
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
    let now = s.store.now();
    let subject = |e: &veilpost_store::PortalEntry| {
        s.master_key
            .open_subject(&e.id, e.subject_key.as_deref(), e.subject_sealed.as_deref())
            .unwrap_or_default()
    };
    let received = s
        .store
        .received_by(&staff.user.email, 100)
        .await?
        .into_iter()
        .map(|e| ReceivedRow {
            subject: subject(&e),
            received: when(e.created_at, true),
            unread: e.opened_at.is_none(),
            readable: e.readable(now),
            sender: e.sender,
            id: e.id,
        })
        .collect();
    let sent = s
        .store
        .sent_by(&staff.user.email, 200)
        .await?
        .into_iter()
        .map(|e| {
            let revocable = e.readable(now);
            let locked = revocable && crate::status::is_locked(&e);
            SentRow {
                status: if locked {
                    lang.t(
                        "geblokkeerd na te veel foute codes",
                        "locked after too many wrong codes",
                    )
                } else {
                    status_word(&e, now, lang)
                },
                locked,
                revocable,
                sent: when(e.created_at, true),
                subject: subject(&e),
                steps: crate::status::timeline(&e, now),
                replied: e.replied_at.is_some(),
                recipient: e.recipient,
                id: e.id,
            }
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
                .map(|r| r.describe(lang))
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
        (true, "unlocked") => lang
            .t(
                "Gedeblokkeerd: de ontvanger kan het opnieuw proberen.",
                "Unlocked: the recipient can try again.",
            )
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
        received,
        held,
        notice,
    };
    Ok(render(&page, StatusCode::OK))
}

#[derive(Template)]
#[template(path = "staff_read.html")]
struct ReadPage<'a> {
    lang: Lang,
    organisation: &'a str,
    staff: &'a Staff,
    view: crate::render::View,
    /// Not shown for a message to staff (see `mail_view.html`).
    expires: String,
    files_at: String,
}

/// A readable secure message addressed to the signed-in staff member, decrypted.
async fn own_received(
    s: &WebState,
    staff: &Staff,
    id: &str,
) -> Result<(veilpost_store::PortalEntry, Vec<u8>), WebError> {
    let lang = staff.lang;
    let e = s
        .store
        .portal_by_id(id)
        .await?
        .filter(|e| e.recipient.eq_ignore_ascii_case(&staff.user.email))
        .ok_or_else(|| WebError::new(StatusCode::NOT_FOUND, ErrorKind::NotFound, lang))?;
    if !e.readable(s.store.now()) {
        return Err(WebError::new(StatusCode::GONE, ErrorKind::NotFound, lang));
    }
    let ciphertext = s.store.read_blob(&e.blob).await?;
    let plain = crate::pages::decrypt(s, &e, &ciphertext, lang)?;
    Ok((e, plain))
}

/// `GET /staff/received/{id}`: a reply from outside (or a contact-form message) read by
/// the staff member it is for, signed in with two factors already: no portal login again.
/// Audited as any portal view.
pub async fn read_received(
    State(s): State<WebState>,
    staff: Staff,
    ip: ClientIp,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let (e, plain) = own_received(&s, &staff, &id).await?;
    let actor = staff.user.email.clone();
    crate::pages::audit(
        &s,
        &e,
        &actor,
        "message.viewed",
        &ip,
        "ok",
        Some("staff page".into()),
    )
    .await?;
    if e.opened_at.is_none() {
        s.store
            .portal_milestone(&e.id, veilpost_store::Milestone::Opened)
            .await?;
    }
    let page = ReadPage {
        lang: staff.lang,
        organisation: &s.organisation,
        staff: &staff,
        view: crate::render::view(&plain),
        expires: String::new(),
        files_at: format!("/staff/received/{}/attachment/", e.id),
    };
    Ok(render(&page, StatusCode::OK))
}

/// `GET /staff/received/{id}/attachment/{n}`.
pub async fn received_attachment(
    State(s): State<WebState>,
    staff: Staff,
    ip: ClientIp,
    Path((id, n)): Path<(String, usize)>,
) -> Result<Response, WebError> {
    let (e, plain) = own_received(&s, &staff, &id).await?;
    let Some((name, bytes)) = crate::render::attachment(&plain, n) else {
        return Err(WebError::new(
            StatusCode::NOT_FOUND,
            ErrorKind::NotFound,
            staff.lang,
        ));
    };
    let detail = format!("attachment {} ({} bytes), staff page", n + 1, bytes.len());
    let actor = staff.user.email.clone();
    crate::pages::audit(
        &s,
        &e,
        &actor,
        "attachment.downloaded",
        &ip,
        "ok",
        Some(detail),
    )
    .await?;
    if e.downloaded_at.is_none() {
        s.store
            .portal_milestone(&e.id, veilpost_store::Milestone::Downloaded)
            .await?;
    }
    Ok(crate::pages::download(
        &name,
        "application/octet-stream",
        bytes,
    ))
}

/// One of the signed-in sender's own secure messages; someone else's is 404.
async fn own_sent(
    s: &WebState,
    staff: &Staff,
    id: &str,
) -> Result<veilpost_store::PortalEntry, WebError> {
    s.store
        .portal_by_id(id)
        .await?
        .filter(|e| e.sender.eq_ignore_ascii_case(&staff.user.email))
        .ok_or_else(|| WebError::new(StatusCode::NOT_FOUND, ErrorKind::NotFound, staff.lang))
}

/// Audit what the sender did to one of their secure messages.
async fn audit_sent(
    s: &WebState,
    staff: &Staff,
    action: &str,
    entry: &veilpost_store::PortalEntry,
    ip: &ClientIp,
) -> Result<(), WebError> {
    staff
        .audit(
            s,
            action,
            Some(&format!("message {} / {}", entry.message_id, entry.id)),
            Some(format!("recipient {}", entry.recipient)),
            ip,
        )
        .await
}

/// `POST /staff/sent/{id}/revoke`: only the sender's own messages.
pub async fn revoke(
    State(s): State<WebState>,
    staff: Staff,
    ip: ClientIp,
    Path(id): Path<String>,
    Form(f): Form<crate::confirm::ConfirmForm>,
) -> Result<Response, WebError> {
    staff.check_csrf(&f.csrf)?;
    staff.require(staff.can_send())?;
    let entry = own_sent(&s, &staff, &id).await?;
    if !f.confirmed() {
        return Ok(crate::confirm::ask_before_revoking(
            staff.lang,
            &s.organisation,
            &entry.recipient,
            (&format!("/staff/sent/{id}/revoke"), "/staff"),
            &f.csrf,
        ));
    }
    if s.store.shred(&entry.id, "revoked").await? {
        audit_sent(&s, &staff, "message.revoked", &entry, &ip).await?;
    }
    Ok(see_other("/staff?done=revoked"))
}

/// `POST /staff/sent/{id}/unlock`: the sender, having checked with the recipient (by
/// phone), lets them try again; only their own messages.
pub async fn unlock(
    State(s): State<WebState>,
    staff: Staff,
    ip: ClientIp,
    Path(id): Path<String>,
    Form(f): Form<CsrfOnly>,
) -> Result<Response, WebError> {
    staff.check_csrf(&f.csrf)?;
    staff.require(staff.can_send())?;
    let entry = own_sent(&s, &staff, &id).await?;
    s.store.reset_login(&entry.id).await?;
    audit_sent(&s, &staff, "login.unlocked", &entry, &ip).await?;
    Ok(see_other("/staff?done=unlocked"))
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
    /// Shown in the recipient's notification (never the subject).
    reference: String,
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
        reference: String::new(),
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

/// What the compose form asks for, as data: the secure route, where the SMS codes go
/// and the reference for the notification; or why the form cannot be sent (Dutch,
/// English).
async fn compose_intent(
    s: &WebState,
    page: &ComposePage<'_>,
    to: &[String],
) -> Result<Result<Intent, (&'static str, &'static str)>, WebError> {
    if page.reference.chars().count() > 100 || page.reference.contains(char::is_control) {
        return Ok(Err((
            "Houd het kenmerk op één regel van hoogstens 100 tekens.",
            "Keep the reference to one line of at most 100 characters.",
        )));
    }
    // The secure route, where the SMS codes go and the reference travel as data.
    let mut intent = match page.verify.as_str() {
        "sms" if !page.phone.is_empty() => {
            let Some(number) = veilpost_text::phone::normalize(&page.phone) else {
                return Ok(Err((
                    "Dat is geen mobiel nummer. Gebruik bijvoorbeeld 06 12345678 of +31612345678.",
                    "That is not a mobile number. Use 06 12345678 or +31612345678, for example.",
                )));
            };
            if to.len() > 1 {
                return Ok(Err((
                    "Eén mobiel nummer past bij één ontvanger. Verstuur per ontvanger, of laat het nummer leeg als de nummers in het adresboek staan.",
                    "One mobile number fits one recipient. Send per recipient, or leave the number empty when the numbers are in the address book.",
                )));
            }
            Intent {
                secure: true,
                sms: Some(number),
                ..Intent::default()
            }
        }
        "sms" => {
            for a in to {
                if s.store.contact_phone(a).await?.is_none() {
                    return Ok(Err((
                        "Van niet alle ontvangers staat een mobiel nummer in het adresboek. Vul het nummer in, of kies de toegangscode.",
                        "Not every recipient has a mobile number in the address book. Enter the number, or choose the access code.",
                    )));
                }
            }
            Intent {
                secure: true,
                ..Intent::default()
            }
        }
        "access_code" => Intent {
            secure: true,
            ..Intent::default()
        },
        _ => {
            return Ok(Err((
                "Kies hoe de ontvanger zich bevestigt.",
                "Choose how the recipient verifies.",
            )));
        }
    };
    intent.reference = Some(page.reference.clone()).filter(|r| !r.is_empty());
    Ok(Ok(intent))
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
    page.reference = up.field("reference").trim().to_string();
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
    let intent = match compose_intent(&s, &page, &to).await? {
        Ok(intent) => intent,
        Err((nl, en)) => return refuse(page, nl, en),
    };
    let files = std::mem::take(&mut up.files);
    let attached = files.len();
    let name = staff.user.name.clone().unwrap_or_default();
    let raw = crate::mails::composed((&name, &page.from), &to, &page.subject, &page.body, files)
        .map_err(|e| WebError::internal(lang, e))?;
    let envelope = Envelope {
        origin: Origin::Submission,
        mail_from: page.from.clone(),
        rcpt_to: to.clone(),
        auth_user: Some(staff.user.email.clone()),
        client_ip: Some(ip.0.clone()),
        intent: Some(serde_json::to_string(&intent).map_err(|e| WebError::internal(lang, e))?),
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
